"""End to end: the probe learns a toy spelling, MI separates dependent from independent tokens,
outputs and the command line."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import yaml

from sptok.data.ark import CodesWriter, iter_codes
from sptok.slmtokbench import cli
from sptok.slmtokbench.data import AlignedSet
from sptok.slmtokbench.downstream import greedy_decode
from sptok.slmtokbench.text_alignment import load_probe, resolve_config, run_text_alignment
from sptok.slmtokbench.token_sources import TokenStream
from sptok.utils.config import ConfigError

TINY = {"hidden_size": 32, "embed_dim": 16, "dropout": 0.0, "lr": 1e-2, "batch_size": 8,
        "max_epochs": 100, "max_steps": 150, "mi_batch_size": 16, "progress": False}


def test_probe_learns_toy_spelling(tmp_path, toy):
    train_scp, train_text, _ = toy.make(tmp_path, "train", 96, seed=1)
    test_scp, test_text, texts = toy.make(tmp_path, "test", 32, seed=2)
    stream = TokenStream(train_scp, "units", vocab_size=toy.vocab_size)
    out = tmp_path / "exp"
    results = run_text_alignment(stream, train_text, {"test": (test_scp, test_text)}, TINY, out)

    test = results["test"]
    assert test["n_utts"] == 32 and test["wer"] == 0.0 and test["cer"] == 0.0
    assert test["mi_unit"] == "nats" and test["mi_batches"] == 2
    assert test["mi_mean"] > 10 and test["mi_min"] <= test["mi_mean"] <= test["mi_max"]
    assert test["mi_infonce_mean"] == pytest.approx(math.log(16), abs=0.1)

    report = yaml.safe_load((out / "results.yaml").read_text())
    assert report["results"]["test"]["wer"] == 0.0 and report["train"]["steps"] == 150
    assert yaml.safe_load((out / "config.yaml").read_text())["hidden_size"] == 32
    hyps = dict(line.split(" ", 1) for line in (out / "test" / "hyp").read_text().splitlines())
    assert hyps == {k: v.lower() for k, v in texts.items()}

    model, vocab, ckpt = load_probe(out / "model.pt")
    assert ckpt["stream"]["kind"] == "units" and vocab.symbols[0] == "<blank>"
    data = AlignedSet("test", stream.with_scp(test_scp), test_text, vocab)
    inputs, lengths, _ = data.batch(range(4))
    with torch.no_grad():
        decoded = [vocab.decode(ids) for ids in greedy_decode(model(inputs, lengths), lengths)]
    assert decoded == [data.refs[i] for i in range(4)]


def test_independent_tokens_carry_no_information(tmp_path, toy):
    train_scp, train_text, _ = toy.make(tmp_path, "train", 96, seed=1, dependent=False)
    test_scp, test_text, _ = toy.make(tmp_path, "test", 32, seed=2, dependent=False)
    stream = TokenStream(train_scp, "units", vocab_size=toy.vocab_size)
    conf = dict(TINY, max_steps=100, valid_fraction=0.25, patience=2, max_epochs=8)
    results = run_text_alignment(stream, train_text, {"test": (test_scp, test_text)}, conf,
                                 tmp_path / "exp")
    test = results["test"]
    assert abs(test["mi_mean"]) < 1.0 and test["mi_infonce_mean"] < 0.5
    assert test["wer"] > 0.9
    report = yaml.safe_load((tmp_path / "exp" / "results.yaml").read_text())
    assert report["train"]["best_valid_loss"] is not None
    assert report["train"]["train_utts"] == 72


def write_codes(tmp_path, name, units_scp, seed):
    """Codes [T, 2]: level 1 the toy units, level 2 noise."""
    rng = np.random.default_rng(seed)
    with CodesWriter(tmp_path / f"{name}.ark", tmp_path / f"{name}.scp") as writer:
        for key, units in iter_codes(units_scp):
            writer[key] = np.concatenate([units, rng.integers(0, 7, units.shape)], axis=1)
    return tmp_path / f"{name}.scp"


def test_command_line_with_codec_codes(tmp_path, toy, capsys):
    train_units, train_text, _ = toy.make(tmp_path, "train", 16, seed=1)
    test_units, test_text, _ = toy.make(tmp_path, "test", 8, seed=2)
    train_scp = write_codes(tmp_path, "train_codes", train_units, 0)
    test_scp = write_codes(tmp_path, "test_codes", test_units, 1)
    state = {f"quantizer.vq.layers.{i}._codebook.embed": torch.randn(7, 4) for i in range(2)}
    torch.save({"model": state}, tmp_path / "tokenizer.pt")
    (tmp_path / "conf.yaml").write_text("hidden_size: 8\nmi_batch_size: 4\nprogress: false\n")
    args = ["--kind", "codes", "--levels", "1:2", "--codebooks", str(tmp_path / "tokenizer.pt"),
            "--train", str(train_scp), str(train_text),
            "--eval", "test", str(test_scp), str(test_text),
            "--config", str(tmp_path / "conf.yaml"),
            "--out_dir", str(tmp_path / "exp"), "--max_steps", "3", "--num_threads", "1"]
    results = cli.main(args)
    assert results["test"]["n_utts"] == 8 and results["test"]["mi_batches"] == 2
    assert "mi_mean" in capsys.readouterr().out
    ckpt = torch.load(tmp_path / "exp" / "model.pt", weights_only=True)
    assert ckpt["model_args"]["feat_dim"] == 4 and ckpt["stream"]["levels"] == "1:2"
    bad = list(args)
    bad[bad.index("1:2")] = "1:3"
    with pytest.raises(SystemExit, match="level 3 but only 2"):
        cli.main(bad)
    with pytest.raises(SystemExit):
        cli.main(args + ["--hiden_size", "4"])
    assert "did you mean 'hidden_size'" in capsys.readouterr().err


def test_config_and_set_errors(tmp_path, toy):
    with pytest.raises(ConfigError, match="unknown option 'hiden_size'"):
        resolve_config({"hiden_size": 3})
    with pytest.raises(ConfigError, match="mi_normalize"):
        resolve_config({"mi_normalize": "frames"})
    train_scp, train_text, _ = toy.make(tmp_path, "train", 4, seed=1)
    stream = TokenStream(train_scp, "units", vocab_size=toy.vocab_size)
    with pytest.raises(ValueError, match="valid_set 'dev' is not an eval set"):
        run_text_alignment(stream, train_text, {"test": (train_scp, train_text)},
                           {"valid_set": "dev"})
    other = TokenStream(train_scp, "units", vocab_size=toy.vocab_size + 1)
    with pytest.raises(ValueError, match=r"differs from the training stream in \['vocab_size'\]"):
        run_text_alignment(stream, train_text, {"test": (other, train_text)}, {})
    with pytest.raises(ValueError, match="expected \\(stream or scp path, text\\)"):
        run_text_alignment(stream, train_text, {"test": train_scp}, {})
