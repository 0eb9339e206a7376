"""Compatibility with the quantizer of the official PyPI package ``speechtokenizer`` (1.0.1).

The package's top-level ``__init__`` imports its trainer (beartype, accelerate, ...), so its
``quantization`` sub-package (torch + einops only) is loaded on its own, under a private name.
"""
import copy

import pytest
import torch

from sptok.quantization import (ResidualVQ, quantizer_state_from_official,
                                residual_vq_kwargs_from_official_config)
from sptok.utils.official_package import load_official_module


def official_quantization():
    try:
        return load_official_module("quantization")
    except ImportError as e:
        pytest.skip(str(e))


def trained_official(dimension=8, n_q=3, bins=16, steps=3):
    official = official_quantization().ResidualVectorQuantizer(
        dimension=dimension, n_q=n_q, bins=bins, kmeans_iters=5).train()
    torch.manual_seed(0)
    for _ in range(steps):
        official(torch.randn(2, dimension, 30))
    return official.eval()


def test_official_checkpoint_loads_and_gives_identical_codes():
    official = trained_official()
    ours = ResidualVQ(**residual_vq_kwargs_from_official_config(
        {"dimension": 8, "n_q": 3, "codebook_size": 16}))
    full_checkpoint = {f"quantizer.{k}": v for k, v in official.state_dict().items()}
    full_checkpoint["encoder.weight"] = torch.zeros(1)
    ours.load_state_dict(quantizer_state_from_official(full_checkpoint), strict=True)
    ours.eval()
    torch.manual_seed(1)
    x = torch.randn(3, 8, 25)
    codes = ours.encode(x)
    assert torch.equal(codes, official.encode(x).permute(1, 0, 2))  # official: [n_q, B, T]
    assert torch.equal(ours.decode(codes), official.decode(codes.permute(1, 0, 2)))
    assert torch.equal(ours.decode(codes[:, 1:], start_level=1),
                       official.decode(codes[:, 1:].permute(1, 0, 2), st=1))
    quantized, official_codes, _, levels = official(x, layers=[0, 1, 2])
    out = ours(x)
    assert torch.equal(out.codes, official_codes.permute(1, 0, 2))
    assert torch.equal(out.quantized, quantized)
    for ours_level, official_level in zip(out.quantized_levels, levels):
        assert torch.equal(ours_level, official_level)
    # official `st` restarts the residual chain (and its n_q is an end level)
    assert torch.equal(ours.encode(x, n_q=2, start_level=1, restart_residual=True),
                       official.encode(x, n_q=3, st=1).permute(1, 0, 2))
    # and ours loads into the official code
    official_copy = copy.deepcopy(official)
    official_copy.load_state_dict(ours.state_dict(), strict=True)


def test_encodec_mode_trains_like_official():
    """Same state, same batches: same codes, outputs, losses, gradients and codebook updates.

    Official dead-code expiry is overwritten by its own EMA update in the same call (a no-op),
    so it matches ours with dead-code replacement off."""
    official = trained_official(steps=1).train()
    ours = ResidualVQ(dimension=8, n_q=3, codebook_size=16, threshold_ema_dead_code=0,
                      residual_gradient="encodec")
    ours.load_state_dict(official.state_dict(), strict=True)
    ours.train()
    torch.manual_seed(2)
    for _ in range(3):
        x = torch.randn(2, 8, 30)
        x_official, x_ours = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        quantized, codes, loss, _ = official(x_official)
        out = ours(x_ours)
        assert torch.equal(out.codes, codes.permute(1, 0, 2))
        torch.testing.assert_close(out.quantized, quantized, rtol=0, atol=1e-6)
        torch.testing.assert_close(out.penalty, loss, rtol=1e-5, atol=1e-7)
        weight = torch.randn_like(x)
        (quantized * weight).sum().add(loss).backward()
        (out.quantized * weight).sum().add(out.penalty).backward()
        torch.testing.assert_close(x_ours.grad, x_official.grad, rtol=1e-5, atol=1e-7)
        for key, value in official.state_dict().items():
            torch.testing.assert_close(ours.state_dict()[key], value, rtol=1e-5, atol=1e-6,
                                       msg=key)
