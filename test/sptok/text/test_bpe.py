import pytest

from sptok.data.errors import DataError
from sptok.text.bpe import BpeTokenizer, train_bpe

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A lazy dog sleeps in the warm sun all day.",
    "Foxes are quick and clever animals.",
    "Dr. Smith paid $3.50 for 2 brown loaves of bread.",
    "The sun rises in the east and sets in the west.",
] * 4


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "text"
    path.write_text("".join(f"utt{i:03d} {s}\n" for i, s in enumerate(SENTENCES)))
    return path


def test_train_and_encode(text_file, tmp_path, capfd):
    model = train_bpe(text_file, tmp_path / "bpe", vocab_size=60)
    assert model == tmp_path / "bpe" / "bpe.model"
    assert sorted(p.name for p in model.parent.iterdir()) == ["bpe.model", "bpe.vocab"]
    assert capfd.readouterr().err == ""  # sentencepiece kept quiet
    tokenizer = BpeTokenizer(model)
    pieces = tokenizer("The lazy fox paid $3.")
    assert "".join(pieces).replace("\u2581", " ").strip() == "the lazy fox paid three dollars."
    inventory = tokenizer.inventory()
    assert len(inventory) == 57 and "<unk>" not in inventory and "<s>" not in inventory
    assert set(pieces) <= set(inventory)
    assert tokenizer("???") == []


def test_vocab_too_large(text_file, tmp_path):
    with pytest.raises(ValueError, match=r"vocab_size=5000: .*Vocabulary size too high"):
        train_bpe(text_file, tmp_path / "bpe", vocab_size=5000)
    assert list((tmp_path / "bpe").iterdir()) == []  # no temporary files left


def test_empty_utterance_named(tmp_path):
    path = tmp_path / "text"
    path.write_text("utt1 hello there\nutt2 ???\n")
    with pytest.raises(DataError, match="key 'utt2'.*empty after"):
        train_bpe(path, tmp_path / "bpe", vocab_size=20)


def test_bad_options(text_file, tmp_path):
    with pytest.raises(ValueError, match="model_type"):
        train_bpe(text_file, tmp_path, vocab_size=50, model_type="wordpiece")
    with pytest.raises(FileNotFoundError):
        BpeTokenizer(tmp_path / "missing.model")
