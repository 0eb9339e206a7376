#!/usr/bin/env python3
"""Benchmark USLM AR decoding: KV cache vs recomputing the whole prefix every step (upstream).

Both paths use the same randomly initialised weights, the same inputs and the same per-item
sampling seeds; EOS is disabled so that exactly N frames are generated. Each (path, N)
measurement runs in a fresh subprocess so that its memory peak is its own.

Memory: on CUDA, torch.cuda.max_memory_allocated during decoding minus the allocation before
it. On CPU, the resident set size (RSS, /proc/self/statm) sampled every millisecond by a
thread during decoding, minus the RSS just before it (torch's CPU allocations are invisible
to tracemalloc); the process's ru_maxrss is printed as well.

Usage:
    tools/venv/bin/python tools/bench/bench_uslm_kv_cache.py                 # mini model
    tools/venv/bin/python tools/bench/bench_uslm_kv_cache.py --size paper --frames 100
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from sptok.utils.memory import RssSampler, rss_bytes

SIZES = {
    # width, heads, layers, ffn
    "mini": (384, 6, 8, 1536),
    "paper": (1024, 16, 12, 4096),
}


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="mini",
                        help="model size preset (mini: 384 wide, 8 layers; paper: 1024, 12)")
    parser.add_argument("--d-model", type=int, help="override the preset width")
    parser.add_argument("--num-heads", type=int, help="override the preset heads")
    parser.add_argument("--num-layers", type=int, help="override the preset layers")
    parser.add_argument("--ffn-dim", type=int, help="override the preset FFN width")
    parser.add_argument("--codebook-size", type=int, default=1024)
    parser.add_argument("--num-phonemes", type=int, default=128)
    parser.add_argument("--text-length", type=int, default=60,
                        help="phonemes (prompt transcript + text) per item")
    parser.add_argument("--prompt-frames", type=int, default=150,
                        help="acoustic prompt frames (150 = 3 s)")
    parser.add_argument("--frames", type=int, nargs="+", default=[100, 250, 500],
                        help="frames to generate (EOS ignored)")
    parser.add_argument("--batch", type=int, default=1, help="items decoded together")
    parser.add_argument("--top-k", type=int, default=0, help="sampling top-k (0: off)")
    parser.add_argument("--greedy", action="store_true", help="argmax instead of sampling")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--single", nargs=3, metavar=("MODE", "FRAMES", "RESULT_JSON"),
                        help=argparse.SUPPRESS)  # internal: one measurement in a subprocess
    return parser.parse_args(argv)


def model_shape(args: argparse.Namespace) -> Dict[str, int]:
    width, heads, layers, ffn = SIZES[args.size]
    return {"d_model": args.d_model or width, "num_heads": args.num_heads or heads,
            "num_layers": args.num_layers or layers, "ffn_dim": args.ffn_dim or ffn}


def measure(args: argparse.Namespace, mode: str, frames: int, result_path: str) -> None:
    """One decoding run in this (fresh) process; writes tokens, time and memory as JSON."""
    import torch

    from sptok.uslm import SamplingOptions, USLMARModel, ar_generate, make_generators

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    model = USLMARModel(args.num_phonemes, args.codebook_size, dropout=0.0,
                        **model_shape(args)).to(device).eval()
    inputs = torch.Generator().manual_seed(args.seed + 1)
    phonemes = torch.randint(0, args.num_phonemes, (args.batch, args.text_length),
                             generator=inputs).to(device)
    phoneme_lengths = torch.full((args.batch,), args.text_length, device=device)
    prompt = torch.randint(0, args.codebook_size, (args.batch, args.prompt_frames),
                           generator=inputs).to(device)
    prompt_lengths = torch.full((args.batch,), args.prompt_frames, device=device)
    sampling = SamplingOptions(greedy=args.greedy, top_k=args.top_k)
    use_cache = mode == "cached"

    def run(count: int):
        return ar_generate(model, phonemes, phoneme_lengths, prompt, prompt_lengths, count,
                           sampling=sampling, ignore_eos=True, use_cache=use_cache,
                           generator=make_generators(args.seed + 2, args.batch))

    run(3)  # warm-up: first-call allocations and kernel selection
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        start = time.perf_counter()
        out = run(frames)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated() - base
        method = "torch.cuda.max_memory_allocated above the pre-decoding allocation"
    else:
        base = rss_bytes()
        with RssSampler() as sampler:
            start = time.perf_counter()
            out = run(frames)
            seconds = time.perf_counter() - start
        peak = sampler.peak - base
        method = "RSS sampled every 1 ms (/proc/self/statm) above the pre-decoding RSS"
    result = {"tokens": [codes.tolist() for codes in out.codes], "seconds": seconds,
              "peak_bytes": peak, "method": method,
              "maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
              "params": sum(p.numel() for p in model.parameters()),
              "threads": torch.get_num_threads()}
    Path(result_path).write_text(json.dumps(result))


def run_child(argv: List[str], mode: str, frames: int, workdir: str) -> dict:
    path = os.path.join(workdir, f"{mode}_{frames}.json")
    command = [sys.executable, os.path.abspath(__file__), *argv, "--single", mode, str(frames),
               path]
    subprocess.run(command, check=True)
    return json.loads(Path(path).read_text())


def main(argv: List[str]) -> int:
    args = parse_args(argv)
    if args.single:
        mode, frames, path = args.single
        measure(args, mode, int(frames), path)
        return 0
    shape = model_shape(args)
    print(f"USLM AR decoding, KV cache vs full recompute: {args.size} size {shape}, "
          f"codebook {args.codebook_size}, text {args.text_length} phonemes, prompt "
          f"{args.prompt_frames} frames, batch {args.batch}, "
          f"{'greedy' if args.greedy else f'sampling (top_k={args.top_k})'}, EOS ignored, "
          f"device {args.device}, seed {args.seed}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for frames in args.frames:
            results = {}
            for mode in ("cached", "uncached"):
                print(f"  running {mode} decoding of {frames} frames ...", flush=True)
                results[mode] = run_child(argv, mode, frames, workdir)
            rows.append((frames, results["cached"], results["uncached"]))
    first = rows[0][1]
    print(f"parameters {first['params']:,}, torch threads {first['threads']}")
    print(f"peak memory: {first['method']}")
    header = (f"{'frames':>6} {'identical':>9} {'cached_s':>9} {'uncached_s':>10} "
              f"{'speedup':>8} {'cached_ms/frame':>15} {'uncached_ms/frame':>17} "
              f"{'cached_peak_MiB':>15} {'uncached_peak_MiB':>17} {'cached_maxrss_MiB':>17} "
              f"{'uncached_maxrss_MiB':>19}")
    print(header)
    mib = 1024.0 ** 2
    all_identical = True
    for frames, cached, uncached in rows:
        identical = cached["tokens"] == uncached["tokens"] and all(
            len(t) == frames for t in cached["tokens"])
        all_identical &= identical
        print(f"{frames:>6} {'yes' if identical else 'NO':>9} {cached['seconds']:>9.2f} "
              f"{uncached['seconds']:>10.2f} {uncached['seconds'] / cached['seconds']:>7.1f}x "
              f"{1000 * cached['seconds'] / frames:>15.2f} "
              f"{1000 * uncached['seconds'] / frames:>17.2f} "
              f"{cached['peak_bytes'] / mib:>15.1f} {uncached['peak_bytes'] / mib:>17.1f} "
              f"{cached['maxrss_bytes'] / mib:>17.1f} {uncached['maxrss_bytes'] / mib:>19.1f}")
    return 0 if all_identical else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
