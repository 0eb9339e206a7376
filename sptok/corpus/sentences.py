"""Seeded English sentences from a template grammar, with normalised transcripts.

Each template is a sentence frame whose ``{slot}`` fields are filled with words of
:mod:`sptok.corpus.lexicon`. A seed fixes the whole stream, and the first ``n`` sentences of a
stream do not depend on how many are asked for, so a corpus that grows keeps its sentences.
Every sentence is kept only if it is new and its estimated spoken length is within bounds.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Iterator, List, Set

from sptok.corpus import lexicon

# Sentence frames. ``{a}`` becomes "a" or "an" from the next word's first phoneme.
TEMPLATES = (
    "The {adj} {noun} {verb} the {adj} {noun} {prep} the {place} {time}.",
    "{name} {verb} {a} {adj} {noun} {prep} the {place}, and then {pronoun} {intrans} {manner}.",
    "When the {noun} {intrans} {prep} the {place}, my {relative} {verb} the {adj} {nouns} "
    "{adverb}.",
    "Did you know that {name} {verb} {number} {adj} {nouns} {prep} the {place} {time}?",
    "My {relative} was {emotion} because the {adj} {noun} {verb} all of our {mass} {time}.",
    "{name} and {name} {adverb} {verb} the {noun} of the {adj} {noun} {manner}.",
    "After the {noun} {intrans}, the {adj} {nouns} {verb} {qmass} {mass} {prep} the {place}.",
    "I think the {adj} {noun} will {verb_base} the {noun} {prep} the {place} before {name} comes "
    "back.",
    "{number} {adj} {nouns} {intrans} {prep} the {place}, but nobody {verb} the {noun} {time}.",
    "Please ask the {noun} to {verb_base} {qmass} {mass} and bring it to the {place} {manner}.",
    "{name} {intrans} when {pronoun} saw the {adj} {noun} {prep} the {adj} {place}.",
    "Nobody could {verb_base} the {adj} {noun} that {name} had left {prep} the {place} {time}.",
    "It was {adj} of the {noun} to {verb_base} the {nouns} {prep} the {place} {manner}.",
    "The {nouns} from the {place} {verb} the {adj} {noun}, and {name} was very {emotion}.",
    "Why did the {adj} {noun} {verb_base} the {noun} of {name} {prep} the {place} {time}?",
    "{time}, the {adj} {noun} {intrans} {prep} the {place} and {verb} {a} {adj} {noun}.",
    "Our {relative} {adverb} {verb} the {adj} {mass} that the {noun} had brought {time}.",
    "If the {nouns} {intrans} again, {name} will {verb_base} them {prep} the {adj} {place}.",
)

_SLOT = re.compile(r"\{(\w+)\}")
_VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY",
                     "UH", "UW"})

# Spoken length model, fitted on 11 Debian voices (flite, festival, espeak-ng) at their default
# rate (a voice's own rate is its BaseVoice.duration_factor):
# seconds = _DUR_BIAS + _DUR_PER_PHONE * phones + _DUR_PER_PAUSE * pauses.
_DUR_BIAS = 0.45
_DUR_PER_PHONE = 0.075
_DUR_PER_PAUSE = 0.2


@dataclass(frozen=True)
class Sentence:
    """One sentence of the corpus.

    Attributes:
        index: position in the seeded stream (0-based); names the sentence in utterance ids.
        prompt: text given to the synthesisers (capitalised, with punctuation for prosody).
        text: normalised transcript (upper-case words, no punctuation), as in LibriSpeech.
        phones: ARPAbet phonemes (CMU dictionary, no stress) of the words of ``text``.
    """

    index: int
    prompt: str
    text: str
    phones: tuple

    @property
    def estimated_seconds(self) -> float:
        """Expected spoken length at a neutral speaking rate."""
        pauses = self.prompt.count(",") + 1
        return _DUR_BIAS + _DUR_PER_PHONE * len(self.phones) + _DUR_PER_PAUSE * pauses


def normalize_transcript(text: str) -> str:
    """Upper-case words separated by single spaces, punctuation removed (apostrophes kept).

    >>> normalize_transcript("Then, she smiled -- as usual!")
    'THEN SHE SMILED AS USUAL'
    """
    words = re.sub(r"[^A-Za-z']+", " ", text).upper().split()
    return " ".join(w.strip("'") for w in words if w.strip("'"))


def _slot_fillers(rng: random.Random) -> Dict[str, Callable[[], str]]:
    """Each grammar slot -> a function drawing one filler with ``rng``."""
    L = lexicon
    return {
        "name": lambda: rng.choice(L.NAMES).capitalize(),
        "noun": lambda: rng.choice(L.NOUNS)[0],
        "nouns": lambda: rng.choice(L.NOUNS)[1],
        "mass": lambda: rng.choice(L.MASS_NOUNS),
        "adj": lambda: rng.choice(L.ADJECTIVES),
        "verb": lambda: rng.choice(L.VERBS)[0],
        "verb_base": lambda: rng.choice(L.VERBS)[1],
        "intrans": lambda: rng.choice(L.INTRANSITIVE),
        "place": lambda: rng.choice(L.PLACES),
        "prep": lambda: rng.choice(L.PREPOSITIONS),
        "relative": lambda: rng.choice(L.RELATIVES),
        "adverb": lambda: rng.choice(L.ADVERBS),
        "manner": lambda: rng.choice(L.MANNER),
        "time": lambda: rng.choice(L.TIMES),
        "number": lambda: rng.choice(L.NUMBERS),
        "qmass": lambda: rng.choice(L.QUANTIFIED_MASS),
        "emotion": lambda: rng.choice(L.EMOTIONS),
        "pronoun": lambda: rng.choice(("he", "she", "they")),
        "a": lambda: "a",
    }


def _fix_articles(words: List[str]) -> List[str]:
    """"a" -> "an" before a word whose pronunciation starts with a vowel ("an usual" stays "a")."""
    out = list(words)
    for i in range(len(out) - 1):
        if out[i].lower() == "a":
            nxt = re.sub(r"[^A-Za-z']", "", out[i + 1])
            if nxt and lexicon.pronounce(nxt)[0] in _VOWELS:
                out[i] = "An" if out[i] == "A" else "an"
    return out


def _fill(template: str, fillers: Dict[str, Callable[[], str]]) -> str:
    prompt = _SLOT.sub(lambda m: fillers[m.group(1)](), template)
    prompt = " ".join(_fix_articles(prompt.split()))
    return prompt[0].upper() + prompt[1:]


def iter_sentences(seed: int, min_seconds: float = 3.3, max_seconds: float = 7.2
                   ) -> Iterator[Sentence]:
    """Endless stream of distinct sentences, fixed by ``seed``.

    Args:
        seed: random seed; the same seed gives the same stream.
        min_seconds, max_seconds: bounds on :attr:`Sentence.estimated_seconds` (the defaults
            leave room for the speaking-rate changes of the pseudo-speakers within 3-8 s).
    """
    if not 0 < min_seconds < max_seconds:
        raise ValueError(f"need 0 < min_seconds < max_seconds, got {min_seconds}, {max_seconds}")
    rng = random.Random(seed)
    fillers = _slot_fillers(rng)
    seen: Set[str] = set()
    index = 0
    misses = 0
    while True:
        prompt = _fill(rng.choice(TEMPLATES), fillers)
        text = normalize_transcript(prompt)
        phones = tuple(p for w in text.split() for p in lexicon.pronounce(w))
        sentence = Sentence(index=index, prompt=prompt, text=text, phones=phones)
        if text in seen or not min_seconds <= sentence.estimated_seconds <= max_seconds:
            misses += 1
            if misses > 100_000:  # cannot happen with the shipped grammar; guards edits to it
                raise ValueError("sentence grammar cannot produce more distinct sentences within "
                                 f"{min_seconds}-{max_seconds} s (after {index} sentences)")
            continue
        misses = 0
        seen.add(text)
        index += 1
        yield sentence


def generate_sentences(n: int, seed: int) -> List[Sentence]:
    """The first ``n`` sentences of the stream of ``seed`` (see :func:`iter_sentences`)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    stream = iter_sentences(seed)
    return [next(stream) for _ in range(n)]


def phoneme_counts(sentences: Iterable[Sentence]) -> Counter:
    """How often each ARPAbet phoneme occurs in ``sentences``."""
    counts: Counter = Counter()
    for s in sentences:
        counts.update(s.phones)
    return counts


def missing_phonemes(sentences: Iterable[Sentence]) -> List[str]:
    """ARPAbet phonemes (of the 39) that no sentence contains, in ARPAbet order."""
    counts = phoneme_counts(sentences)
    return [p for p in lexicon.ARPABET if counts[p] == 0]


def check_phoneme_coverage(sentences: Iterable[Sentence]) -> None:
    """Raise ValueError unless ``sentences`` contain all 39 ARPAbet phonemes."""
    missing = missing_phonemes(sentences)
    if missing:
        raise ValueError(f"sentences do not cover the ARPAbet phonemes {' '.join(missing)}")
