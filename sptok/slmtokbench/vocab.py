"""Output vocabularies of the text-alignment CTC model: characters (the paper's) or phonemes.

Both put the CTC blank at index 0. A vocabulary turns a transcript into target ids, ids back into
a transcript, and a transcript into the units scored (words for WER; characters or phonemes for
CER / PER). Transcripts are normalised first with :func:`sptok.text.normalize.normalize_text`
(numbers and abbreviations spelled out, lower case, no punctuation), so references and
hypotheses are compared in the same form.
"""
from __future__ import annotations

import string
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from sptok.text.normalize import normalize_text

BLANK = "<blank>"
#: Phoneme-level word boundary (a CTC target, so that words can be scored).
WORD_BOUNDARY = "|"

#: ``transcript -> phonemes``, with WORD_BOUNDARY between words.
G2PFn = Callable[[str], List[str]]


class CharVocab:
    """Lower-case letters, apostrophe and space (LibriSpeech's alphabet); blank = 0.

    ``normalize`` spells out numbers and abbreviations (sptok.text), lower-cases, turns
    punctuation into word breaks, and drops letters outside the alphabet (:attr:`dropped` counts
    what was lost).
    """

    unit = "char"
    #: Name of the second error rate this vocabulary reports.
    token_metric = "cer"

    def __init__(self, letters: str = string.ascii_lowercase + "'"):
        self.symbols: List[str] = [BLANK, " "] + list(letters)
        self.index: Dict[str, int] = {s: i for i, s in enumerate(self.symbols)}
        self.dropped: Dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.symbols)

    def normalize(self, text: str) -> str:
        out = []
        for char in normalize_text(text, punctuation=False):
            if char in self.index and char != " ":
                out.append(char)
            elif char.isspace() or not char.isalnum():
                out.append(" ")
            else:
                self.dropped[char] = self.dropped.get(char, 0) + 1
        return " ".join("".join(out).split())

    def encode(self, text: str) -> List[int]:
        """Normalised transcript -> target ids (no blank)."""
        return [self.index[c] for c in self.normalize(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids (blanks and repeats already removed) -> transcript."""
        return " ".join("".join(self.symbols[i] for i in ids if i != 0).split())

    def scored_units(self, text: str) -> Tuple[List[str], List[str]]:
        """(words, characters incl. single spaces) of a normalised transcript."""
        words = text.split()
        return words, list(" ".join(words))

    def state(self) -> Dict[str, object]:
        return {"unit": self.unit, "symbols": self.symbols}


def _default_g2p(keep_stress: bool) -> G2PFn:
    """sptok.text's grapheme-to-phoneme conversion (text -> ARPAbet phonemes with WORD_BOUNDARY
    between words, no punctuation)."""
    try:
        from sptok.text.g2p import G2P  # loads the CMU dictionary: only when phonemes are used
    except ImportError as exc:
        raise ValueError("phoneme targets need sptok.text's G2P (sptok.text.g2p.G2P), which is "
                         f"not available here ({exc}); use unit: char") from exc
    return G2P(stress=keep_stress, word_sep=WORD_BOUNDARY, punctuation=False)


class PhonemeVocab:
    """ARPAbet phonemes (stress removed by default) with a word-boundary symbol; blank = 0.

    The phoneme set is fixed when the vocabulary is built from the training transcripts
    (:meth:`build`); phonemes of other sets outside it are dropped and counted.

    Args:
        symbols: phonemes, without blank and boundary.
        g2p: ``transcript -> phonemes`` with WORD_BOUNDARY between words; default sptok.text's
            G2P (which normalises the text itself).
        keep_stress: keep the CMU dictionary's stress digits (AH0/AH1).
    """

    unit = "phone"
    token_metric = "per"

    def __init__(self, symbols: Sequence[str], g2p: Optional[G2PFn] = None,
                 keep_stress: bool = False):
        self.g2p = g2p if g2p is not None else _default_g2p(keep_stress)
        self.keep_stress = keep_stress
        self.symbols: List[str] = [BLANK, WORD_BOUNDARY] + sorted(set(symbols))
        self.index: Dict[str, int] = {s: i for i, s in enumerate(self.symbols)}
        self.dropped: Dict[str, int] = {}

    @classmethod
    def build(cls, transcripts: Iterable[str], g2p: Optional[G2PFn] = None,
              keep_stress: bool = False) -> "PhonemeVocab":
        """The vocabulary of every phoneme in ``transcripts``."""
        vocab = cls([], g2p, keep_stress)
        phones = {p for text in transcripts for p in vocab.phonemes(text) if p != WORD_BOUNDARY}
        return cls(sorted(phones), vocab.g2p, keep_stress)

    def __len__(self) -> int:
        return len(self.symbols)

    def phonemes(self, text: str) -> List[str]:
        """Transcript -> phonemes with WORD_BOUNDARY between words (none at the ends, never
        two in a row)."""
        out: List[str] = []
        for phone in self.g2p(text):
            phone = phone.strip() if self.keep_stress else phone.strip().rstrip("012")
            if not phone or (phone == WORD_BOUNDARY and (not out or out[-1] == WORD_BOUNDARY)):
                continue
            out.append(phone)
        while out and out[-1] == WORD_BOUNDARY:
            out.pop()
        return out

    def normalize(self, text: str) -> str:
        """Transcript -> space-separated phonemes (with boundaries) of this vocabulary."""
        kept = []
        for phone in self.phonemes(text):
            if phone in self.index:
                kept.append(phone)
            else:
                self.dropped[phone] = self.dropped.get(phone, 0) + 1
        return " ".join(kept)

    def encode(self, text: str) -> List[int]:
        return [self.index[p] for p in self.normalize(text).split()]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.symbols[i] for i in ids if i != 0)

    def scored_units(self, text: str) -> Tuple[List[str], List[str]]:
        """(words as phoneme strings, phonemes without boundaries) of a normalised transcript."""
        phones = text.split()
        words = " ".join(phones).split(WORD_BOUNDARY)
        words = [w.strip() for w in words if w.strip()]
        return words, [p for p in phones if p != WORD_BOUNDARY]

    def state(self) -> Dict[str, object]:
        return {"unit": self.unit, "symbols": self.symbols, "keep_stress": self.keep_stress}


def build_vocab(unit: str, train_transcripts: Iterable[str], g2p: Optional[G2PFn] = None,
                keep_stress: bool = False):
    """The vocabulary for ``unit`` (``char`` | ``phone``)."""
    if unit == "char":
        return CharVocab()
    if unit == "phone":
        return PhonemeVocab.build(train_transcripts, g2p, keep_stress)
    raise ValueError(f"unit must be 'char' or 'phone', got '{unit}'")
