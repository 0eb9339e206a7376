"""Codebook usage of dumped codes: per level, the perplexity and the share of codes used.

Usage:
    python -m sptok.bin.codebook_stats --codes_scp exp/codec/codes/test/codes.scp \\
        --codebook_size 1024 --out exp/codec/codes/test/codebook_stats

Writes ``OUT.json`` and ``OUT.md`` (a ``.json`` or ``.md`` suffix on ``--out`` is dropped first)
and prints the Markdown table. Per level: perplexity (exp of the code entropy; codebook_size
when every code is equally frequent, 1 when one code is always chosen), entropy in bits, codes
used at least once, and the share of frames taken by the most frequent code.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

from sptok.data.ark import iter_codes
from sptok.data.errors import DataError
from sptok.quantization.usage import code_counts, perplexity_from_counts
from sptok.utils.cli import ESPNET_LOG_FORMAT, run_cli
from sptok.utils.fileio import atomic_open

logger = logging.getLogger("codebook_stats")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codebook_stats", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--codes_scp", required=True, nargs="+",
                        help="codes scp file(s) written by dump_codes")
    parser.add_argument("--codebook_size", required=True, type=int, help="codes per level")
    parser.add_argument("--out", required=True, help="writes OUT.json and OUT.md")
    return parser


def count_codes(codes_scps: Sequence[str], codebook_size: int) -> Dict[str, Any]:
    """Code counts [n_q, codebook_size] of every utterance, with the number of utterances and
    frames."""
    if codebook_size < 1:
        raise ValueError(f"--codebook_size must be positive, got {codebook_size}")
    counts: Optional[torch.Tensor] = None
    utterances = frames = 0
    for codes_scp in codes_scps:
        for key, codes in iter_codes(codes_scp):
            levels = codes.shape[1]
            if counts is not None and levels != counts.shape[0]:
                raise DataError(f"{levels} levels, but the codes before have {counts.shape[0]}",
                                path=codes_scp, key=key)
            if codes.size and int(codes.max()) >= codebook_size:
                raise DataError(f"code {int(codes.max())} is outside [0, {codebook_size}) "
                                "(--codebook_size)", path=codes_scp, key=key)
            item = code_counts(torch.from_numpy(codes.T[None]), codebook_size)
            counts = item if counts is None else counts + item
            utterances += 1
            frames += codes.shape[0]
    if counts is None:
        raise DataError("no codes", path=", ".join(codes_scps))
    return {"counts": counts, "num_utterances": utterances, "num_frames": frames}


def usage_stats(counts: torch.Tensor) -> List[Dict[str, float]]:
    """Per-level statistics of code counts [n_q, K]."""
    counts = counts.double()
    perplexity = perplexity_from_counts(counts)
    total = counts.sum(dim=-1)
    levels = []
    for level in range(counts.shape[0]):
        used = int((counts[level] > 0).sum())
        levels.append({
            "level": level + 1,
            "perplexity": float(perplexity[level]),
            "entropy_bits": float(torch.log2(perplexity[level].clamp_min(1.0))),
            "used_codes": used,
            "used_fraction": used / counts.shape[1],
            "top_code_share": float(counts[level].max() / total[level]),
        })
    return levels


def markdown_table(stats: Dict[str, Any]) -> str:
    lines = [f"Codebook usage: {stats['num_utterances']} utterances, {stats['num_frames']} "
             f"frames, codebook size {stats['codebook_size']}", "",
             "| level | perplexity | entropy (bits) | used codes | used % | top code % |",
             "|---:|---:|---:|---:|---:|---:|"]
    for level in stats["levels"]:
        lines.append(f"| {level['level']} | {level['perplexity']:.1f} | "
                     f"{level['entropy_bits']:.2f} | {level['used_codes']} | "
                     f"{100 * level['used_fraction']:.1f} | {100 * level['top_code_share']:.1f} |")
    return "\n".join(lines) + "\n"


def output_base(out: str) -> Path:
    path = Path(out)
    return path.with_suffix("") if path.suffix in (".json", ".md") else path


def write_stats(args: argparse.Namespace) -> None:
    """Count the codes of ``args.codes_scp``, write OUT.json and OUT.md and print the table."""
    counted = count_codes(args.codes_scp, args.codebook_size)
    stats = {"codes_scp": args.codes_scp, "codebook_size": args.codebook_size,
             "num_utterances": counted["num_utterances"], "num_frames": counted["num_frames"],
             "levels": usage_stats(counted["counts"])}
    table = markdown_table(stats)
    base = output_base(args.out)
    with atomic_open(base.parent / f"{base.name}.json") as f:
        json.dump(stats, f, indent=2)
        f.write("\n")
    with atomic_open(base.parent / f"{base.name}.md") as f:
        f.write(table)
    sys.stdout.write(table)
    logger.info("wrote %s.json and %s.md", base, base)


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(get_parser(), write_stats, argv, log_format=ESPNET_LOG_FORMAT)


if __name__ == "__main__":
    sys.exit(main())
