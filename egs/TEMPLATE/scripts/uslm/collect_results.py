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
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from sptok.utils.fileio import atomic_open

#: The paper's zero-shot TTS on VCTK with 3 s prompts: WER (%), SIM, MOS, SMOS.
PAPER_ROWS = (("ground truth", 1.9, 0.93, 4.5, 3.96),
              ("VALL-E (EnCodec tokens)", 7.9, 0.75, 3.08, 3.31),
              ("USLM (SpeechTokenizer tokens)", 6.5, 0.84, 3.63, 3.45))


def read_score(path: str) -> Dict[str, Any]:
    """n_utt, the scorers and wer / spk_sim corpus values of a score_audio summary.yaml."""
    with open(path, encoding="utf-8") as f:
        summary = yaml.safe_load(f)
    if not isinstance(summary, dict) or not isinstance(summary.get("metrics"), dict):
        raise ValueError(f"{path}: not a summary.yaml of sptok.bin.score_audio (no 'metrics')")
    missing = [m for m in ("wer", "spk_sim") if m not in summary["metrics"]]
    if missing:
        raise ValueError(f"{path}: no {' and '.join(missing)} among its metrics "
                         f"{sorted(summary['metrics'])}: score with --metrics wer,spk_sim")
    scorers = summary.get("scorers") or {}
    return {"n_utt": summary.get("n_utt"), "asr": scorers.get("asr"),
            "spk_model": scorers.get("spk_model"),
            "wer": float(summary["metrics"]["wer"]["value"]),
            "spk_sim": float(summary["metrics"]["spk_sim"]["value"])}


def _format(value: Optional[float], decimals: int) -> str:
    if value is None:
        return "-"
    return "nan" if math.isnan(value) else f"{value:.{decimals}f}"


def render(scores: Sequence[Tuple[str, str, Dict[str, Any]]], prompt_seconds: float) -> str:
    sets: List[str] = []
    for name, _, _ in scores:
        if name not in sets:
            sets.append(name)
    asrs = sorted({s["asr"] for _, _, s in scores if s["asr"]})
    speakers = sorted({s["spk_model"] for _, _, s in scores if s["spk_model"]})
    lines = ["# Zero-shot TTS results", "",
             f"Each utterance's text spoken with a {prompt_seconds:g} s prompt cut from another "
             "utterance of the same speaker. WER (%) of the offline ASR"
             + (f" ({', '.join(asrs)})" if asrs else "")
             + " against the text; SIM: speaker similarity to the prompt"
             + (f" ({', '.join(speakers)})" if speakers else "")
             + ". Ground truth: the original recording, scored the same way.", ""]
    for name in sets:
        rows = [(label, score) for set_name, label, score in scores if set_name == name]
        counts = sorted({score["n_utt"] for _, score in rows if score["n_utt"] is not None})
        heading = f"## {name}"
        if counts:
            heading += f" ({'/'.join(str(c) for c in counts)} utterances)"
        lines += [heading, "", "| system | WER (%) | SIM |", "|---|---:|---:|"]
        lines += [f"| {label} | {_format(score['wer'], 2)} | {_format(score['spk_sim'], 3)} |"
                  for label, score in rows]
        lines.append("")
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
        scores = [(s, label, read_score(path)) for s, label, path in args.score]
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        print(f"collect_results: error: {exc}", file=sys.stderr)
        return 1
    text = render(scores, args.prompt_seconds)
    with atomic_open(Path(args.out)) as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
