#!/usr/bin/env python3
"""Collect the zero-shot TTS scores of a recipe into one Markdown file (stage 11 of sptok.sh):
the paper's zero-shot TTS table (WER, SIM) with one row per system.

    scripts/uslm/collect_results.py --out exp/uslm_results.md --prompt_seconds 3 \\
        --score test_unseen "ground truth" exp/tts/test_unseen/score_ground_truth/summary.yaml \\
        --score test_unseen "USLM (speechtokenizer tokens)" \\
            exp/uslm_speechtokenizer/decode_test_unseen/score/summary.yaml

One section per evaluation set (in order of first mention), one row per --score (a summary.yaml
of sptok.bin.score_audio with the metrics wer and spk_sim), then the paper's numbers.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Sequence, Tuple

import yaml

from sptok.eval.results_table import (SCORE_COLUMNS, ScoreSummary, read_score_summary,
                                      score_table, scorer_names, set_heading, write_markdown)

#: The paper's zero-shot TTS on VCTK with 3 s prompts: WER (%), SIM, MOS, SMOS.
PAPER_ROWS = (("ground truth", 1.9, 0.93, 4.5, 3.96),
              ("VALL-E (EnCodec tokens)", 7.9, 0.75, 3.08, 3.31),
              ("USLM (SpeechTokenizer tokens)", 6.5, 0.84, 3.63, 3.45))


#: The table's metrics: what every row must have.
METRICS = ("wer", "spk_sim")
COLUMNS = [column for column in SCORE_COLUMNS if column[0] in METRICS]


def render(scores: Sequence[Tuple[str, str, ScoreSummary]], prompt_seconds: float) -> str:
    sets = list(dict.fromkeys(name for name, _, _ in scores))  # first mention order
    asrs = scorer_names((s for _, _, s in scores), "asr")
    speakers = scorer_names((s for _, _, s in scores), "spk_model")
    lines = ["# Zero-shot TTS results", "",
             f"Each utterance's text spoken with a {prompt_seconds:g} s prompt cut from another "
             "utterance of the same speaker. WER (%) of the offline ASR"
             + (f" ({', '.join(asrs)})" if asrs else "")
             + " against the text; SIM: speaker similarity to the prompt"
             + (f" ({', '.join(speakers)})" if speakers else "")
             + ". Ground truth: the original recording, scored the same way.", ""]
    for name in sets:
        rows = [(label, score) for set_name, label, score in scores if set_name == name]
        lines += [set_heading(name, (score for _, score in rows)), "",
                  *score_table(rows, COLUMNS), ""]
    lines += ["## Paper (VCTK, 3 s prompts; Whisper WER, WavLM speaker similarity)", "",
              "| system | WER (%) | SIM | MOS | SMOS |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {label} | {wer} | {sim} | {mos} | {smos} |"
              for label, wer, sim, mos, smos in PAPER_ROWS]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="Markdown file to write")
    parser.add_argument("--prompt_seconds", type=float, default=3.0,
                        help="prompt length the systems were given (for the text)")
    parser.add_argument("--score", nargs=3, action="append", default=[],
                        metavar=("SET", "LABEL", "SUMMARY_YAML"),
                        help="a row of SET's table from a score_audio summary.yaml")
    args = parser.parse_args(argv)
    if not args.score:
        parser.error("nothing to collect: give --score")
    try:
        scores = [(s, label, read_score_summary(path, METRICS)) for s, label, path in args.score]
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        print(f"collect_results: error: {exc}", file=sys.stderr)
        return 1
    write_markdown(render(scores, args.prompt_seconds), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
