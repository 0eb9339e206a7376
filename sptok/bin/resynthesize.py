"""Decode SpeechTokenizer codes back to audio: one wav file per utterance plus a wav.scp.

Usage:
    python -m sptok.bin.resynthesize --model exp/codec --codes_scp exp/codec/codes/test/codes.scp \\
        --out_dir exp/codec/resynth/test_1-8 [--levels 1:8|1|2:8] [--utt2num_samples FILE]

``--levels A:B`` decodes levels A..B (1-based, inclusive) of the stored codes, e.g. ``1`` for the
"semantic" RVQ-1 alone or ``2:8`` for everything but it (default: all stored levels). Writes
``OUT_DIR/wav/<utt>.wav`` (16-bit PCM at the model's rate, each file atomically) and then
``OUT_DIR/wav.scp`` (or ``--out_scp``), so the scp appears only once every file is there.
``--utt2num_samples`` (the source data dir's) trims each output to its original length; without
it the output has ``frames x hop_length`` samples.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from tqdm import tqdm

from sptok.data.ark import iter_codes
from sptok.data.audio import save_audio
from sptok.data.errors import DataError
from sptok.data.kaldi_dir import read_utt2num_samples, write_kv_file
from sptok.inference.batching import pad_arrays, plan_batches
from sptok.inference.cli_utils import add_model_arguments, load_tokenizer, parse_levels
from sptok.utils.cli import ESPNET_LOG_FORMAT, run_cli

logger = logging.getLogger("resynthesize")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="resynthesize", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--codes_scp", required=True, help="codes written by dump_codes")
    parser.add_argument("--out_dir", required=True, help="writes OUT_DIR/wav/<utt>.wav")
    parser.add_argument("--out_scp", default=None,
                        help="wav.scp to write; None: OUT_DIR/wav.scp")
    parser.add_argument("--levels", type=parse_levels, default=None,
                        help="levels A:B to decode, 1-based inclusive (1:8, 1, 2:8); "
                             "None: all stored levels")
    parser.add_argument("--utt2num_samples", default=None,
                        help="trim each output to the number of samples given here")
    parser.add_argument("--batch_seconds", type=float, default=60.0,
                        help="max padded audio per batch (items x longest item), in seconds")
    return parser


def select_levels(codes_scp: str, key: str, codes: np.ndarray,
                  levels: Optional[Tuple[int, int]]) -> np.ndarray:
    """Rows [k, T] of the stored codes [T, n_q] for the level range (first, end)."""
    first, end = (0, codes.shape[1]) if levels is None else levels
    if end > codes.shape[1]:
        raise DataError(f"--levels {first + 1}:{end}: only {codes.shape[1]} levels stored",
                        path=codes_scp, key=key)
    return np.ascontiguousarray(codes[:, first:end].T)


def resynthesize(args: argparse.Namespace) -> int:
    """Decode every utterance of ``--codes_scp``; returns how many were written."""
    first = 0 if args.levels is None else args.levels[0]
    codes: Dict[str, np.ndarray] = {key: select_levels(args.codes_scp, key, value, args.levels)
                                    for key, value in iter_codes(args.codes_scp)}
    if not codes:
        raise DataError("no codes", path=args.codes_scp)
    level_counts = {value.shape[0] for value in codes.values()}
    if len(level_counts) > 1:
        raise DataError(f"utterances hold different numbers of levels {sorted(level_counts)}; "
                        "choose a range all have with --levels", path=args.codes_scp)
    bad = [key for key in codes if "/" in key or key.startswith(".")]
    if bad:
        raise DataError("key cannot name a file (holds '/' or starts with '.')",
                        path=args.codes_scp, key=bad[0])
    num_samples = read_utt2num_samples(args.utt2num_samples) if args.utt2num_samples else None
    if num_samples is not None:
        missing = [key for key in codes if key not in num_samples]
        if missing:
            raise DataError(f"{len(missing)} key(s) of {args.codes_scp} missing",
                            path=args.utt2num_samples, key=missing[0])
    tokenizer = load_tokenizer(args)
    out_dir = Path(args.out_dir)
    wav_dir = out_dir / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    frames = {key: value.shape[1] for key, value in codes.items()}
    max_frames = max(1, int(args.batch_seconds * tokenizer.frame_rate))
    batches = plan_batches(frames, max_frames)
    levels = f"{first + 1}:{first + next(iter(codes.values())).shape[0]}"
    logger.info("%s: %d utterances, %.1f s, levels %s, %d batches", args.codes_scp, len(codes),
                sum(frames.values()) / tokenizer.frame_rate, levels, len(batches))

    written: Dict[str, str] = {}
    start = time.perf_counter()
    with tqdm(total=len(codes), desc=out_dir.name, unit="utt", file=sys.stderr) as bar:
        for batch in batches:
            padded, lengths = pad_arrays([codes[key] for key in batch], axis=1)
            audio, sample_lengths = tokenizer.decode(torch.from_numpy(padded),
                                                     torch.from_numpy(lengths),
                                                     start_level=first)
            audio = audio[:, 0].float().cpu().numpy()
            for i, key in enumerate(batch):
                length = int(sample_lengths[i])
                if num_samples is not None:
                    length = min(length, num_samples[key])
                path = wav_dir / f"{key}.wav"
                save_audio(path, audio[i, :length], tokenizer.sample_rate)
                written[key] = str(path)
            bar.update(len(batch))
    elapsed = time.perf_counter() - start
    out_scp = Path(args.out_scp) if args.out_scp else out_dir / "wav.scp"
    write_kv_file(out_scp, written)
    seconds = sum(frames.values()) / tokenizer.frame_rate
    logger.info("wrote %d files to %s and %s (%.1f s of audio in %.1f s, %.1fx real time)",
                len(written), wav_dir, out_scp, seconds, elapsed, seconds / max(elapsed, 1e-9))
    return len(written)


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(get_parser(), resynthesize, argv,
                   errors=(DataError, ValueError, FileNotFoundError), log_format=ESPNET_LOG_FORMAT)


if __name__ == "__main__":
    sys.exit(main())
