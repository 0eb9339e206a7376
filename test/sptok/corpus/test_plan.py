from collections import Counter

import pytest

from sptok.corpus.plan import SUBSETS, plan_corpus
from sptok.corpus.voices import default_speakers


@pytest.fixture(scope="module")
def plan():
    return plan_corpus(default_speakers(), hours=2.5, seed=1)


def _speakers(plan, subset):
    return {u.speaker.id for u in plan if u.subset == subset}


def test_sets_and_speakers(plan):
    assert {u.subset for u in plan} == set(SUBSETS)
    train = _speakers(plan, "train")
    assert not train & _speakers(plan, "test_unseen")
    assert _speakers(plan, "dev") <= train and _speakers(plan, "test") <= train
    assert train == {s.id for s in default_speakers() if not s.unseen}
    assert _speakers(plan, "test_unseen") == {s.id for s in default_speakers() if s.unseen}


def test_every_utterance_has_its_own_sentence(plan):
    texts = [u.sentence.text for u in plan]
    assert len(set(texts)) == len(texts)


def test_ids_start_with_the_speaker(plan):
    ids = [u.utt_id for u in plan]
    assert len(set(ids)) == len(ids)
    assert all(u.utt_id.startswith(u.speaker.id + "_") for u in plan)


def test_size_follows_hours_and_sets_are_balanced(plan):
    hours = sum(u.estimated_seconds for u in plan) / 3600
    assert 2.4 < hours < 2.7
    train_counts = Counter(u.speaker.id for u in plan if u.subset == "train")
    assert len(set(train_counts.values())) == 1
    unseen_counts = Counter(u.speaker.id for u in plan if u.subset == "test_unseen")
    assert len(set(unseen_counts.values())) == 1 and min(unseen_counts.values()) >= 10
    assert all(3.5 <= u.estimated_seconds <= 7.0 for u in plan)


def test_tiny_plan_keeps_minimum_sets():
    plan = plan_corpus(default_speakers(), hours=0.001, seed=3)
    counts = Counter(u.subset for u in plan)
    n_unseen = sum(s.unseen for s in default_speakers())
    assert counts["test_unseen"] == 3 * n_unseen  # prompts from other utterances exist
    assert counts["dev"] >= 2 and counts["test"] >= 2
    assert counts["train"] == len(default_speakers()) - n_unseen


def test_deterministic():
    a = plan_corpus(default_speakers(), hours=0.2, seed=5)
    b = plan_corpus(default_speakers(), hours=0.2, seed=5)
    c = plan_corpus(default_speakers(), hours=0.2, seed=6)
    assert [(u.utt_id, u.subset, u.sentence.text) for u in a] == \
        [(u.utt_id, u.subset, u.sentence.text) for u in b]
    assert [u.sentence.text for u in a] != [u.sentence.text for u in c]


def test_bad_arguments():
    speakers = default_speakers()
    with pytest.raises(ValueError, match="hours"):
        plan_corpus(speakers, hours=0, seed=1)
    with pytest.raises(ValueError, match="unseen"):
        plan_corpus([s for s in speakers if not s.unseen], hours=0.1, seed=1)
    with pytest.raises(ValueError, match="shares"):
        plan_corpus(speakers, hours=0.1, seed=1, shares={"dev": 0.5, "test": 0.5,
                                                         "test_unseen": 0.1})
