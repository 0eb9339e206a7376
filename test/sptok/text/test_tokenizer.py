import pytest

from sptok.text.bpe import BpeTokenizer
from sptok.text.g2p import G2P
from sptok.text.tokenizer import CharTokenizer, build_tokenizer


def test_char_tokenizer():
    tokenizer = CharTokenizer()
    assert tokenizer("Hi, 2 U!") == ["h", "i", ",", "_", "t", "w", "o", "_", "u", "!"]
    assert set(tokenizer("Don't stop.")) <= set(tokenizer.inventory())
    raw = CharTokenizer(cleaner="none", word_sep="<space>")
    assert raw("Ça va") == ["\u00c7", "a", "<space>", "v", "a"]
    assert raw.inventory() is None
    with pytest.raises(ValueError, match="character of the text"):
        CharTokenizer(word_sep="a")


def test_build_tokenizer(tmp_path):
    assert isinstance(build_tokenizer("phn"), G2P)
    assert isinstance(build_tokenizer("char"), CharTokenizer)
    with pytest.raises(ValueError, match="needs a sentencepiece model"):
        build_tokenizer("bpe")
    with pytest.raises(FileNotFoundError):
        build_tokenizer("bpe", bpe_model=tmp_path / "nope.model")
    with pytest.raises(ValueError, match="needs the 'english' cleaner"):
        build_tokenizer("phn", cleaner="none")
    with pytest.raises(ValueError, match="unknown token_type"):
        build_tokenizer("word")
    with pytest.raises(ValueError, match="unknown text cleaner"):
        build_tokenizer("char", cleaner="basic")
    assert BpeTokenizer  # the bpe path is exercised in test_bpe and the CLI tests
