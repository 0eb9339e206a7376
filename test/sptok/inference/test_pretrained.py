"""Resolving experiment dirs, weight files and official releases; loading the generator."""
import json
import os

import pytest
import torch

from sptok.inference.pretrained import (OFFICIAL, SPTOK, best_weights_file, load_generator,
                                        resolve_model_files)
from sptok.train.checkpoint import save_generator_weights

from tiny_codecs import build_tiny_generator


def _same_weights(model, reference) -> bool:
    ours, theirs = model.state_dict(), reference.state_dict()
    return ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_exp_dir_defaults_to_the_best_criterion_link(exp_dir):
    files = resolve_model_files(exp_dir)
    assert files.kind == SPTOK
    assert files.config == exp_dir / "config.yaml"
    assert files.weights == exp_dir / "valid.mel_distance.best.pth"
    _, best = build_tiny_generator(seed=0)
    assert _same_weights(load_generator(files), best)


@pytest.mark.parametrize("given", ["20steps.pth", "checkpoint.pt"])
def test_a_named_checkpoint_or_a_weight_file_path(exp_dir, given):
    _, last = build_tiny_generator(seed=1)
    by_name = resolve_model_files(exp_dir, checkpoint=given)
    by_path = resolve_model_files(exp_dir / given)
    config_plus_name = resolve_model_files(exp_dir / "config.yaml", checkpoint=given)
    assert by_name == by_path == config_plus_name
    assert by_name.weights == exp_dir / given
    assert _same_weights(load_generator(by_name), last)  # checkpoint.pt: its generator part


def test_fallbacks_without_a_best_link(exp_dir):
    os.unlink(exp_dir / "valid.mel_distance.best.pth")
    assert best_weights_file(exp_dir) == exp_dir / "20steps.pth"  # the latest step
    for name in ("10steps.pth", "20steps.pth"):
        os.unlink(exp_dir / name)
    assert best_weights_file(exp_dir) == exp_dir / "checkpoint.pt"
    os.unlink(exp_dir / "checkpoint.pt")
    with pytest.raises(FileNotFoundError, match="no model weights"):
        resolve_model_files(exp_dir)


def test_another_criterion_link_is_taken_when_it_is_the_only_one(exp_dir):
    os.replace(exp_dir / "valid.mel_distance.best.pth", exp_dir / "train.loss.best.pth")
    assert best_weights_file(exp_dir, {"best_criterion": ["valid", "mel_distance", "min"]}) \
        == exp_dir / "train.loss.best.pth"
    os.symlink("20steps.pth", exp_dir / "valid.stoi.best.pth")
    with pytest.raises(ValueError, match="several best models"):
        best_weights_file(exp_dir, {"best_criterion": ["valid", "mel_distance", "min"]})


def test_weights_that_do_not_fit_the_config_are_refused(exp_dir, tmp_path):
    _, generator = build_tiny_generator()
    state = generator.state_dict()
    state.pop("semantic_head.bias")
    torch.save(state, exp_dir / "broken.pth")
    with pytest.raises(ValueError, match="does not fit the model"):
        load_generator(resolve_model_files(exp_dir / "broken.pth"))
    (exp_dir / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read the model weights"):
        load_generator(resolve_model_files(exp_dir / "junk.pth"))


def test_online_teacher_is_not_loaded_for_inference(exp_dir):
    """An exp trained with the online teacher builds without the HuBERT checkpoint."""
    text = (exp_dir / "config.yaml").read_text()
    assert "teacher: offline" in text
    (exp_dir / "config.yaml").write_text(text.replace(
        "teacher: offline", "teacher: online").replace(
        "feature_dim: 6", "path: /nonexistent/hubert.pt"))
    try:
        generator = load_generator(resolve_model_files(exp_dir))
    except ValueError as e:  # the config itself must still resolve
        pytest.fail(f"{e}")
    assert generator.semantic_dim == 6


def test_missing_and_ambiguous_paths(tmp_path, exp_dir):
    with pytest.raises(FileNotFoundError, match="no such file"):
        resolve_model_files(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        resolve_model_files(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="checkpoint 'nope.pth'"):
        resolve_model_files(exp_dir, checkpoint="nope.pth")
    with pytest.raises(ValueError, match="weight file already"):
        resolve_model_files(exp_dir / "10steps.pth", checkpoint="20steps.pth")


def test_official_release_dir_file_and_pair(official_release, tmp_path):
    release, official = official_release
    expected = (release / "config.json", release / "SpeechTokenizer.pt")
    for files in (resolve_model_files(release),
                  resolve_model_files(release / "SpeechTokenizer.pt"),
                  resolve_model_files(release / "config.json"),
                  resolve_model_files(release / "config.json", checkpoint="SpeechTokenizer.pt")):
        assert files.kind == OFFICIAL
        assert (files.config, files.weights) == expected
    # Two weight files: ambiguous unless one is chosen.
    other = tmp_path / "release2"
    other.mkdir()
    (other / "config.json").write_text((release / "config.json").read_text())
    torch.save(official.state_dict(), other / "a.pt")
    torch.save(official.state_dict(), other / "b.pt")
    with pytest.raises(ValueError, match="2 weight files"):
        resolve_model_files(other)
    assert resolve_model_files(other, checkpoint="b.pt").weights == other / "b.pt"


def test_official_release_with_wrong_config_is_refused(official_release, tmp_path):
    release, _ = official_release
    config = json.loads((release / "config.json").read_text())
    config["n_filters"] = 4
    (tmp_path / "config.json").write_text(json.dumps(config))
    os.symlink(release / "SpeechTokenizer.pt", tmp_path / "SpeechTokenizer.pt")
    with pytest.raises(ValueError, match="not a loadable official"):
        load_generator(resolve_model_files(tmp_path))


def test_generator_weights_saved_by_the_trainer_round_trip(tmp_path):
    config, generator = build_tiny_generator(seed=3)
    from sptok.utils.config import save_config

    save_config(config, tmp_path / "config.yaml")
    save_generator_weights(tmp_path / "5steps.pth", generator)
    assert _same_weights(load_generator(resolve_model_files(tmp_path)), generator)


def test_exp_dir_written_by_the_trainer(tmp_path):
    """Two real training steps through sptok.bin.train, then load the exp dir it leaves."""
    import subprocess
    import sys

    import numpy as np
    import soundfile as sf

    from sptok import SpeechTokenizer

    rng = np.random.default_rng(0)
    for split in ("train", "valid"):
        (tmp_path / split).mkdir()
        wav_scp, num_samples = [], []
        for i in range(4):
            samples = 8000 + 800 * i
            path = tmp_path / split / f"u{i}.wav"
            sf.write(path, 0.3 * rng.standard_normal(samples), 16000)
            wav_scp.append(f"u{i} {path}\n")
            num_samples.append(f"u{i} {samples}\n")
        (tmp_path / split / "wav.scp").write_text("".join(wav_scp))
        (tmp_path / split / "utt2num_samples").write_text("".join(num_samples))
    config = tmp_path / "train.yaml"
    config.write_text(
        "task: codec\n"
        "encoder_conf: {n_filters: 2, dimension: 8, strides: [2, 4, 5, 8], lstm_layers: 1}\n"
        "decoder_conf: {n_filters: 2, strides: [8, 5, 4, 2], lstm_layers: 1}\n"
        "quantizer_conf: {n_q: 3, codebook_size: 4, kmeans_iters: 2}\n"
        "teacher: none\ndistill_loss: none\ndiscriminators: none\n"
        "segment_seconds: 0.2\nbatch_size: 2\nvalid_batch_size: 2\nnum_workers: 0\n"
        "max_steps: 2\nvalid_interval: 1\nsave_interval: 1\nkeep_nbest_models: 1\n"
        "progress_bar: false\ndevice: cpu\n")
    exp = tmp_path / "exp"
    subprocess.run([sys.executable, "-m", "sptok.bin.train", "--config", str(config),
                    "--output_dir", str(exp), "--train_data_dir", str(tmp_path / "train"),
                    "--valid_data_dir", str(tmp_path / "valid")], check=True,
                   capture_output=True)
    best = SpeechTokenizer.from_pretrained(exp)
    assert best.source.weights.name == "valid.mel_distance.best.pth"
    assert best.meta_info()["semantic_dim"] is None  # trained without distillation
    codes, lengths = best.encode(0.1 * torch.randn(2, 3000), torch.tensor([3000, 2000]))
    assert codes.shape == (2, 3, 10) and lengths.tolist() == [10, 7]
    assert best.decode(codes, lengths)[0].shape == (2, 1, 3200)
    saved = torch.load(exp / "valid.mel_distance.best.pth", weights_only=True)
    assert _same_weights(load_generator(resolve_model_files(exp)), _StateDict(saved))
    checkpoint = torch.load(exp / "checkpoint.pt", weights_only=True)
    last = {k[len("generator."):]: v for k, v in checkpoint["model"].items()
            if k.startswith("generator.")}
    assert _same_weights(load_generator(resolve_model_files(exp / "checkpoint.pt")),
                         _StateDict(last))


class _StateDict:
    """A state dict posing as a module for :func:`_same_weights`."""

    def __init__(self, state):
        self.state = state

    def state_dict(self):
        return self.state
