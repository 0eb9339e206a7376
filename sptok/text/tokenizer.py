"""One interface over the three token types of the text front-end.

``build_tokenizer(token_type, ...)`` returns a callable ``text -> list of tokens`` with an
``inventory()`` method (every token it can produce, or None when that is open-ended):

- ``phn``: ARPAbet phonemes from :class:`sptok.text.g2p.G2P` (English only);
- ``bpe``: sentencepiece pieces from :class:`sptok.text.bpe.BpeTokenizer`;
- ``char``: characters of the cleaned text, the space written as the word separator.
"""
from __future__ import annotations

import string
from typing import List, Optional, Protocol

from sptok.text.bpe import BpeTokenizer
from sptok.text.g2p import DEFAULT_WORD_SEP, G2P
from sptok.text.normalize import CLEANERS, PUNCTUATION, clean_text
from sptok.utils.fileio import PathLike

TOKEN_TYPES = ("phn", "bpe", "char")


class TextTokenizer(Protocol):
    def __call__(self, text: str) -> List[str]: ...

    def inventory(self) -> Optional[List[str]]: ...


class CharTokenizer:
    """Text -> characters of the cleaned text; spaces become ``word_sep``.

    Args:
        cleaner: see :func:`sptok.text.normalize.clean_text`.
        punctuation: keep ``, . ! ?`` (english cleaner).
        word_sep: the symbol written for a space (no whitespace allowed).
    """

    def __init__(self, cleaner: str = "english", punctuation: bool = True,
                 word_sep: str = DEFAULT_WORD_SEP):
        if not word_sep or any(c.isspace() for c in word_sep):
            raise ValueError(f"CharTokenizer: word_sep must be a symbol without whitespace, "
                             f"got {word_sep!r}")
        if cleaner == "english" and (word_sep in string.ascii_lowercase + "'"
                                     or word_sep in PUNCTUATION):
            raise ValueError(f"CharTokenizer: word_sep {word_sep!r} is a character of the text")
        self.cleaner = cleaner
        self.punctuation = punctuation
        self.word_sep = word_sep

    def __call__(self, text: str) -> List[str]:
        return [self.word_sep if c == " " else c
                for c in clean_text(text, self.cleaner, self.punctuation)]

    def inventory(self) -> Optional[List[str]]:
        """Known only for the english cleaner (a-z, apostrophe, separator, marks)."""
        if self.cleaner != "english":
            return None
        symbols = list(string.ascii_lowercase) + ["'", self.word_sep]
        return symbols + (list(PUNCTUATION) if self.punctuation else [])


def build_tokenizer(token_type: str, cleaner: str = "english", punctuation: bool = True,
                    stress: bool = True, word_sep: Optional[str] = DEFAULT_WORD_SEP,
                    bpe_model: Optional[PathLike] = None) -> TextTokenizer:
    """A tokenizer of ``token_type`` (one of :data:`TOKEN_TYPES`).

    Args:
        token_type: ``phn``, ``bpe`` or ``char``.
        cleaner: text cleaner (``english`` or ``none``); ``phn`` needs ``english``.
        punctuation: keep punctuation marks as tokens (``phn``, ``char``) or in the text given to
            sentencepiece (``bpe``).
        stress: ``phn`` only: keep vowel stress digits.
        word_sep: ``phn``: symbol between words (None: none); ``char``: symbol for a space.
        bpe_model: ``bpe`` only: the sentencepiece model file.
    """
    if cleaner not in CLEANERS:
        raise ValueError(f"unknown text cleaner {cleaner!r}; choose one of {', '.join(CLEANERS)}")
    if token_type == "phn":
        if cleaner != "english":
            raise ValueError("token_type 'phn' needs the 'english' cleaner (G2P normalises "
                             "English text itself)")
        return G2P(stress=stress, word_sep=word_sep, punctuation=punctuation)
    if token_type == "bpe":
        if bpe_model is None:
            raise ValueError("token_type 'bpe' needs a sentencepiece model (bpe_model)")
        return BpeTokenizer(bpe_model, cleaner=cleaner, punctuation=punctuation)
    if token_type == "char":
        return CharTokenizer(cleaner=cleaner, punctuation=punctuation,
                             word_sep=word_sep or DEFAULT_WORD_SEP)
    raise ValueError(f"unknown token_type {token_type!r}; choose one of {', '.join(TOKEN_TYPES)}")
