"""Tests of the LSGAN and feature-matching losses."""
from __future__ import annotations

import pytest
import torch

from sptok.losses.gan import (
    DiscriminatorAdversarialLoss,
    FeatureMatchingLoss,
    GeneratorAdversarialLoss,
    discriminator_adversarial_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)


def _full(value: float, *shape: int) -> torch.Tensor:
    return torch.full(shape, float(value))


def _logits(value: float):
    """Three sub-discriminators with differently shaped logits."""
    return [_full(value, 2, 5), _full(value, 2, 7), _full(value, 2, 1, 3, 4)]


def _maps(value: float):
    """Two sub-discriminators with 2 and 3 layers."""
    return [[_full(value, 2, 3, 4), _full(value, 2, 5)], [_full(value, 2, 4), _full(value, 2, 2, 2), _full(value, 2, 1)]]


def test_discriminator_loss_exact_on_constants():
    assert discriminator_adversarial_loss(_logits(1), _logits(0)).item() == 0.0
    assert discriminator_adversarial_loss(_logits(0), _logits(1)).item() == pytest.approx(3 * 2.0)
    assert discriminator_adversarial_loss(_logits(0.5), _logits(0.5)).item() == pytest.approx(3 * 0.5)
    assert discriminator_adversarial_loss(_logits(3), _logits(-1), average_by_discriminators=True).item() == pytest.approx(
        4.0 + 1.0
    )


def test_generator_loss_exact_on_constants():
    assert generator_adversarial_loss(_logits(1)).item() == 0.0
    assert generator_adversarial_loss(_logits(0)).item() == pytest.approx(3.0)
    assert generator_adversarial_loss(_logits(3)).item() == pytest.approx(3 * 4.0)
    assert generator_adversarial_loss(_logits(3), average_by_discriminators=True).item() == pytest.approx(4.0)


def test_feature_matching_zero_for_identical_inputs():
    torch.manual_seed(0)
    maps = [[torch.randn(2, 3, 4), torch.randn(2, 5)], [torch.randn(2, 4)]]
    assert feature_matching_loss(maps, [[m.clone() for m in sub] for sub in maps]).item() == 0.0


def test_feature_matching_reductions_exact_on_constants():
    real, fake = _maps(1), _maps(0)  # every layer: mean |1 - 0| = 1; layers 2 + 3
    assert feature_matching_loss(real, fake).item() == pytest.approx(5.0)
    assert feature_matching_loss(real, fake, average_by_layers=True).item() == pytest.approx(2.0)
    assert feature_matching_loss(real, fake, average_by_discriminators=True).item() == pytest.approx(2.5)
    both = feature_matching_loss(real, fake, average_by_layers=True, average_by_discriminators=True)
    assert both.item() == pytest.approx(1.0)
    # Relative L1 (EnCodec): |4 - 1| / |4| per layer.
    assert feature_matching_loss(_maps(4), _maps(1), normalize_by_real=True).item() == pytest.approx(5 * 0.75)


def test_feature_matching_trains_only_the_generator_side():
    real = [[torch.randn(2, 3, requires_grad=True)]]
    fake = [[torch.randn(2, 3, requires_grad=True)]]
    feature_matching_loss(real, fake).backward()
    assert real[0][0].grad is None
    assert fake[0][0].grad is not None and fake[0][0].grad.abs().sum() > 0


def test_modules_match_functions():
    torch.manual_seed(0)
    real_logits, fake_logits = [torch.randn(2, 5)], [torch.randn(2, 5)]
    real_maps, fake_maps = [[torch.randn(2, 3)], [torch.randn(4)]], [[torch.randn(2, 3)], [torch.randn(4)]]
    assert torch.equal(
        DiscriminatorAdversarialLoss(True)(real_logits, fake_logits),
        discriminator_adversarial_loss(real_logits, fake_logits, True),
    )
    assert torch.equal(GeneratorAdversarialLoss()(fake_logits), generator_adversarial_loss(fake_logits))
    assert torch.equal(
        FeatureMatchingLoss(True, True, True)(real_maps, fake_maps),
        feature_matching_loss(real_maps, fake_maps, True, True, True),
    )


def test_bad_inputs():
    with pytest.raises(ValueError, match="no discriminator outputs"):
        generator_adversarial_loss([])
    with pytest.raises(ValueError, match="2 real outputs but 3 fake"):
        discriminator_adversarial_loss(_logits(0)[:2], _logits(0))
    with pytest.raises(ValueError, match="differ in shape"):
        feature_matching_loss([[torch.zeros(2, 3)]], [[torch.zeros(2, 4)]])
    with pytest.raises(ValueError, match="sub-discriminator 1"):
        feature_matching_loss(_maps(0), [_maps(0)[0], _maps(0)[1][:2]])
