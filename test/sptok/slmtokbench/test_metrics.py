"""Edit distance and corpus error rates."""
from __future__ import annotations

import itertools
import random

import pytest

from sptok.slmtokbench.metrics import (ErrorCounts, char_error_rate, edit_distance,
                                       word_error_rate)


def reference_distance(a, b) -> int:
    """Textbook O(nm) Levenshtein, for comparison."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i, j in itertools.product(range(1, len(a) + 1), range(1, len(b) + 1)):
        d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    return d[-1][-1]


@pytest.mark.parametrize("ref, hyp, expected", [
    ("", "", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3), ("abc", "abc", 0),
    ("abc", "cab", 2), ("aaaa", "aa", 2), ("flaw", "lawn", 2)])
def test_edit_distance_known(ref, hyp, expected):
    assert edit_distance(ref, hyp) == expected
    assert edit_distance(list(ref), list(hyp)) == expected


def test_edit_distance_matches_textbook():
    rng = random.Random(0)
    for _ in range(200):
        a = [rng.choice("abc") for _ in range(rng.randint(0, 9))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 9))]
        assert edit_distance(a, b) == reference_distance(a, b), (a, b)


def test_error_rates_are_corpus_level():
    refs = ["the cat sat", "on the mat"]
    hyps = ["the cat sat down", "on mat"]
    assert word_error_rate(refs, hyps) == pytest.approx(2 / 6)  # 1 insertion + 1 deletion
    assert char_error_rate(["ab cd"], ["ab  cd"]) == 0.0  # runs of spaces are one space
    assert char_error_rate(["ab cd"], ["abcd"]) == pytest.approx(1 / 5)
    with pytest.raises(ValueError, match="2 references but 1"):
        word_error_rate(refs, hyps[:1])
    counts = ErrorCounts()
    assert counts.rate != counts.rate  # NaN without references
    assert counts.add(["a"], ["b", "c"]) == 2 and counts.rate == 2.0
