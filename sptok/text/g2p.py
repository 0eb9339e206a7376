"""English text -> ARPAbet phonemes, fully offline (g2p_en's method without nltk).

Pipeline: :func:`~sptok.text.normalize.normalize_text` (numbers, abbreviations, punctuation) ->
words -> :func:`~sptok.text.pos_tagger.pos_tag` -> per word, the first rule that applies:

1. spelled letters: a single capital letter (``Plan B``, ``U S A`` from ``U.S.A.``; ``A`` only
   next to another single capital or before the end of a sentence, else it is the article) and
   an all-capital word of two or more letters that the dictionary lacks (``XYZ``); only in text
   with some lower-case letters (in an all-capital transcript case says nothing);
2. homographs (:mod:`sptok.text.homographs`), chosen by the part-of-speech tag;
3. the CMU dictionary's first (most common) pronunciation;
4. ``word's``: the pronunciation of ``word`` (by these rules) plus ``S``, ``Z`` or ``IH0 Z``;
5. g2p_en's neural model (:class:`~sptok.text.oov.NeuralG2P`) for anything else.

Nothing here imports nltk or ``g2p_en`` itself, so nothing tries the network.

Output: one flat list of symbols, for example ``G2P()("Hello, world!")`` ->
``['HH', 'AH0', 'L', 'OW1', ',', '_', 'W', 'ER1', 'L', 'D', '!']``: phonemes, a word separator
between words (after punctuation, never before it), punctuation marks where the text has them.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from sptok.text.homographs import load_homographs
from sptok.text.lexicon import LETTER_NAMES, load_cmudict, phoneme_inventory, strip_stress
from sptok.text.normalize import PUNCTUATION, normalize_text, split_words
from sptok.text.oov import NeuralG2P
from sptok.text.pos_tagger import pos_tag

DEFAULT_WORD_SEP = "_"
_SIBILANTS = frozenset(["S", "Z", "SH", "ZH", "CH", "JH"])
_VOICELESS = frozenset(["P", "T", "K", "F", "TH"])


def _possessive_suffix(last_phoneme: str) -> List[str]:
    if last_phoneme in _SIBILANTS:
        return ["IH0", "Z"]
    return ["S"] if last_phoneme in _VOICELESS else ["Z"]


def _is_letter(token: Optional[str]) -> bool:
    return token is not None and len(token) == 1 and token.isupper()


def g2p_inventory(stress: bool = True, word_sep: Optional[str] = DEFAULT_WORD_SEP,
                  punctuation: bool = True) -> List[str]:
    """Every symbol :class:`G2P` with these options can output (phonemes sorted, then the word
    separator, then the marks), without loading the dictionary."""
    symbols = phoneme_inventory(stress)
    if word_sep is not None:
        symbols.append(word_sep)
    if punctuation:
        symbols.extend(PUNCTUATION)
    return symbols


class G2P:
    """Grapheme-to-phoneme conversion for English (see the module docstring).

    Args:
        stress: keep the stress digits of vowels (``AH0``, ``OW1``); ``False`` gives the 39
            bare ARPAbet phonemes.
        word_sep: symbol put between words; ``None`` puts nothing. It must not contain
            whitespace (token files are space-separated) nor be a phoneme or punctuation mark.
        punctuation: keep ``, . ! ?`` (prosody marks for TTS) in the output.
        oov_model: the model for words outside the dictionary (default: g2p_en's checkpoint).

    Loading the dictionary takes about a second once per process; calls are then ~1 ms per
    sentence (plus ~1 ms per new out-of-vocabulary word).
    """

    def __init__(self, stress: bool = True, word_sep: Optional[str] = DEFAULT_WORD_SEP,
                 punctuation: bool = True, oov_model: Optional[NeuralG2P] = None):
        if word_sep is not None:
            if not word_sep or any(c.isspace() for c in word_sep):
                raise ValueError(f"G2P: word_sep must be a non-empty symbol without whitespace "
                                 f"(or None), got {word_sep!r}")
            if word_sep in PUNCTUATION or word_sep in phoneme_inventory(stress=True) \
                    or word_sep in phoneme_inventory(stress=False):
                raise ValueError(f"G2P: word_sep {word_sep!r} clashes with a phoneme or a "
                                 "punctuation mark")
        self.stress = stress
        self.word_sep = word_sep
        self.punctuation = punctuation
        self.lexicon = load_cmudict()
        self.homographs = load_homographs()
        self.oov_model = oov_model if oov_model is not None else NeuralG2P()

    def inventory(self) -> List[str]:
        """Every symbol the output can hold: phonemes, then the word separator, then marks."""
        return g2p_inventory(self.stress, self.word_sep, self.punctuation)

    def word_phonemes(self, word: str, tag: str = "NN",
                      neighbours: Tuple[Optional[str], Optional[str]] = (None, None)
                      ) -> List[str]:
        """Phonemes (with stress) of one word as it appears in normalised, case-kept text.

        Args:
            word: letters and apostrophes; case matters only for spelled-out letters.
            tag: its Penn Treebank tag (chooses among homograph readings).
            neighbours: the tokens before and after it (a lone ``A`` is a letter only next to
                another single capital letter).
        """
        lower = word.lower()
        if _is_letter(word) and word != "I" and (word != "A" or self._letter_a(neighbours)):
            return list(LETTER_NAMES[lower])
        if len(word) > 1 and word.isalpha() and word.isupper() and lower not in self.lexicon:
            return [p for letter in lower for p in LETTER_NAMES[letter]]
        if lower in self.homographs:
            return list(self.homographs[lower].pronounce(tag))
        if lower in self.lexicon:
            return list(self.lexicon[lower][0])
        if lower.endswith("'s") and len(lower) > 2:
            base = self.word_phonemes(word[:-2], "NN", neighbours)
            if base:
                return base + _possessive_suffix(base[-1].rstrip("012"))
        return self.oov_model.predict(lower)

    @staticmethod
    def _letter_a(neighbours: Tuple[Optional[str], Optional[str]]) -> bool:
        """A capital ``A`` is the letter next to other single capitals (``U S A``) or at the
        end of a sentence (``plan A.``), where the article cannot be."""
        before, after = neighbours
        return _is_letter(before) or _is_letter(after) or after is None or after in PUNCTUATION

    def pronounce(self, text: str) -> List[Tuple[str, List[str]]]:
        """``(token, phonemes)`` for each word and mark of ``text`` (marks map to themselves)."""
        tokens = split_words(normalize_text(text, punctuation=self.punctuation, lowercase=False))
        if not any(c.islower() for c in text):
            # All-capital transcripts (LibriSpeech, MLS) say nothing through case: no spelling.
            tokens = [t.lower() for t in tokens]
        tagged = pos_tag([t.lower() for t in tokens])
        out: List[Tuple[str, List[str]]] = []
        for i, (token, (_, tag)) in enumerate(zip(tokens, tagged)):
            if token in PUNCTUATION:
                out.append((token, [token]))
                continue
            neighbours = (tokens[i - 1] if i > 0 else None,
                          tokens[i + 1] if i + 1 < len(tokens) else None)
            phonemes = self.word_phonemes(token, tag, neighbours)
            out.append((token, phonemes if self.stress else strip_stress(phonemes)))
        return out

    def __call__(self, text: str) -> List[str]:
        """Phonemes of ``text`` with word separators and punctuation marks (module docstring).

        Returns an empty list when nothing speakable is left after normalisation.
        """
        symbols: List[str] = []
        seen_word = False
        for token, phonemes in self.pronounce(text):
            if token in PUNCTUATION:
                if seen_word:
                    symbols.append(token)
                continue
            if not phonemes:
                continue
            if seen_word and self.word_sep is not None:
                symbols.append(self.word_sep)
            symbols.extend(phonemes)
            seen_word = True
        return symbols

    def batch(self, texts: Sequence[str]) -> List[List[str]]:
        return [self(text) for text in texts]

    def __repr__(self) -> str:
        return (f"G2P(stress={self.stress}, word_sep={self.word_sep!r}, "
                f"punctuation={self.punctuation})")
