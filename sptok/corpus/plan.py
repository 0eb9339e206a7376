"""Which speaker says which sentence in which set: the corpus plan, fixed by a seed.

Every utterance gets its own sentence, so dev and test (train speakers) hear sentences that train
never has, and test_unseen has speakers that train never has. Each set is filled round-robin over
its speakers until its share of the hours is reached (by estimated length), then up to a whole
round, so speakers in a set have equal utterance counts. A sentence goes to a speaker only if its
estimated length for that speaker's rate fits the length bounds; sentences that do not fit are
kept for the next speaker.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Dict, Iterator, List, Mapping, Sequence

from sptok.corpus.sentences import Sentence, iter_sentences
from sptok.corpus.voices import Speaker

SUBSETS = ("train", "dev", "test", "test_unseen")

# Share of the hours for each held-out set; train gets the rest.
DEFAULT_SHARES: Mapping[str, float] = {"dev": 0.04, "test": 0.04, "test_unseen": 0.06}


@dataclass(frozen=True)
class PlannedUtterance:
    """One utterance to synthesise.

    Attributes:
        utt_id: ``<speaker id>_<sentence index, 6 digits>`` (speaker first, Kaldi convention).
        subset: one of :data:`SUBSETS`.
        speaker: who says it.
        sentence: what is said.
    """

    utt_id: str
    subset: str
    speaker: Speaker
    sentence: Sentence

    @property
    def estimated_seconds(self) -> float:
        return self.sentence.estimated_seconds * self.speaker.duration_factor


class _SentenceSupply:
    """Hands out each sentence of a stream once, to the first speaker whose length bounds fit."""

    def __init__(self, stream: Iterator[Sentence], min_seconds: float, max_seconds: float):
        self._stream = stream
        self._pending: List[Sentence] = []
        self._min, self._max = min_seconds, max_seconds

    def take(self, speaker: Speaker) -> Sentence:
        def fits(s: Sentence) -> bool:
            return self._min <= s.estimated_seconds * speaker.duration_factor <= self._max

        for i, s in enumerate(self._pending):
            if fits(s):
                return self._pending.pop(i)
        for _ in range(10_000):
            s = next(self._stream)
            if fits(s):
                return s
            self._pending.append(s)
        raise ValueError(f"no sentence fits speaker {speaker.id} (rate factor "
                         f"{speaker.duration_factor:.2f}) within {self._min}-{self._max} s")


def plan_corpus(speakers: Sequence[Speaker], hours: float, seed: int,
                shares: Mapping[str, float] = DEFAULT_SHARES, min_seconds: float = 3.5,
                max_seconds: float = 7.0, min_utts_per_unseen_speaker: int = 3,
                min_utts_dev_test: int = 2) -> List[PlannedUtterance]:
    """Plan a corpus of about ``hours`` hours (estimated) over ``speakers``.

    Args:
        speakers: all speakers; those with ``unseen`` go to test_unseen only, the rest to train,
            dev and test.
        hours: target total length; small values still give every set its minimum
            (one utterance per train speaker, ``min_utts_dev_test`` in dev and test,
            ``min_utts_per_unseen_speaker`` per unseen speaker).
        seed: fixes the sentences and the speaker rotation.
        shares: fraction of the hours for dev, test and test_unseen.
        min_seconds, max_seconds: bounds on each utterance's estimated length.

    Returns:
        utterances in plan order (set by set, round-robin over speakers).
    """
    if hours <= 0:
        raise ValueError(f"hours must be > 0, got {hours}")
    if set(shares) != set(SUBSETS[1:]) or sum(shares.values()) >= 1:
        raise ValueError(f"shares must give dev, test and test_unseen, summing below 1: {shares}")
    seen = sorted((s for s in speakers if not s.unseen), key=lambda s: s.id)
    unseen = sorted((s for s in speakers if s.unseen), key=lambda s: s.id)
    if not seen or not unseen:
        raise ValueError("need at least one training speaker and one unseen speaker, got "
                         f"{[s.id for s in seen]} and {[s.id for s in unseen]}")
    if len({s.id for s in speakers}) != len(speakers):
        raise ValueError(f"duplicate speaker ids in {[s.id for s in speakers]}")

    rng = random.Random(seed)
    supply = _SentenceSupply(iter_sentences(seed), min_seconds, max_seconds)
    budget: Dict[str, float] = {k: hours * 3600 * v for k, v in shares.items()}
    budget["train"] = hours * 3600 - sum(budget.values())
    minimum = {"train": len(seen), "dev": min_utts_dev_test, "test": min_utts_dev_test,
               "test_unseen": min_utts_per_unseen_speaker * len(unseen)}
    # train and test_unseen end on whole rounds (equal counts per speaker); dev and test are
    # small and just continue the rotation
    whole_rounds = {"train": True, "dev": False, "test": False, "test_unseen": True}

    plan: List[PlannedUtterance] = []
    for subset in SUBSETS:
        pool = unseen if subset == "test_unseen" else seen
        offset = rng.randrange(len(pool))
        total, k = 0.0, 0
        while (total < budget[subset] or k < minimum[subset]
               or (whole_rounds[subset] and k % len(pool) != 0)):
            speaker = pool[(offset + k) % len(pool)]
            sentence = supply.take(speaker)
            utt = PlannedUtterance(f"{speaker.id}_{sentence.index:06d}", subset, speaker,
                                   sentence)
            plan.append(utt)
            total += utt.estimated_seconds
            k += 1
    return plan
