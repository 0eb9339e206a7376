"""Tiny wav2vec2/HuBERT encoders shared by the teacher tests."""
from __future__ import annotations

import pytest
import torch

from sptok.teachers.wav2vec2_params import STANDARD_CONV_LAYERS, build_model


def tiny_params(extractor_mode: str = "group_norm", layer_norm_first: bool = False,
                conv_bias: bool = False) -> dict:
    """2 layers, hidden 32, 8-channel HuBERT conv stack (receptive field 400, hop 320)."""
    return {
        "extractor_mode": extractor_mode,
        "extractor_conv_layer_config": [(8, k, s) for _, k, s in STANDARD_CONV_LAYERS],
        "extractor_conv_bias": conv_bias,
        "encoder_embed_dim": 32,
        "encoder_projection_dropout": 0.1,
        "encoder_pos_conv_kernel": 16,
        "encoder_pos_conv_groups": 4,
        "encoder_num_layers": 2,
        "encoder_num_heads": 2,
        "encoder_attention_dropout": 0.1,
        "encoder_ff_interm_features": 64,
        "encoder_ff_interm_dropout": 0.0,
        "encoder_dropout": 0.1,
        "encoder_layer_norm_first": layer_norm_first,
        "encoder_layer_drop": 0.0,
    }


def tiny_model(seed: int = 0, **kwargs):
    """Random tiny encoder whose norms have non-trivial affine parameters (so a mapping mistake
    between norm weights shows up)."""
    torch.manual_seed(seed)
    model = build_model(tiny_params(**kwargs))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(0.3 * torch.randn_like(p))
    return model.eval()


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny models run fastest on one thread, and far faster than on two on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def wav() -> torch.Tensor:
    torch.manual_seed(1)
    return 0.1 * torch.randn(2, 8000)


@pytest.fixture
def make_tiny_model():
    """``make_tiny_model(seed=0, extractor_mode=..., layer_norm_first=..., conv_bias=...)``."""
    return tiny_model


@pytest.fixture
def make_tiny_params():
    return tiny_params
