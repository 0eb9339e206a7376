"""Character and phoneme vocabularies of the CTC probe."""
from __future__ import annotations

import importlib.util

import pytest

from sptok.slmtokbench.vocab import CharVocab, PhonemeVocab, build_vocab


def test_char_vocab_normalises_and_round_trips():
    vocab = CharVocab()
    assert vocab.symbols[0] == "<blank>" and len(vocab) == 29
    text = vocab.normalize("HELLO, World!  It's 42 -- cafés")
    assert text == "hello world it's forty two cafes"
    assert vocab.normalize("Ωmega") == "mega"  # sptok.text keeps [a-z'] only
    small = CharVocab(letters="abc")
    assert small.normalize("A bad cab!") == "a ba cab" and small.dropped == {"d": 1}
    ids = vocab.encode("It's  a CAT.")
    assert 0 not in ids and vocab.decode(ids) == "it's a cat"
    assert vocab.decode([0, 1, 2, 1, 1, 3, 0]) == "a b"  # spaces collapse and trim
    words, chars = vocab.scored_units("ab cd")
    assert words == ["ab", "cd"] and chars == list("ab cd")


def fake_g2p(text: str):
    lexicon = {"hello": ["HH", "AH0", "L", "OW1"], "world": ["W", "ER1", "L", "D"]}
    out = []
    for word in text.lower().replace(",", " ").replace("!", " ").split():
        out += ["|"] + lexicon.get(word, ["AH0"] * len(word))
    return out[1:]


def test_phoneme_vocab_with_a_g2p():
    vocab = build_vocab("phone", ["Hello world", "hello"], g2p=fake_g2p)
    assert isinstance(vocab, PhonemeVocab)
    assert vocab.symbols[:2] == ["<blank>", "|"]
    assert sorted(vocab.symbols[2:]) == ["AH", "D", "ER", "HH", "L", "OW", "W"]
    text = vocab.normalize("Hello, world!")
    assert text == "HH AH L OW | W ER L D"
    assert vocab.decode(vocab.encode("Hello, world!")) == text
    words, phones = vocab.scored_units(text)
    assert words == ["HH AH L OW", "W ER L D"] and "|" not in phones and len(phones) == 8
    stressed = build_vocab("phone", ["hello"], g2p=fake_g2p, keep_stress=True)
    assert "AH0" in stressed.symbols
    vocab.g2p = lambda word: ["ZH"]  # unseen phoneme at evaluation: dropped and counted
    assert vocab.normalize("x") == "" and vocab.dropped == {"ZH": 1}
    with pytest.raises(ValueError, match="unit must be"):
        build_vocab("word", [])


@pytest.mark.skipif(importlib.util.find_spec("sptok.text.g2p") is None,
                    reason="sptok.text has no G2P here")
def test_phoneme_vocab_with_sptok_text_g2p():
    vocab = PhonemeVocab.build(["HELLO WORLD", "it's 2 cats."])
    assert vocab.normalize("Hello, world!") == "HH AH L OW | W ER L D"
    assert vocab.normalize("it's 2 cats.") == "IH T S | T UW | K AE T S"
    assert not any(s[-1].isdigit() for s in vocab.symbols)
    stressed = PhonemeVocab.build(["hello"], keep_stress=True)
    assert stressed.normalize("hello") == "HH AH0 L OW1"


def test_phoneme_vocab_without_sptok_text_g2p(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "sptok.text.g2p", None)  # import fails as if missing
    with pytest.raises(ValueError, match="need sptok.text's G2P"):
        PhonemeVocab.build(["hello"])
