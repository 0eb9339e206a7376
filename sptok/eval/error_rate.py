"""Word and character error counts (Levenshtein alignment by jiwer) on normalised text.

Corpus error rates are summed errors over summed reference lengths (not a mean of per-utterance
rates), as in sclite and ESPnet's scoring. Character counts include the spaces between words.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCounts:
    """Edit operations aligning a hypothesis to a reference.

    Attributes:
        ref_len: reference length (words or characters).
        substitutions, deletions, insertions: edit counts.
    """

    ref_len: int
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Error rate in percent; NaN for an empty reference."""
        return 100.0 * self.errors / self.ref_len if self.ref_len else math.nan

    def __add__(self, other: "ErrorCounts") -> "ErrorCounts":
        return ErrorCounts(self.ref_len + other.ref_len,
                           self.substitutions + other.substitutions,
                           self.deletions + other.deletions,
                           self.insertions + other.insertions)


def word_errors(ref: str, hyp: str) -> ErrorCounts:
    """Word edit counts between two normalised transcripts (words split on whitespace)."""
    import jiwer

    ref_words, hyp_words = ref.split(), hyp.split()
    if not ref_words:
        return ErrorCounts(0, insertions=len(hyp_words))
    if not hyp_words:
        return ErrorCounts(len(ref_words), deletions=len(ref_words))
    out = jiwer.process_words(" ".join(ref_words), " ".join(hyp_words))
    return ErrorCounts(len(ref_words), out.substitutions, out.deletions, out.insertions)


def char_errors(ref: str, hyp: str) -> ErrorCounts:
    """Character edit counts (single spaces between words count as characters)."""
    import jiwer

    ref, hyp = " ".join(ref.split()), " ".join(hyp.split())
    if not ref:
        return ErrorCounts(0, insertions=len(hyp))
    if not hyp:
        return ErrorCounts(len(ref), deletions=len(ref))
    out = jiwer.process_characters(ref, hyp)
    return ErrorCounts(len(ref), out.substitutions, out.deletions, out.insertions)
