"""Markdown result tables from the summary.yaml files of ``sptok.bin.score_audio``: what the
recipes' collectors share (egs/TEMPLATE/scripts/codec/collect_results.py, stage 7, and
egs/TEMPLATE/scripts/uslm/collect_results.py, stage 11).

A table has one row per system (a label and one summary) and one column per metric any row
has; a cell a row lacks shows ``-``.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

from sptok.utils.fileio import PathLike, atomic_open

#: A table column: score_audio's metric key, its heading, decimals shown.
Column = Tuple[str, str, int]

#: score_audio's metrics in table order.
SCORE_COLUMNS: List[Column] = [("wer", "WER (%)", 2), ("cer", "CER (%)", 2),
                               ("spk_sim", "SIM", 3), ("stoi", "STOI", 3), ("estoi", "ESTOI", 3),
                               ("pesq", "PESQ", 2), ("mel", "mel distance", 3)]


@dataclass
class ScoreSummary:
    """The corpus values of one score_audio run.

    Attributes:
        n_utt: the number of utterances scored (None where the summary does not say).
        scorers: role -> model name, e.g. ``{"asr": "whisper_tiny", "spk_model": ...}``.
        values: metric -> corpus value (WER and CER in percent).
    """

    n_utt: Optional[int] = None
    scorers: Dict[str, Any] = field(default_factory=dict)
    values: Dict[str, float] = field(default_factory=dict)


def read_score_summary(path: PathLike, required: Sequence[str] = ()) -> ScoreSummary:
    """Read a score_audio summary.yaml.

    Args:
        path: the summary.yaml.
        required: metrics the caller needs; a summary without one of them is an error.

    Raises:
        ValueError: the file is not a score_audio summary, or lacks a ``required`` metric.
        OSError, yaml.YAMLError: the file cannot be read or parsed.
    """
    with open(path, encoding="utf-8") as f:
        summary = yaml.safe_load(f)
    if not isinstance(summary, dict) or not isinstance(summary.get("metrics"), dict):
        raise ValueError(f"{path}: not a summary.yaml of sptok.bin.score_audio (no 'metrics')")
    metrics = summary["metrics"]
    missing = [m for m in required if m not in metrics]
    if missing:
        raise ValueError(f"{path}: no {' and '.join(missing)} among its metrics "
                         f"{sorted(metrics)}: score with --metrics {','.join(required)}")
    return ScoreSummary(n_utt=summary.get("n_utt"), scorers=summary.get("scorers") or {},
                        values={name: float(entry["value"]) for name, entry in metrics.items()})


def format_value(value: Optional[float], decimals: int) -> str:
    """A table cell: ``-`` for a missing value, ``nan`` for an undefined one."""
    if value is None:
        return "-"
    return "nan" if math.isnan(value) else f"{value:.{decimals}f}"


def scorer_names(summaries: Iterable[ScoreSummary], role: str) -> List[str]:
    """The distinct models of ``role`` (e.g. ``asr``) the summaries were scored with, sorted."""
    return sorted({s.scorers[role] for s in summaries if s.scorers.get(role)})


def set_heading(name: str, summaries: Iterable[ScoreSummary]) -> str:
    """``## NAME (N utterances)``; ``N1/N2`` where the rows scored different numbers."""
    counts = sorted({s.n_utt for s in summaries if s.n_utt is not None})
    heading = f"## {name}"
    if counts:
        heading += f" ({'/'.join(str(c) for c in counts)} utterances)"
    return heading


def score_table(rows: Sequence[Tuple[str, ScoreSummary]],
                columns: Sequence[Column] = SCORE_COLUMNS) -> List[str]:
    """The lines of a Markdown table: one row per (label, summary), the ``columns`` any row
    has."""
    present = [c for c in columns if any(c[0] in summary.values for _, summary in rows)]
    lines = ["| system | " + " | ".join(heading for _, heading, _ in present) + " |",
             "|---|" + "---:|" * len(present)]
    for label, summary in rows:
        cells = [format_value(summary.values.get(key), decimals) for key, _, decimals in present]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def write_markdown(text: str, out: PathLike) -> None:
    """Write ``text`` to ``out`` (atomically) and echo it on standard output."""
    with atomic_open(Path(out)) as f:
        f.write(text)
    sys.stdout.write(text)
