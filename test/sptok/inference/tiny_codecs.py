"""Tiny trained-looking codecs on disk: an sptok experiment dir and an official release dir.

Imported by conftest.py here and by the CLI tests in test/sptok/bin (test modules cannot import
conftest under --import-mode=importlib).
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest
import torch

from sptok.utils.official_package import official_speechtokenizer_class
from sptok.tasks import resolve_config
from sptok.train.checkpoint import save_checkpoint, save_generator_weights
from sptok.utils.config import save_config

# 2 filters, latent 8, hop 320, one BiLSTM layer, 3 levels x 4 codes, semantic head 8 -> 6.
TINY_CODEC_CONFIG = {
    "task": "codec",
    "sample_rate": 16000,
    "encoder_conf": {"n_filters": 2, "dimension": 8, "strides": [2, 4, 5, 8], "lstm_layers": 1},
    "decoder_conf": {"n_filters": 2, "strides": [8, 5, 4, 2], "lstm_layers": 1},
    "quantizer_conf": {"n_q": 3, "codebook_size": 4, "kmeans_iters": 2},
    "teacher": "offline",
    "teacher_conf": {"feature_dim": 6},
    "distill_loss": "d_axis",
    "discriminators": None,
    "best_criterion": ["valid", "mel_distance", "min"],
}

OFFICIAL_TINY_CONFIG = dict(n_filters=2, dimension=8, semantic_dimension=6, strides=[8, 5, 4, 2],
                            lstm_layers=1, bidirectional=True, dilation_base=2,
                            residual_kernel_size=3, n_residual_layers=1, activation="ELU",
                            sample_rate=16000, n_q=3, codebook_size=4)


def build_tiny_generator(seed: int = 0):
    """The tiny codec's generator built through the codec task, codebooks initialised by one
    training forward (k-means), in eval mode; returns (config, generator)."""
    task, config = resolve_config(TINY_CODEC_CONFIG, source="tiny codec config")
    torch.manual_seed(seed)
    generator = task.build_generator(config)
    generator.train()
    with torch.no_grad():
        generator(0.1 * torch.randn(2, 1, 3200))
    return config, generator.eval()


def make_exp_dir(root: Path) -> Path:
    """An experiment dir as the trainer leaves it: config.yaml, two kept steps, the best link
    (to the earlier step) and checkpoint.pt (holding the later step's model)."""
    exp = root / "exp"
    config, best = build_tiny_generator(seed=0)
    _, last = build_tiny_generator(seed=1)
    save_config(config, exp / "config.yaml")
    save_generator_weights(exp / "10steps.pth", best)
    save_generator_weights(exp / "20steps.pth", last)
    os.symlink("10steps.pth", exp / "valid.mel_distance.best.pth")
    model_state = {f"generator.{k}": v for k, v in last.state_dict().items()}
    model_state["discriminator.dummy"] = torch.zeros(1)
    save_checkpoint(exp / "checkpoint.pt", {"model": model_state, "step": 20, "config": config})
    return exp


def load_official_class():
    """The PyPI package's model class (skips the test when the package is missing)."""
    try:
        return official_speechtokenizer_class()
    except ImportError as e:
        pytest.skip(str(e))


def random_official_model(official_class, config=OFFICIAL_TINY_CONFIG, seed: int = 0):
    """An official model with random weights, weight-norm magnitudes and codebooks."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = official_class(config).eval()
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("inited"):
                buffer.fill_(1.0)
            elif name.endswith("embed"):
                buffer.copy_(0.3 * torch.randn_like(buffer))
        for name, parameter in model.named_parameters():
            if name.endswith("weight_g"):  # break g = ||v|| so a g/v swap would show
                parameter.mul_(torch.rand_like(parameter) + 0.5)
    return model


def make_official_release(official_class, release: Path):
    """Write config.json + SpeechTokenizer.pt of a random tiny official model into ``release``;
    returns the model."""
    model = random_official_model(official_class)
    release.mkdir(parents=True, exist_ok=True)
    (release / "config.json").write_text(json.dumps(OFFICIAL_TINY_CONFIG), encoding="utf-8")
    torch.save(model.state_dict(), release / "SpeechTokenizer.pt")
    return model
