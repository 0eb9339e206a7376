import re

import pytest

from sptok.corpus.lexicon import ARPABET
from sptok.corpus.sentences import (check_phoneme_coverage, generate_sentences,
                                    missing_phonemes, normalize_transcript, phoneme_counts)


@pytest.fixture(scope="module")
def sentences():
    return generate_sentences(2000, seed=1)


def test_2000_distinct_sentences(sentences):
    assert len({s.text for s in sentences}) == 2000
    assert [s.index for s in sentences] == list(range(2000))


def test_all_39_arpabet_phonemes_are_covered(sentences):
    assert missing_phonemes(sentences) == []
    check_phoneme_coverage(sentences)
    counts = phoneme_counts(sentences)
    assert len(counts) == 39
    assert min(counts[p] for p in ARPABET) >= 100  # rare ones (ZH, OY, UH) are not rare here


def test_coverage_check_names_missing_phonemes(sentences):
    no_zh = [s for s in sentences if "ZH" not in s.phones]
    assert missing_phonemes(no_zh) == ["ZH"]
    with pytest.raises(ValueError, match="ZH"):
        check_phoneme_coverage(no_zh)


def test_same_seed_same_sentences_and_streams_extend(sentences):
    again = generate_sentences(2000, seed=1)
    assert [s.text for s in again] == [s.text for s in sentences]
    assert [s.prompt for s in generate_sentences(50, seed=1)] == \
        [s.prompt for s in sentences[:50]]
    other = generate_sentences(50, seed=2)
    assert [s.text for s in other] != [s.text for s in sentences[:50]]


def test_transcripts_are_normalised(sentences):
    for s in sentences:
        assert re.fullmatch(r"[A-Z']+( [A-Z']+)*", s.text), s.text
        assert s.text == normalize_transcript(s.prompt)
        assert s.prompt[0].isupper() and s.prompt[-1] in ".?"


def test_estimated_lengths_are_3_to_8_seconds(sentences):
    secs = [s.estimated_seconds for s in sentences]
    assert 3.0 < min(secs) and max(secs) < 8.0
    words = [len(s.text.split()) for s in sentences]
    assert 8 <= min(words) and max(words) <= 30


def test_articles_follow_pronunciation(sentences):
    for s in sentences:
        assert not re.search(r"\ban (?:usual|useful|[bcdfgjklmnpqrstvwxz])", s.prompt.lower()), \
            s.prompt
        assert not re.search(r"\ba [aeio]", s.prompt.lower()), s.prompt


def test_normalize_transcript():
    assert normalize_transcript("Then, she smiled -- as usual!") == "THEN SHE SMILED AS USUAL"
    assert normalize_transcript("  Don't  stop. ") == "DON'T STOP"


def test_bad_arguments():
    with pytest.raises(ValueError):
        generate_sentences(-1, seed=0)
