import pytest

from sptok.text.normalize import normalize_text, split_words
from sptok.text.pos_tagger import pos_tag


def tag_of(sentence: str, word: str) -> str:
    tagged = pos_tag(split_words(normalize_text(sentence)))
    return next(tag for w, tag in tagged if w == word)


@pytest.mark.parametrize("sentence, word, tag", [
    ("I want to record it.", "record", "VB"),
    ("We will record the song.", "record", "VB"),
    ("Did they record it?", "record", "VB"),
    ("Record the song now.", "record", "VB"),
    ("It is a record.", "record", "NN"),
    ("The record is old.", "record", "NN"),
    ("She records an album.", "records", "VBZ"),
    ("The band records an album.", "records", "VBZ"),
    ("The old records are here.", "records", "NNS"),
    ("The device that records sound.", "records", "VBZ"),
    ("I read books every day.", "read", "VBP"),
    ("I read it yesterday.", "read", "VBD"),
    ("She read the letter.", "read", "VBD"),
    ("I have read it.", "read", "VBN"),
    ("The book was read aloud.", "read", "VBN"),
    ("You should read more.", "read", "VB"),
    ("Read this.", "read", "VB"),
    ("John read the book.", "read", "VBD"),
    ("It was a good read.", "read", "NN"),
    ("I often read it.", "read", "VBP"),
    ("Where do you live?", "live", "VB"),
    ("People live here.", "live", "VBP"),
    ("They live in Paris.", "live", "VBP"),
    ("A live show.", "live", "NN"),
    ("She is present.", "present", "JJ"),
    ("I used to go.", "used", "JJ"),
    ("He used the car.", "used", "VBD"),
    ("A used car.", "used", "JJ"),
    ("We read and record songs.", "record", "VBP"),
    ("Books and records.", "records", "NNS"),
])
def test_tags(sentence, word, tag):
    assert tag_of(sentence, word) == tag


def test_closed_classes_and_punctuation():
    assert pos_tag(["the", "dog", ",", "and", "i", "."]) == [
        ("the", "DT"), ("dog", "NN"), (",", ","), ("and", "CC"), ("i", "PRP"), (".", ".")]
    assert pos_tag([]) == []
