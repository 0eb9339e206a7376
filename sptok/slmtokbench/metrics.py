"""Error rates (WER, CER, PER) by Levenshtein distance.

Our own small implementation instead of jiwer: no extra dependency for the benchmark, and the
numbers are the usual corpus-level ones (total edits / total reference units, as jiwer and
sclite report). One row of the dynamic programme is computed at a time with numpy: insertions
chain along the row, which a running minimum of ``d[j] - j`` resolves without a Python loop.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Hashable, Iterable, List, Sequence, Tuple

import numpy as np


def edit_distance(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> int:
    """Levenshtein distance (substitutions, deletions, insertions all cost 1)."""
    if len(ref) == 0:
        return len(hyp)
    if len(hyp) == 0:
        return len(ref)
    ids: Dict[Hashable, int] = {}
    ref_ids = np.array([ids.setdefault(t, len(ids)) for t in ref], dtype=np.int64)
    hyp_ids = np.array([ids.setdefault(t, len(ids)) for t in hyp], dtype=np.int64)
    cols = np.arange(len(hyp) + 1, dtype=np.int64)
    row = cols.copy()  # distances from the empty reference prefix
    for i, r in enumerate(ref_ids, 1):
        # Substitution/match from the diagonal, deletion from above; column 0 is i deletions.
        best = np.empty_like(row)
        best[0] = i
        best[1:] = np.minimum(row[:-1] + (hyp_ids != r), row[1:] + 1)
        # Insertions: d[j] = min_k<=j (best[k] + j - k) = j + cummin(best[k] - k).
        row = np.minimum.accumulate(best - cols) + cols
    return int(row[-1])


@dataclass
class ErrorCounts:
    """Accumulated edits over a corpus."""
    edits: int = 0
    ref_units: int = 0
    utterances: int = 0

    def add(self, ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> int:
        edits = edit_distance(ref, hyp)
        self.edits += edits
        self.ref_units += len(ref)
        self.utterances += 1
        return edits

    @property
    def rate(self) -> float:
        """edits / reference units (can exceed 1 with many insertions); NaN without reference."""
        return self.edits / self.ref_units if self.ref_units else float("nan")


def word_error_rate(refs: Iterable[str], hyps: Iterable[str]) -> float:
    """Corpus WER of whitespace-separated word strings."""
    counts = ErrorCounts()
    for ref, hyp in _paired(refs, hyps):
        counts.add(ref.split(), hyp.split())
    return counts.rate


def char_error_rate(refs: Iterable[str], hyps: Iterable[str]) -> float:
    """Corpus CER over characters, spaces between words included (ESPnet's convention);
    runs of whitespace count as one space."""
    counts = ErrorCounts()
    for ref, hyp in _paired(refs, hyps):
        counts.add(" ".join(ref.split()), " ".join(hyp.split()))
    return counts.rate


def _paired(refs: Iterable[str], hyps: Iterable[str]) -> List[Tuple[str, str]]:
    refs, hyps = list(refs), list(hyps)
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    return list(zip(refs, hyps))
