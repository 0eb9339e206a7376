"""Encode one wav.scp part into SpeechTokenizer codes: one kaldiio ark,scp pair per job.

Usage:
    python -m sptok.bin.dump_codes --model exp/codec --wav_scp dump/raw/test/split4/wav.3.scp \\
        --out_prefix exp/codec/codes/test/codes.3 [--n_q 8] [--batch_seconds 60] [--device cpu]

Writes ``OUT_PREFIX.ark`` and ``OUT_PREFIX.scp``: per utterance a float32 matrix [T, n_q] holding
the integer codes (``sptok.data.ark.CodesReader`` reads them back as int64), in wav.scp order.
Both files appear only when the job is complete (temporary names, then renamed); a job whose
complete output exists (the scp holds exactly the wav.scp's keys, with n_q levels) is skipped,
so a failed array job can simply be rerun (``--overwrite true`` recomputes).

``--model`` is an experiment dir (best model by default; ``--checkpoint`` picks a file), a weight
file beside its config.yaml, or an official release dir (config.json + .pt). Audio is mixed to
mono and resampled to the model's rate when needed. Utterances are batched by padded duration,
with lengths: every utterance gets the codes it gets alone.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm import tqdm

from sptok.data.ark import CodesReader, CodesWriter
from sptok.data.audio import audio_file_info, is_pipe, load_audio
from sptok.data.errors import DataError
from sptok.data.kaldi_dir import read_kv_file
from sptok.inference.batching import estimate_num_samples, pad_arrays, plan_batches
from sptok.inference.cli_utils import add_model_arguments, load_tokenizer
from sptok.utils.cli import ESPNET_LOG_FORMAT, run_cli, str2bool

logger = logging.getLogger("dump_codes")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dump_codes", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--wav_scp", required=True, help="input wav.scp (one job's part)")
    parser.add_argument("--out_prefix", required=True,
                        help="writes OUT_PREFIX.ark and OUT_PREFIX.scp")
    parser.add_argument("--n_q", type=int, default=None,
                        help="levels to keep; None: all of the model's")
    parser.add_argument("--batch_seconds", type=float, default=60.0,
                        help="max padded audio per batch (items x longest item), in seconds")
    parser.add_argument("--overwrite", type=str2bool, default=False,
                        help="recompute even if the complete output exists")
    return parser


def output_paths(out_prefix: str) -> Tuple[Path, Path]:
    return Path(f"{out_prefix}.ark"), Path(f"{out_prefix}.scp")


def is_complete(out_prefix: str, keys: Sequence[str], n_q: int) -> bool:
    """True when the ark and the scp exist, the scp holds exactly ``keys`` and its first
    matrix has ``n_q`` levels."""
    ark, scp = output_paths(out_prefix)
    if not (ark.is_file() and scp.is_file()):
        return False
    try:
        with CodesReader(scp) as reader:
            if set(reader) != set(keys):
                return False
            first = reader[next(iter(reader))]
    except (DataError, StopIteration):
        return False
    return first.shape[1] == n_q


def plan_lengths(entries: Dict[str, str], wav_scp: str, sample_rate: int,
                 cache: Dict[str, np.ndarray]) -> Dict[str, int]:
    """Samples per utterance at ``sample_rate``, from file headers where possible; entries
    without a readable header (pipes) are loaded now and kept in ``cache``."""
    lengths = {}
    for key, spec in entries.items():
        header = None if is_pipe(spec) else audio_file_info(spec)
        if header is None:
            cache[key] = load_audio(spec, sample_rate, key=key, scp=wav_scp)
            lengths[key] = len(cache[key])
        else:
            lengths[key] = estimate_num_samples(header, sample_rate)
    return lengths


def dump(args: argparse.Namespace) -> int:
    """Run one job; returns the number of utterances encoded (0 when skipped)."""
    entries = read_kv_file(args.wav_scp)
    if not entries:
        raise DataError("empty wav.scp", path=args.wav_scp)
    ark_path, scp_path = output_paths(args.out_prefix)
    tokenizer = load_tokenizer(args)  # first: its n_q tells whether an output is complete
    n_q = tokenizer.n_q if args.n_q is None else args.n_q
    if not 1 <= n_q <= tokenizer.n_q:
        raise ValueError(f"--n_q {args.n_q}: the model has {tokenizer.n_q} levels")
    if not args.overwrite and is_complete(args.out_prefix, list(entries), n_q):
        logger.info("%s: complete output exists (%d utterances, %d levels), skipping",
                    scp_path, len(entries), n_q)
        return 0
    rate = tokenizer.sample_rate
    cache: Dict[str, np.ndarray] = {}
    lengths = plan_lengths(entries, args.wav_scp, rate, cache)
    batches = plan_batches(lengths, max(1, int(args.batch_seconds * rate)))
    total_seconds = sum(lengths.values()) / rate
    logger.info("%s: %d utterances, %.1f s of audio, %d batches", args.wav_scp, len(entries),
                total_seconds, len(batches))

    codes: Dict[str, np.ndarray] = {}
    start = time.perf_counter()
    with tqdm(total=len(entries), desc=Path(args.out_prefix).name, unit="utt",
              file=sys.stderr) as bar:
        for batch in batches:
            wavs = [cache.pop(key) if key in cache
                    else load_audio(entries[key], rate, key=key, scp=args.wav_scp)
                    for key in batch]
            padded, wav_lengths = pad_arrays(wavs)
            batch_codes, code_lengths = tokenizer.encode(torch.from_numpy(padded),
                                                         torch.from_numpy(wav_lengths), n_q=n_q)
            batch_codes = batch_codes.cpu().numpy().astype(np.int32)
            for i, key in enumerate(batch):
                codes[key] = batch_codes[i, :, :int(code_lengths[i])].T  # [T, n_q]
            bar.update(len(batch))
    elapsed = time.perf_counter() - start
    with CodesWriter(ark_path, scp_path, codebook_size=tokenizer.codebook_size) as writer:
        for key in entries:
            writer[key] = codes[key]
    logger.info("wrote %s and %s (%d utterances, %d levels; %.1f s of audio in %.1f s, "
                "%.1fx real time)", ark_path, scp_path, len(entries), n_q, total_seconds,
                elapsed, total_seconds / max(elapsed, 1e-9))
    return len(entries)


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(get_parser(), dump, argv,
                   errors=(DataError, ValueError, FileNotFoundError), log_format=ESPNET_LOG_FORMAT)


if __name__ == "__main__":
    sys.exit(main())
