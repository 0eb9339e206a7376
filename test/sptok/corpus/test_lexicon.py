import pytest

from sptok.corpus import lexicon


def test_every_word_is_in_cmudict():
    assert lexicon.words_missing_from_cmudict() == []


def test_pronounce_strips_stress_and_rejects_unknown_words():
    assert lexicon.pronounce("measure") == ["M", "EH", "ZH", "ER"]
    with pytest.raises(ValueError, match="qzxvword"):
        lexicon.pronounce("qzxvword")


def test_arpabet_has_the_39_cmudict_phonemes():
    assert len(set(lexicon.ARPABET)) == 39
    import re
    symbols = {re.sub(r"\d", "", p) for prons in lexicon.cmu_dictionary().values()
               for pron in prons for p in pron}
    assert symbols == set(lexicon.ARPABET)
