"""English text normalisation before WER/CER scoring.

Reference transcripts (LibriSpeech upper case, our corpus in mixed case with punctuation) and ASR
output (Whisper writes digits, punctuation and casing) spell the same words differently. Scoring
compares both in one canonical form, so that a spelling difference is not counted as an error.

The canonical form is the project's TTS normalisation (:func:`sptok.text.normalize.normalize_text`
without punctuation: lower case; numbers, currency, times, ordinals, decades, years written as
words; abbreviations and symbols expanded; hyphens and punctuation removed; apostrophes inside
words kept), followed by a few scoring-only spelling unifications (``ok`` -> ``okay``). Writing
numbers as words rather than digits (the other direction from Whisper's own
``EnglishTextNormalizer``) suits references that are written in words. Compound words
("seashells" vs "sea shells") and British/American spellings are not unified.
"""
from __future__ import annotations

from sptok.text.normalize import normalize_text as normalize_spoken

#: Spelling variants of one word, unified only for scoring.
SPELLING_VARIANTS = {"ok": "okay", "mr": "mister", "mrs": "missus", "dr": "doctor"}


def normalize_text(text: str) -> str:
    """Canonical lower-case word sequence of an English transcript (see the module docstring).

    Returns:
        words separated by single spaces, no leading or trailing space; "" for no words.
    """
    words = normalize_spoken(text, punctuation=False).split()
    return " ".join(SPELLING_VARIANTS.get(word, word) for word in words)
