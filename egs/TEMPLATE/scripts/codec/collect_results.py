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
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from sptok.eval.results_table import (ScoreSummary, read_score_summary, score_table,
                                      scorer_names, set_heading, write_markdown)


def read_usage(path: str) -> Dict[str, Any]:
    """codebook_size, num_frames and the per-level stats of a codebook_stats OUT.json."""
    with open(path, encoding="utf-8") as f:
        stats = json.load(f)
    if not isinstance(stats, dict) or "levels" not in stats:
        raise ValueError(f"{path}: not an output of sptok.bin.codebook_stats (no 'levels')")
    return stats


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


def render(scores: Sequence[Tuple[str, str, ScoreSummary]],
           usages: Sequence[Tuple[str, str, Dict[str, Any]]]) -> str:
    sets = list(dict.fromkeys(name for name, _, _ in [*scores, *usages]))  # first mention order
    asrs = scorer_names((s for _, _, s in scores), "asr")
    lines = ["# Codec results", "",
             "Each evaluation set resynthesised from the tokens of each tokenizer (RVQ-1:8: all "
             "levels; RVQ-1: the first alone) and scored by sptok.bin.score_audio"
             + (f" (ASR: {', '.join(asrs)})" if asrs else "")
             + "; ground truth: the original audio. WER in %; SIM: speaker similarity; mel "
               "distance: log-mel L1 (lower is better).", ""]
    for name in sets:
        rows = [(label, score) for set_name, label, score in scores if set_name == name]
        lines += [set_heading(name, (score for _, score in rows)), ""]
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
        scores = [(s, label, read_score_summary(path)) for s, label, path in args.score]
        usages = [(s, label, read_usage(path)) for s, label, path in args.usage]
    except (OSError, ValueError, KeyError, yaml.YAMLError, json.JSONDecodeError) as exc:
        print(f"collect_results: error: {exc}", file=sys.stderr)
        return 1
    write_markdown(render(scores, usages), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
