"""Checkpoint files and init_param (fine-tuning) with prefixes, excludes and mismatches."""
import pytest
import torch

from sptok.train.checkpoint import (CHECKPOINT_FORMAT, load_checkpoint, load_init_param,
                                    parse_init_param, save_checkpoint, save_generator_weights)


class Gen(torch.nn.Module):
    def __init__(self, width: int = 4):
        super().__init__()
        self.encoder = torch.nn.Linear(3, width)
        self.decoder = torch.nn.Linear(width, 3)


class Model(torch.nn.Module):
    def __init__(self, width: int = 4):
        super().__init__()
        self.generator = Gen(width)
        self.discriminator = torch.nn.Linear(3, 1)


def filled(model, value):
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)
    return model


def all_equal(module, value):
    return all(bool((p == value).all()) for p in module.parameters())


def test_parse_init_param():
    e = parse_init_param("exp/a/checkpoint.pt")
    assert (e.path, e.src, e.dst, e.excludes) == ("exp/a/checkpoint.pt", "", None, ())
    e = parse_init_param("x.pth:generator.encoder:generator.decoder:generator.encoder.bias")
    assert (e.src, e.dst, e.excludes) == ("generator.encoder", "generator.decoder",
                                          ("generator.encoder.bias",))
    assert str(e) == "x.pth:generator.encoder:generator.decoder:generator.encoder.bias"
    with pytest.raises(ValueError, match="at most 4"):
        parse_init_param("a:b:c:d:e")


def test_whole_checkpoint_into_model(tmp_path):
    src = filled(Model(), 1.0)
    save_checkpoint(tmp_path / "checkpoint.pt", {"model": src.state_dict(), "step": 3})
    assert load_checkpoint(tmp_path / "checkpoint.pt")["format"] == CHECKPOINT_FORMAT
    model = filled(Model(), 0.0)
    loaded = load_init_param(model, str(tmp_path / "checkpoint.pt"))
    assert len(loaded) == 6 and all_equal(model, 1.0)


def test_generator_weights_default_into_the_generator(tmp_path):
    save_generator_weights(tmp_path / "best.pth", filled(Model(), 2.0).generator)
    model = filled(Model(), 0.0)
    load_init_param(model, str(tmp_path / "best.pth"))
    assert all_equal(model.generator, 2.0) and all_equal(model.discriminator, 0.0)


def test_prefixes_select_and_move_parts(tmp_path):
    save_checkpoint(tmp_path / "ck.pt", {"model": filled(Model(), 3.0).state_dict()})
    # only the encoder, into the same place
    model = filled(Model(), 0.0)
    load_init_param(model, f"{tmp_path / 'ck.pt'}:generator.encoder")
    assert all_equal(model.generator.encoder, 3.0) and all_equal(model.generator.decoder, 0.0)
    # generator weights file: the encoder into another module of the same shape
    gen = Gen(3)
    filled(gen, 5.0)
    with torch.no_grad():
        gen.encoder.weight.fill_(7.0)
    save_generator_weights(tmp_path / "g.pth", gen)
    model = filled(Model(3), 0.0)
    load_init_param(model, f"{tmp_path / 'g.pth'}:generator.encoder:generator.decoder")
    assert bool((model.generator.decoder.weight == 7.0).all())
    assert all_equal(model.generator.encoder, 0.0)
    # excludes
    model = filled(Model(), 0.0)
    load_init_param(model, f"{tmp_path / 'ck.pt'}:::generator.decoder")
    assert all_equal(model.generator.decoder, 0.0) and all_equal(model.generator.encoder, 3.0)
    assert all_equal(model.discriminator, 3.0)


def test_mismatches_name_the_path_and_keys(tmp_path):
    path = tmp_path / "wide.pth"
    save_generator_weights(path, Gen(width=6))
    model = Model(width=4)
    with pytest.raises(ValueError) as e:
        load_init_param(model, str(path))
    message = str(e.value)
    assert str(path) in message and "generator.encoder.weight [6, 3] -> [4, 3]" in message
    with pytest.raises(ValueError, match="no key of .* starts with 'generator.nothing'"):
        load_init_param(model, f"{path}:generator.nothing")
    with pytest.raises(ValueError, match="keys not in the model: generator.encoder.bias2"):
        load_init_param(Model(), f"{path}:generator.encoder.bias:generator.encoder.bias2")
    with pytest.raises(ValueError,
                       match="not in the file: generator.decoder.bias, generator.decoder.weight"):
        save_generator_weights(tmp_path / "enc.pth", torch.nn.ModuleDict(
            {"encoder": torch.nn.Linear(3, 4)}))
        load_init_param(Model(), str(tmp_path / "enc.pth"))
    # ignore_init_mismatch: load what fits
    model = filled(Model(width=4), 0.0)
    loaded = load_init_param(model, str(path), ignore_mismatch=True)
    assert loaded == ["generator.decoder.bias"]
    with pytest.raises(ValueError, match="no such file"):
        load_init_param(model, str(tmp_path / "missing.pth"))
    torch.save({"step": 3}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="neither"):
        load_init_param(model, str(tmp_path / "other.pt"))


def test_checkpoint_is_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"step": 1})

    def broken_save(obj, f):
        with open(f, "wb") as out:
            out.write(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(RuntimeError):
        save_checkpoint(path, {"step": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    with pytest.raises(ValueError, match="not a training checkpoint"):
        torch.save({"a": torch.zeros(1)}, tmp_path / "plain.pt")
        load_checkpoint(tmp_path / "plain.pt")
