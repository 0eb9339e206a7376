#!/usr/bin/env python3
"""Collect the codec scores of a recipe into one Markdown file (stage 7 of sptok.sh).

    scripts/codec/collect_results.py --out exp/codec_results.md \\
        --score test "ground truth" exp/score_ground_truth/test/summary.yaml \\
        --score test "speechtokenizer RVQ-1:8" exp/speechtokenizer/resynth/rvq1-8/test/score/summary.yaml \\
        --usage test speechtokenizer exp/speechtokenizer/codebook_stats/test.json

One section per evaluation set (in order of first mention): a table with one row per --score
(summary.yaml of sptok.bin.score_audio; columns: the metrics any row has, "-" where a row lacks
one), then a codebook usage table with one row per --usage (OUT.json of sptok.bin.codebook_stats;
per level: perplexity and the number of codes used).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from sptok.utils.fileio import atomic_open

# score_audio's metrics in table order: (key, heading, decimals)
METRICS = [("wer", "WER (%)", 2), ("cer", "CER (%)", 2), ("spk_sim", "SIM", 3),
           ("stoi", "STOI", 3), ("estoi", "ESTOI", 3), ("pesq", "PESQ", 2),
           ("mel", "mel distance", 3)]


def read_score(path: str) -> Dict[str, Any]:
    """n_utt, the ASR and metric -> corpus value of a score_audio summary.yaml."""
    with open(path, encoding="utf-8") as f:
        summary = yaml.safe_load(f)
    if not isinstance(summary, dict) or not isinstance(summary.get("metrics"), dict):
        raise ValueError(f"{path}: not a summary.yaml of sptok.bin.score_audio (no 'metrics')")
    values = {name: float(entry["value"]) for name, entry in summary["metrics"].items()}
    return {"n_utt": summary.get("n_utt"), "asr": summary.get("scorers", {}).get("asr"),
            "values": values}


def read_usage(path: str) -> Dict[str, Any]:
    """codebook_size, num_frames and the per-level stats of a codebook_stats OUT.json."""
    with open(path, encoding="utf-8") as f:
        stats = json.load(f)
    if not isinstance(stats, dict) or "levels" not in stats:
        raise ValueError(f"{path}: not an output of sptok.bin.codebook_stats (no 'levels')")
    return stats


def _format(value: Optional[float], decimals: int) -> str:
    if value is None:
        return "-"
    return "nan" if math.isnan(value) else f"{value:.{decimals}f}"


def score_table(rows: Sequence[Tuple[str, Dict[str, Any]]]) -> List[str]:
    present = [m for m in METRICS if any(m[0] in score["values"] for _, score in rows)]
    lines = ["| system | " + " | ".join(heading for _, heading, _ in present) + " |",
             "|---|" + "---:|" * len(present)]
    for label, score in rows:
        cells = [_format(score["values"].get(key), decimals) for key, _, decimals in present]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def usage_table(rows: Sequence[Tuple[str, Dict[str, Any]]]) -> List[str]:
    num_levels = max(len(stats["levels"]) for _, stats in rows)
    sizes = sorted({stats["codebook_size"] for _, stats in rows})
    lines = [f"Codebook usage per level: perplexity (codes used of "
             f"{', '.join(str(s) for s in sizes)}).", "",
             "| tokenizer | frames | " + " | ".join(f"L{n + 1}" for n in range(num_levels))
             + " |", "|---|---:|" + "---:|" * num_levels]
    for label, stats in rows:
        cells = [f"{level['perplexity']:.1f} ({level['used_codes']})" for level in stats["levels"]]
        cells += ["-"] * (num_levels - len(cells))
        lines.append(f"| {label} | {stats['num_frames']} | " + " | ".join(cells) + " |")
    return lines


def render(scores: Sequence[Tuple[str, str, Dict[str, Any]]],
           usages: Sequence[Tuple[str, str, Dict[str, Any]]]) -> str:
    sets: List[str] = []
    for name, _, _ in [*scores, *usages]:
        if name not in sets:
            sets.append(name)
    asrs = sorted({s["asr"] for _, _, s in scores if s["asr"]})
    lines = ["# Codec results", "",
             "Each evaluation set resynthesised from the tokens of each tokenizer (RVQ-1:8: all "
             "levels; RVQ-1: the first alone) and scored by sptok.bin.score_audio"
             + (f" (ASR: {', '.join(asrs)})" if asrs else "")
             + "; ground truth: the original audio. WER in %; SIM: speaker similarity; mel "
               "distance: log-mel L1 (lower is better).", ""]
    for name in sets:
        rows = [(label, score) for set_name, label, score in scores if set_name == name]
        counts = sorted({score["n_utt"] for _, score in rows if score["n_utt"] is not None})
        heading = f"## {name}"
        if counts:
            heading += f" ({'/'.join(str(c) for c in counts)} utterances)"
        lines += [heading, ""]
        if rows:
            lines += score_table(rows) + [""]
        usage_rows = [(label, stats) for set_name, label, stats in usages if set_name == name]
        if usage_rows:
            lines += usage_table(usage_rows) + [""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="Markdown file to write")
    parser.add_argument("--score", nargs=3, action="append", default=[],
                        metavar=("SET", "LABEL", "SUMMARY_YAML"),
                        help="a row of SET's table from a score_audio summary.yaml")
    parser.add_argument("--usage", nargs=3, action="append", default=[],
                        metavar=("SET", "LABEL", "STATS_JSON"),
                        help="a row of SET's codebook usage table from a codebook_stats .json")
    args = parser.parse_args(argv)
    if not args.score and not args.usage:
        parser.error("nothing to collect: give --score and/or --usage")
    try:
        scores = [(s, label, read_score(path)) for s, label, path in args.score]
        usages = [(s, label, read_usage(path)) for s, label, path in args.usage]
    except (OSError, ValueError, KeyError, yaml.YAMLError, json.JSONDecodeError) as exc:
        print(f"collect_results: error: {exc}", file=sys.stderr)
        return 1
    text = render(scores, usages)
    with atomic_open(Path(args.out)) as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
