"""Dump HuBERT teacher features of one wav.scp part into one kaldiio ark,scp pair.

Usage:
    python -m sptok.bin.dump_teacher_feats --teacher PATH --layer avg \\
        --wav_scp dump/raw/train/split4/wav.3.scp --out_prefix exp/teacher_feats/train/feats.3

Writes ``OUT_PREFIX.ark`` and ``OUT_PREFIX.scp``: one float32 matrix [T, D] per utterance,
T = floor((N - 400) / 320) + 1 for HuBERT. Both files appear only when the job is complete (written
under temporary names, then renamed). A job whose complete output already exists (an scp holding
exactly the keys of the wav.scp, and its ark) is skipped, so a failed array job can simply be rerun.

Audio must be mono at 16 kHz (the recipe's format stage guarantees this); utterances are batched by
padded duration and run with per-item normalisation, so batching does not change the features.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm import tqdm

from sptok.data.ark import FeatsWriter
from sptok.data.errors import DataError
from sptok.data.kaldi_dir import read_kv_file
from sptok.inference.batching import plan_batches
from sptok.inference.speechtokenizer import resolve_device
from sptok.teachers.audio_input import SAMPLE_RATE, load_16k_mono, utterance_lengths
from sptok.teachers.hubert import HubertTeacher, parse_layer
from sptok.utils.cli import ESPNET_LOG_FORMAT, run_cli, str2bool

_LG = logging.getLogger("dump_teacher_feats")



def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dump_teacher_feats", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--teacher", required=True,
                        help="teacher checkpoint: HF directory, fairseq .pt or our torchaudio .pt")
    parser.add_argument("--teacher_format", default="auto", choices=["auto", "hf", "fairseq", "torchaudio"])
    parser.add_argument("--layer", default="avg", type=parse_layer,
                        help="hidden state index (0 = transformer input, L = last) or 'avg'")
    parser.add_argument("--wav_scp", required=True, help="input wav.scp (one job's part)")
    parser.add_argument("--out_prefix", required=True, help="writes OUT_PREFIX.ark and OUT_PREFIX.scp")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--batch_seconds", type=float, default=60.0,
                        help="max padded audio per batch (items x longest item), in seconds")
    parser.add_argument("--num_threads", type=int, default=0, help="CPU threads for torch (0: torch default)")
    parser.add_argument("--normalize", default="auto", choices=["auto", "true", "false"],
                        help="normalise each waveform to zero mean / unit variance; auto = checkpoint's setting")
    parser.add_argument("--overwrite", type=str2bool, default=False,
                        help="recompute even if the complete output exists")
    return parser


def output_paths(out_prefix: str) -> Tuple[Path, Path]:
    return Path(f"{out_prefix}.ark"), Path(f"{out_prefix}.scp")


def is_complete(out_prefix: str, keys: Sequence[str]) -> bool:
    """True when the ark and the scp exist and the scp holds exactly ``keys``."""
    ark, scp = output_paths(out_prefix)
    if not (ark.is_file() and scp.is_file()):
        return False
    try:
        done = read_kv_file(scp)
    except DataError:
        return False
    return set(done) == set(keys)


def dump(args: argparse.Namespace) -> int:
    """Run one job; returns the number of utterances written (0 when skipped)."""
    entries = read_kv_file(args.wav_scp)
    if not entries:
        raise DataError("empty wav.scp", path=args.wav_scp)
    ark_path, scp_path = output_paths(args.out_prefix)
    if not args.overwrite and is_complete(args.out_prefix, list(entries)):
        _LG.info("%s: complete output exists (%d utterances), skipping", scp_path, len(entries))
        return 0
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    device = resolve_device(args.device)
    normalize = None if args.normalize == "auto" else args.normalize == "true"
    teacher = HubertTeacher.from_pretrained(args.teacher, layer=args.layer, fmt=args.teacher_format,
                                            normalize_waveform=normalize).to(device)
    _LG.info("teacher %s (%s format): %d layers, dim %d, layer %s, normalize_waveform=%s, device %s",
             args.teacher, teacher.source.format, teacher.num_layers, teacher.feature_dim, teacher.layer,
             teacher.normalize_waveform, device)

    cache: Dict[str, np.ndarray] = {}
    lengths = utterance_lengths(entries, args.wav_scp, cache)
    too_short = [k for k, n in lengths.items() if n < teacher.receptive_field]
    if too_short:
        raise DataError(f"{len(too_short)} utterance(s) shorter than {teacher.receptive_field} samples "
                        f"(one teacher frame), e.g. {too_short[:5]}; filter them out first",
                        path=args.wav_scp, key=too_short[0])
    batches = plan_batches(lengths, max(1, int(args.batch_seconds * SAMPLE_RATE)))
    _LG.info("%s: %d utterances, %.1f s of audio, %d batches", args.wav_scp, len(entries),
             sum(lengths.values()) / SAMPLE_RATE, len(batches))

    with FeatsWriter(ark_path, scp_path) as writer, torch.inference_mode(), \
            tqdm(total=len(entries), desc=Path(args.out_prefix).name, unit="utt", file=sys.stderr) as bar:
        for batch in batches:
            wavs = [cache.pop(k) if k in cache else load_16k_mono(k, entries[k], args.wav_scp) for k in batch]
            for key, wav in zip(batch, wavs):
                if len(wav) != lengths[key]:
                    raise DataError(f"header says {lengths[key]} samples, read {len(wav)}",
                                    path=args.wav_scp, key=key)
            padded = np.zeros((len(wavs), max(len(w) for w in wavs)), dtype=np.float32)
            for i, wav in enumerate(wavs):
                padded[i, :len(wav)] = wav
            wav_lengths = torch.tensor([len(w) for w in wavs], device=device)
            feats, feat_lengths = teacher(torch.from_numpy(padded).to(device), wav_lengths)
            feats = feats.float().cpu().numpy()
            for i, key in enumerate(batch):
                writer[key] = feats[i, :int(feat_lengths[i])]
            bar.update(len(batch))
    _LG.info("wrote %s and %s (%d utterances)", ark_path, scp_path, len(entries))
    return len(entries)


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(get_parser(), dump, argv, log_format=ESPNET_LOG_FORMAT)


if __name__ == "__main__":
    sys.exit(main())
