"""English normalisation before WER: case, punctuation, numbers written as digits."""
from __future__ import annotations

import pytest

from sptok.eval.text_norm import normalize_text


@pytest.mark.parametrize("text,expected", [
    ("THE QUICK, BROWN FOX!", "the quick brown fox"),
    ("My brother bought 3 red apples in 1999.",
     "my brother bought three red apples in nineteen ninety nine"),
    ("It costs $5.50, or 10% of 1,500.",
     "it costs five dollars and fifty cents or ten percent of one thousand five hundred"),
    ("$1 and £3", "one dollar and three pounds"),
    ("The 21st of May, at 5:30, 7:05 and 9:00.",
     "the twenty first of may at five thirty seven oh five and nine o'clock"),
    ("In the 1990s and 80s", "in the nineteen nineties and eighties"),
    ("Mr. Smith said \u201cdon\u2019t\u201d to 'them'", "mister smith said don't to them"),
    ("Rock & roll -- twenty-one", "rock and roll twenty one"),
    ("3.14 and .5", "three point one four and point five"),
    ("2024 2005 2000 1905 1200 99 12345",
     "twenty twenty four two thousand five two thousand nineteen oh five twelve hundred "
     "ninety nine twelve thousand three hundred forty five"),
    ("He's OK", "he's okay"),
    ("Mr Smith met Dr. Jones", "mister smith met doctor jones"),
    ("sea-shore", "sea shore"),
    ("  ...  ", ""),
])
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


def test_digits_and_words_meet():
    """What Whisper writes and what a word-level reference says normalise alike."""
    assert normalize_text("Bought 3 apples in 1999.") == \
        normalize_text("BOUGHT THREE APPLES IN NINETEEN NINETY NINE")
    assert normalize_text("the 2nd time, 25% off") == \
        normalize_text("The second time, twenty five percent off")


def test_idempotent():
    text = "Dr. Who's 3rd visit in 1985 cost $12.99 (about 10%)."
    once = normalize_text(text)
    assert normalize_text(once) == once
