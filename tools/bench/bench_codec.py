#!/usr/bin/env python3
"""Benchmark SpeechTokenizer inference: sptok's SpeechTokenizer vs the official package.

Both load the SAME weights from one official-format release written to a temporary directory
(``config.json`` + ``SpeechTokenizer.pt``): a model of the official default config (paper size:
64 -> 1024 channels, 2-layer BiLSTM, 8 x 1024 codes) with random weights, random weight-norm
magnitudes, and codebooks filled with latent vectors of calibration audio (level by level, from
the residual the levels before leave), so that the codes vary the way a trained model's do.
Both code the SAME synthetic audio (harmonic tones + noise under a syllable-rate envelope):

* ``batch``: the utterances as one padded batch. Ours takes the lengths (CPU default
  ``batch_mode="auto"`` = one forward per utterance); the official package codes the padded
  tensor (it has no lengths). ``ours_padded`` is our model's length-aware padded forward
  (``batch_mode="padded"``), shown for reference.
* ``single``: one utterance at a time, for both.

Throughput is seconds of (unpadded) audio coded per second of wall time; the real-time factor
(RTF) its inverse. Every (implementation, operation, workload, threads) measurement runs in a
fresh subprocess: load the model, one warm-up run (its memory is measured), one timed run (wall
and CPU time). Rounds are interleaved (round 1 of every configuration, then round 2 ...) and the
table keeps each configuration's fastest round. On a shared machine, wall time depends on what
else runs; CPU time (user + system of all the process's threads) much less, so the ratios are
given for both; with one thread, CPU time is the wall time the work takes on an idle core.

Peak memory (sptok.utils.memory): in one more subprocess per configuration, the resident set
size (RSS, /proc/self/statm) sampled every millisecond by a thread during one run, minus the RSS
just before it. That process runs with MALLOC_MMAP_THRESHOLD_=65536, so glibc maps every block of
64 KiB or more on its own and unmaps it when freed: the RSS then follows the live tensors instead
of the pages the allocator keeps (torch's CPU allocations are invisible to tracemalloc, and
ru_maxrss would be dominated by loading the weights). The RSS once the model is loaded is shown
too.

Codes identical: the official package's one-utterance-at-a-time codes with as many threads are
the reference (float reductions depend on the thread count, which can flip a near-tie code; the
official batch pads, which changes codes near each utterance's end: also counted). Decoding:
the largest absolute difference from the official one-by-one audio of the same codes.

Usage:
    tools/venv/bin/python tools/bench/bench_codec.py                       # 2 threads
    tools/venv/bin/python tools/bench/bench_codec.py --threads 1 2 --rounds 3
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List, Tuple

from sptok.utils.memory import RssSampler, release_free_memory, rss_bytes

# The official package's default (paper) configuration, as in its released config.json.
PAPER_CONFIG = dict(n_filters=64, dimension=1024, semantic_dimension=768, strides=[8, 5, 4, 2],
                    lstm_layers=2, bidirectional=True, dilation_base=2, residual_kernel_size=3,
                    n_residual_layers=1, activation="ELU", sample_rate=16000, n_q=8,
                    codebook_size=1024)
MINI_CONFIG = dict(PAPER_CONFIG, n_filters=16, dimension=128, semantic_dimension=128,
                   lstm_layers=1)
IMPLS = ("ours", "official", "ours_padded")
OPS = ("encode", "decode")
WORKLOADS = ("batch", "single")
MMAP_THRESHOLD = 65536  # memory runs: glibc maps (and unmaps) every block from 64 KiB on


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("paper", "mini"), default="paper",
                        help="paper: the official default config; mini: 16 filters, 128 dims")
    parser.add_argument("--seconds", type=float, nargs="+",
                        default=[2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0],
                        help="utterance durations")
    parser.add_argument("--threads", type=int, nargs="+", default=[2],
                        help="torch.set_num_threads values to measure")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs per configuration")
    parser.add_argument("--ops", nargs="+", choices=OPS, default=list(OPS))
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--impls", nargs="+", choices=IMPLS, default=list(IMPLS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=None,
                        help="keep the release, audio and results here (reused when it holds "
                             "them already); default: a temporary directory")
    parser.add_argument("--single", nargs=7,
                        metavar=("IMPL", "OP", "WORKLOAD", "THREADS", "WORKDIR", "RESULT",
                                 "MODE"),
                        help=argparse.SUPPRESS)  # internal: one measurement in a subprocess
    return parser.parse_args(argv)


# ------------------------------------------------------------------------------ official model
def official_class():
    """``speechtokenizer.model.SpeechTokenizer`` of the installed official package (loaded
    without its trainer's imports, see sptok.utils.official_package)."""
    from sptok.utils.official_package import official_speechtokenizer_class

    try:
        return official_speechtokenizer_class()
    except ImportError as e:
        sys.exit(f"bench_codec: {e}")


def synthetic_speech(seconds: float, seed: int, sample_rate: int = 16000):
    """Speech-like test audio: a gliding harmonic tone + noise, under a 4 Hz envelope."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = rng.uniform(90, 220) * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)), 0, None) ** 2
    wav = 0.1 * envelope * voiced + 0.01 * rng.standard_normal(t.shape)
    return wav.astype(np.float32)


def make_release(workdir: Path, config: Dict[str, Any], seed: int) -> None:
    """Random official model with calibrated codebooks, saved as config.json + .pt."""
    import torch

    cls = official_class()
    torch.manual_seed(seed)
    model = cls(config).eval()
    with torch.inference_mode():
        for name, parameter in model.named_parameters():
            if name.endswith("weight_g"):
                parameter.mul_(torch.rand_like(parameter) + 0.5)
        calibration = torch.stack([torch.from_numpy(synthetic_speech(2.0, seed + 100 + i))
                                   for i in range(4)])[:, None]
        latent = model.encoder(calibration)  # [B, D, T]
        residual = latent.transpose(1, 2).reshape(-1, latent.shape[1])
        generator = torch.Generator().manual_seed(seed)
        for layer in model.quantizer.vq.layers:
            codebook = layer._codebook
            size = codebook.embed.shape[0]
            picks = torch.randint(0, residual.shape[0], (size,), generator=generator)
            noise = torch.randn(size, residual.shape[1], generator=generator)
            embed = residual[picks] + 0.05 * residual.std() * noise
            codebook.embed.copy_(embed)
            codebook.embed_avg.copy_(embed)
            codebook.cluster_size.fill_(1.0)
            codebook.inited.fill_(1.0)
            distances = torch.cdist(residual, embed)
            residual = residual - embed[distances.argmin(dim=1)]
    release = workdir / "release"
    release.mkdir()
    (release / "config.json").write_text(json.dumps(config))
    torch.save(model.state_dict(), release / "SpeechTokenizer.pt")


# ------------------------------------------------------------------------------ measurement
def load_inputs(workdir: Path):
    import numpy as np
    import torch

    data = np.load(workdir / "audio.npz")
    wavs = [torch.from_numpy(data[f"utt{i}"]) for i in range(len(data.files))]
    lengths = torch.tensor([len(w) for w in wavs])
    padded = torch.zeros(len(wavs), int(lengths.max()))
    for i, wav in enumerate(wavs):
        padded[i, :len(wav)] = wav
    return wavs, padded, lengths


def runner(impl: str, op: str, workload: str, workdir: Path):
    """A zero-argument function doing the measured work; returns its outputs (CPU tensors)."""
    import torch

    wavs, padded, lengths = load_inputs(workdir)
    reference = torch.load(workdir / "reference_codes.pt")  # official one-by-one codes
    code_lengths = torch.tensor([c.shape[-1] for c in reference])
    padded_codes = torch.zeros(len(reference), reference[0].shape[0], int(code_lengths.max()),
                               dtype=torch.long)
    for i, codes in enumerate(reference):
        padded_codes[i, :, :codes.shape[-1]] = codes
    if impl == "official":
        model = official_class().load_from_checkpoint(
            str(workdir / "release" / "config.json"),
            str(workdir / "release" / "SpeechTokenizer.pt")).eval()

        def run():
            with torch.inference_mode():
                if op == "encode" and workload == "batch":
                    codes = model.encode(padded[:, None])  # [n_q, B, T]
                    return [codes[:, i, :c.shape[-1]] for i, c in enumerate(reference)]
                if op == "encode":
                    return [model.encode(w[None, None])[:, 0] for w in wavs]
                if workload == "batch":
                    audio = model.decode(padded_codes.transpose(0, 1))
                    return [audio[i, 0, :n * 320] for i, n in enumerate(code_lengths.tolist())]
                return [model.decode(c[:, None])[0, 0] for c in reference]
        return run

    from sptok import SpeechTokenizer

    tokenizer = SpeechTokenizer.from_pretrained(
        workdir / "release", batch_mode="padded" if impl == "ours_padded" else "auto")

    def run():
        if op == "encode" and workload == "batch":
            codes, frames = tokenizer.encode(padded, lengths)
            return [codes[i, :, :n] for i, n in enumerate(frames.tolist())]
        if op == "encode":
            return [tokenizer.encode(w)[0][0] for w in wavs]
        if workload == "batch":
            audio, samples = tokenizer.decode(padded_codes, code_lengths)
            return [audio[i, 0, :n] for i, n in enumerate(samples.tolist())]
        return [tokenizer.decode(c)[0][0, 0] for c in reference]
    return run


def measure(impl: str, op: str, workload: str, threads: int, workdir: Path,
            result_path: Path, mode: str) -> None:
    """One configuration in this fresh process.

    ``time``: a warm-up run, then one timed run (wall and CPU time); its outputs are saved.
    ``memory``: one run with the RSS sampled (run with MALLOC_MMAP_THRESHOLD_ set, see the
    module docstring); also the RSS once the model is loaded.
    """
    import torch

    torch.set_num_threads(threads)
    run = runner(impl, op, workload, workdir)
    release_free_memory()
    if mode == "memory":
        base = rss_bytes()
        with RssSampler() as sampler:
            run()
        result = {"peak_bytes": sampler.peak - base, "loaded_bytes": base}
    else:
        run()
        release_free_memory()
        start, start_cpu = time.perf_counter(), time.process_time()
        outputs = run()
        result = {"seconds": time.perf_counter() - start,
                  "cpu_seconds": time.process_time() - start_cpu}
        torch.save(outputs, result_path.with_suffix(".pt"))
    result["threads"] = torch.get_num_threads()
    result_path.write_text(json.dumps(result))


def run_child(impl: str, op: str, workload: str, threads: int, workdir: Path,
              round_index: int, mode: str = "time") -> Dict[str, Any]:
    path = workdir / f"{impl}_{op}_{workload}_{threads}_{mode}_{round_index}.json"
    command = [sys.executable, os.path.abspath(__file__), "--single", impl, op, workload,
               str(threads), str(workdir), str(path), mode]
    env = dict(os.environ, PYTHONWARNINGS="ignore::FutureWarning")
    if mode == "memory":
        env["MALLOC_MMAP_THRESHOLD_"] = str(MMAP_THRESHOLD)
    subprocess.run(command, check=True, env=env)
    result = json.loads(path.read_text())
    result["outputs_path"] = str(path.with_suffix(".pt"))
    return result


def compare(outputs: List[Any], reference: List[Any], op: str) -> str:
    import torch

    if op == "encode":
        mismatched = sum(int((o != r).sum()) for o, r in zip(outputs, reference))
        total = sum(r.numel() for r in reference)
        shapes = all(o.shape == r.shape for o, r in zip(outputs, reference))
        if shapes and mismatched == 0:
            return "yes"
        return f"no ({mismatched}/{total} codes differ)"
    diff = max(float((o - r).abs().max()) for o, r in zip(outputs, reference))
    return f"max |diff| {diff:.1e}"


def prepare(workdir: Path, config: Dict[str, Any], args: argparse.Namespace) -> None:
    """Release, audio and the official one-by-one reference outputs in ``workdir`` (kept when
    a previous run with the same settings left them there)."""
    import numpy as np
    import torch

    setup = {"config": config, "seconds": args.seconds, "seed": args.seed}
    setup_file = workdir / "setup.json"
    if setup_file.is_file() and json.loads(setup_file.read_text()) == setup and \
            (workdir / "reference_audio.pt").is_file():
        print(f"reusing the release, audio and references in {workdir}", flush=True)
        return
    for name in ("release/config.json", "release/SpeechTokenizer.pt", "setup.json"):
        if (workdir / name).exists():
            (workdir / name).unlink()
    make_release(workdir, config, args.seed)
    np.savez(workdir / "audio.npz", **{f"utt{i}": synthetic_speech(s, args.seed + i)
                                       for i, s in enumerate(args.seconds)})
    torch.set_num_threads(max(args.threads))
    model = official_class().load_from_checkpoint(
        str(workdir / "release" / "config.json"),
        str(workdir / "release" / "SpeechTokenizer.pt")).eval()
    wavs, _, _ = load_inputs(workdir)
    with torch.inference_mode():
        reference_codes = [model.encode(w[None, None])[:, 0] for w in wavs]
        reference_audio = [model.decode(c[:, None])[0, 0] for c in reference_codes]
    torch.save(reference_codes, workdir / "reference_codes.pt")
    torch.save(reference_audio, workdir / "reference_audio.pt")
    setup_file.write_text(json.dumps(setup))


def print_table(best: Dict[Tuple, Dict[str, Any]], identical: Dict[Tuple, str],
                args: argparse.Namespace, total_seconds: float) -> None:
    mib = 1024.0 ** 2
    print()
    print(f"wall/CPU s: the fastest of {args.rounds} round(s) (CPU = user + system time of "
          "all threads, little affected by other processes); throughput = audio seconds per "
          "wall second, RTF = its inverse; 'vs official' = official time / our time (wall, "
          "and CPU); peak = RSS increase during a run (see the module docstring); loaded = "
          "RSS of the process once the model is loaded.")
    print("| op | workload | threads | impl | wall s | CPU s | RTF | throughput | "
          "vs official (wall) | vs official (CPU) | peak MiB | peak vs official | "
          "loaded MiB | same as official 1-by-1 |")
    print("|" + "---|" * 14)
    for threads in args.threads:
        for op in args.ops:
            for workload in args.workloads:
                official = best.get(("official", op, workload, threads))
                for impl in args.impls:
                    key = (impl, op, workload, threads)
                    if key not in best:
                        continue
                    r = best[key]
                    if official is not None:
                        wall = f"{official['seconds'] / r['seconds']:.2f}x"
                        cpu = f"{official['cpu_seconds'] / r['cpu_seconds']:.2f}x"
                        memory = f"{r['peak_bytes'] / max(official['peak_bytes'], 1):.2f}x"
                    else:
                        wall = cpu = memory = "-"
                    print(f"| {op} | {workload} | {threads} | {impl} | {r['seconds']:.2f} | "
                          f"{r['cpu_seconds']:.2f} | {r['seconds'] / total_seconds:.3f} | "
                          f"{total_seconds / r['seconds']:.2f}x RT | {wall} | {cpu} | "
                          f"{r['peak_bytes'] / mib:.0f} | {memory} | "
                          f"{r['loaded_bytes'] / mib:.0f} | {identical[key]} |")


def main(argv: List[str]) -> int:
    warnings.filterwarnings("ignore", category=FutureWarning)  # official: old weight_norm
    args = parse_args(argv)
    if args.single:
        impl, op, workload, threads, workdir, result, mode = args.single
        measure(impl, op, workload, int(threads), Path(workdir), Path(result), mode)
        return 0
    import torch

    config = PAPER_CONFIG if args.size == "paper" else MINI_CONFIG
    total_seconds = sum(args.seconds)
    configs = [(impl, op, workload, threads) for threads in args.threads for op in args.ops
               for workload in args.workloads for impl in args.impls
               if not (impl == "ours_padded" and workload == "single")]
    print(f"SpeechTokenizer inference, sptok vs official speechtokenizer 1.0.1: {args.size} "
          f"config {config}; {len(args.seconds)} utterances of {args.seconds} s "
          f"({total_seconds:.1f} s in all; padded batch {len(args.seconds)} x "
          f"{max(args.seconds)} s); CPU ({os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}); torch {torch.__version__}", flush=True)
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_codec.")))
        else:
            workdir = Path(args.workdir)
            workdir.mkdir(parents=True, exist_ok=True)
        prepare(workdir, config, args)
        reference_codes = torch.load(workdir / "reference_codes.pt")
        reference_audio = torch.load(workdir / "reference_audio.pt")
        usage = [len(torch.unique(torch.cat([c[level] for c in reference_codes])))
                 for level in range(config["n_q"])]
        print(f"reference codes (official, one by one): distinct codes per level {usage}",
              flush=True)
        best: Dict[Tuple, Dict[str, Any]] = {}
        for round_index in range(args.rounds):
            for key in configs:
                print(f"  round {round_index + 1}/{args.rounds}: {' '.join(map(str, key))} ...",
                      flush=True)
                result = run_child(*key, workdir, round_index)
                if key not in best or result["cpu_seconds"] < best[key]["cpu_seconds"]:
                    best[key] = dict(result, seconds=min(result["seconds"], best.get(
                        key, result)["seconds"]))
                else:
                    best[key]["seconds"] = min(best[key]["seconds"], result["seconds"])
        for key in configs:
            print(f"  memory: {' '.join(map(str, key))} ...", flush=True)
            memory = run_child(*key, workdir, 0, mode="memory")
            best[key].update(peak_bytes=memory["peak_bytes"],
                             loaded_bytes=memory["loaded_bytes"])
        # Float results depend on the thread count (parallel reductions), which can flip a
        # near-tie code: compare with the official one-by-one outputs at the same count.
        identical = {}
        for key, r in best.items():
            impl, op, workload, threads = key
            official_single = best.get(("official", op, "single", threads))
            if official_single is not None:
                reference = torch.load(official_single["outputs_path"])
            else:  # computed by prepare() with max(--threads) threads
                reference = reference_codes if op == "encode" else reference_audio
            identical[key] = compare(torch.load(r["outputs_path"]), reference, op)
    print_table(best, identical, args, total_seconds)
    ok = all(v == "yes" for k, v in identical.items() if k[1] == "encode" and k[0] == "ours")
    print(f"\ncodes identical (ours, batch and one-by-one, vs official one-by-one with as many "
          f"threads): {'yes' if ok else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
