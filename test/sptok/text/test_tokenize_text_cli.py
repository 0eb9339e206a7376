"""The tokenize_text CLI (sptok/bin/tokenize_text.py) on small Kaldi text files."""
import pytest

from sptok.bin.tokenize_text import main
from sptok.data.kaldi_dir import read_kv_file
from sptok.text.symbol_table import SymbolTable

TEXT = ("utt1 Hello, world!\n"
        "utt2 Dr. Smith paid $3.50 in 1999.\n"
        "utt3 I read the zorblax record.\n")


@pytest.fixture
def in_text(tmp_path):
    path = tmp_path / "data" / "train" / "text"
    path.parent.mkdir(parents=True)
    path.write_text(TEXT)
    return path


def run(*args: str) -> int:
    return main([str(a) for a in args])


def test_phn_with_token_list(in_text, tmp_path, capsys):
    out, tokens = tmp_path / "dump" / "text", tmp_path / "dump" / "tokens.txt"
    assert run("--in_text", in_text, "--out_text", out, "--token_type", "phn",
               "--write_token_list", tokens) == 0
    result = read_kv_file(out)
    assert list(result) == ["utt1", "utt2", "utt3"]
    assert result["utt1"] == "HH AH0 L OW1 , _ W ER1 L D !"
    assert result["utt2"].startswith("D AA1 K T ER0 _ S M IH1 TH _ P EY1 D _ TH R IY1 _ D AA1")
    table = SymbolTable.load(tokens)
    assert len(table) == 78  # specials + 69 phonemes + separator + 4 marks: data-independent
    for line in result.values():
        table.encode(line.split())
    assert "3 utterances" in capsys.readouterr().err


def test_phn_options_and_data_token_list(in_text, tmp_path):
    out, tokens = tmp_path / "text", tmp_path / "tokens.txt"
    assert run("--in_text", in_text, "--out_text", out, "--token_type", "phn", "--stress",
               "false", "--word_sep", "none", "--punctuation", "false", "--write_token_list",
               tokens, "--token_list_from", "data") == 0
    assert read_kv_file(out)["utt1"] == "HH AH L OW W ER L D"
    seen = {t for line in read_kv_file(out).values() for t in line.split()}
    assert set(SymbolTable.load(tokens).symbols[4:]) == seen


def test_char(in_text, tmp_path):
    out = tmp_path / "text"
    assert run("--in_text", in_text, "--out_text", out, "--token_type", "char") == 0
    assert read_kv_file(out)["utt1"] == "h e l l o , _ w o r l d !"


def test_bpe_train_and_encode(in_text, tmp_path):
    model, out, tokens = tmp_path / "bpe" / "bpe.model", tmp_path / "text", tmp_path / "tok.txt"
    assert run("--in_text", in_text, "--out_text", out, "--token_type", "bpe", "--bpe_model",
               model, "--bpe_train", "true", "--bpe_vocab_size", "40",
               "--write_token_list", tokens) == 0
    assert model.is_file() and model.with_suffix(".vocab").is_file()
    pieces = read_kv_file(out)["utt1"].split()
    assert "".join(pieces).replace("\u2581", " ").strip() == "hello, world!"
    assert len(SymbolTable.load(tokens)) == 4 + 37
    # Re-use the trained model on another set.
    assert run("--in_text", in_text, "--out_text", tmp_path / "again", "--token_type", "bpe",
               "--bpe_model", model, "--token_list", tokens) == 0
    assert read_kv_file(tmp_path / "again") == read_kv_file(out)


def test_errors_name_the_key(in_text, tmp_path, capsys):
    bad = tmp_path / "bad_text"
    bad.write_text("utt1 Hello\nutt2 ???\n")
    out = tmp_path / "out"
    assert run("--in_text", bad, "--out_text", out, "--token_type", "phn") == 1
    err = capsys.readouterr().err
    assert "key 'utt2'" in err and "no tokens" in err
    assert not out.exists()  # nothing half-written


def test_token_list_check_and_map_unk(in_text, tmp_path, capsys):
    small = SymbolTable.from_inventory(list("helowrd,_!"))
    small.save(tmp_path / "small.txt")
    args = ["--in_text", in_text, "--out_text", tmp_path / "out", "--token_type", "char",
            "--token_list", tmp_path / "small.txt"]
    assert run(*args) == 1
    err = capsys.readouterr().err
    assert "key 'utt2'" in err and "'c'" in err and "not in the token list" in err
    assert run(*args, "--map_unk", "true") == 0
    assert "<unk>" in read_kv_file(tmp_path / "out")["utt2"].split()


def test_bad_options(in_text, tmp_path, capsys):
    assert run("--in_text", in_text, "--out_text", tmp_path / "o", "--token_type", "bpe") == 1
    assert "needs --bpe_model" in capsys.readouterr().err
    assert run("--in_text", tmp_path / "missing", "--out_text", tmp_path / "o",
               "--token_type", "char") == 1
    assert "file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run("--in_text", in_text, "--out_text", tmp_path / "o", "--token_type", "char",
            "--punctuation", "yes")
