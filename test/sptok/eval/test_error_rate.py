"""Word and character error counts, and their corpus sums."""
from __future__ import annotations

import math

from sptok.eval.error_rate import ErrorCounts, char_errors, word_errors


def test_word_errors_counts_each_operation():
    counts = word_errors("a b c d", "a x c d e")
    assert (counts.ref_len, counts.substitutions, counts.deletions, counts.insertions) == \
        (4, 1, 0, 1)
    assert counts.rate == 50.0
    counts = word_errors("a b c d", "a d")
    assert (counts.substitutions, counts.deletions, counts.insertions) == (0, 2, 0)


def test_empty_sides():
    assert word_errors("", "a b").insertions == 2 and math.isnan(word_errors("", "a b").rate)
    assert word_errors("a b", "").deletions == 2 and word_errors("a b", "").rate == 100.0
    assert word_errors("", "").errors == 0


def test_char_errors_count_spaces():
    counts = char_errors("ab c", "abc")
    assert counts.ref_len == 4 and counts.deletions == 1 and counts.errors == 1
    assert char_errors("a  b", "a b").errors == 0  # whitespace runs are one space


def test_corpus_rate_is_summed_errors_over_summed_lengths():
    total = word_errors("a b c d", "a b c d") + word_errors("x", "y")
    assert total == ErrorCounts(5, 1, 0, 0)
    assert total.rate == 20.0  # not the mean of 0 % and 100 %
