from sptok.text.lexicon import (CONSONANTS, LETTER_NAMES, VOWELS, load_cmudict, phoneme_inventory,
                                strip_stress)


def test_inventory_sizes():
    assert len(VOWELS) + len(CONSONANTS) == 39
    assert len(phoneme_inventory(stress=False)) == 39
    assert len(phoneme_inventory(stress=True)) == 69
    assert "AH0" in phoneme_inventory() and "AH" not in phoneme_inventory()


def test_cmudict_has_no_comment_tokens_and_only_arpabet():
    lexicon = load_cmudict()
    assert len(lexicon) > 100_000
    # cmudict.dict() keeps "# place, danish" as phonemes for this entry; our parser does not.
    assert lexicon["aalborg"][0] == ("AO1", "L", "B", "AO0", "R", "G")
    assert lexicon["hello"][0] == ("HH", "AH0", "L", "OW1")
    assert lexicon["read"] == (("R", "EH1", "D"), ("R", "IY1", "D"))  # "(2)" variants merged
    inventory = set(phoneme_inventory())
    assert {p for prons in lexicon.values() for pron in prons for p in pron} <= inventory


def test_letter_names_and_strip_stress():
    assert set(LETTER_NAMES) == set("abcdefghijklmnopqrstuvwxyz")
    assert all(p in phoneme_inventory() for pron in LETTER_NAMES.values() for p in pron)
    assert strip_stress(["HH", "AH0", "L", "OW1"]) == ["HH", "AH", "L", "OW"]
