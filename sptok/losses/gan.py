"""Least-squares GAN losses and discriminator feature matching.

Inputs are the discriminator outputs of :mod:`sptok.discriminators`: a list of logits (one tensor
per sub-discriminator) and a list of feature-map lists (one list per sub-discriminator).

Reductions. Every tensor is first averaged over all its elements (``torch.mean``). The defaults
then *sum* over layers and sub-discriminators, as HiFi-GAN and the public SpeechTokenizer training
code do, so the published loss weights (feature matching x2, adversarial x1) keep their meaning.
``average_by_layers`` / ``average_by_discriminators`` switch to means instead (ESPnet's options);
``normalize_by_real`` divides each layer's L1 by the mean magnitude of the real features
(EnCodec's relative feature loss).
"""
from __future__ import annotations

from typing import List, Sequence

import torch
from torch import nn


def _check_pairs(name: str, real: Sequence, fake: Sequence) -> None:
    if len(real) == 0:
        raise ValueError(f"{name}: got no discriminator outputs")
    if len(real) != len(fake):
        raise ValueError(f"{name}: {len(real)} real outputs but {len(fake)} fake outputs")


def _reduce(values: List[torch.Tensor], average: bool) -> torch.Tensor:
    total = torch.stack(values).sum()
    return total / len(values) if average else total


def generator_adversarial_loss(
    fake_logits: Sequence[torch.Tensor], average_by_discriminators: bool = False
) -> torch.Tensor:
    """LSGAN generator loss: ``sum_k mean((1 - D_k(fake))^2)``.

    Args:
        fake_logits: one logits tensor per sub-discriminator, any shape.
        average_by_discriminators: mean over sub-discriminators instead of the sum.

    Returns:
        scalar tensor.
    """
    if len(fake_logits) == 0:
        raise ValueError("generator_adversarial_loss: got no discriminator outputs")
    return _reduce([torch.mean((1.0 - logit) ** 2) for logit in fake_logits], average_by_discriminators)


def discriminator_adversarial_loss(
    real_logits: Sequence[torch.Tensor],
    fake_logits: Sequence[torch.Tensor],
    average_by_discriminators: bool = False,
) -> torch.Tensor:
    """LSGAN discriminator loss: ``sum_k mean((1 - D_k(real))^2) + mean(D_k(fake)^2)``.

    Args:
        real_logits, fake_logits: one logits tensor per sub-discriminator (fake from a detached
            generator output when training the discriminator).
        average_by_discriminators: mean over sub-discriminators instead of the sum.

    Returns:
        scalar tensor.
    """
    _check_pairs("discriminator_adversarial_loss", real_logits, fake_logits)
    per_discriminator = [
        torch.mean((1.0 - real) ** 2) + torch.mean(fake**2) for real, fake in zip(real_logits, fake_logits)
    ]
    return _reduce(per_discriminator, average_by_discriminators)


def feature_matching_loss(
    real_feature_maps: Sequence[Sequence[torch.Tensor]],
    fake_feature_maps: Sequence[Sequence[torch.Tensor]],
    average_by_layers: bool = False,
    average_by_discriminators: bool = False,
    normalize_by_real: bool = False,
) -> torch.Tensor:
    """L1 distance between the discriminator activations of real and generated audio.

    Per layer: ``mean|real - fake|`` (divided by ``mean|real|`` when ``normalize_by_real``). The
    real features are detached: this loss trains only the generator.

    Args:
        real_feature_maps, fake_feature_maps: per sub-discriminator, the list of its feature maps
            (same shapes pairwise).
        average_by_layers: mean over the layers of a sub-discriminator instead of the sum.
        average_by_discriminators: mean over sub-discriminators instead of the sum.
        normalize_by_real: EnCodec's relative L1.

    Returns:
        scalar tensor.
    """
    _check_pairs("feature_matching_loss", real_feature_maps, fake_feature_maps)
    per_discriminator = []
    for k, (real_maps, fake_maps) in enumerate(zip(real_feature_maps, fake_feature_maps)):
        _check_pairs(f"feature_matching_loss (sub-discriminator {k})", real_maps, fake_maps)
        per_layer = []
        for real, fake in zip(real_maps, fake_maps):
            if real.shape != fake.shape:
                raise ValueError(
                    f"feature_matching_loss: sub-discriminator {k} feature maps differ in shape: "
                    f"{tuple(real.shape)} vs {tuple(fake.shape)}"
                )
            real = real.detach()
            distance = torch.mean(torch.abs(real - fake))
            if normalize_by_real:
                distance = distance / torch.mean(torch.abs(real)).clamp_min(1e-8)
            per_layer.append(distance)
        per_discriminator.append(_reduce(per_layer, average_by_layers))
    return _reduce(per_discriminator, average_by_discriminators)


class GeneratorAdversarialLoss(nn.Module):
    """Module form of :func:`generator_adversarial_loss` (options set once, e.g. from YAML)."""

    def __init__(self, average_by_discriminators: bool = False) -> None:
        super().__init__()
        self.average_by_discriminators = average_by_discriminators

    def forward(self, fake_logits: Sequence[torch.Tensor]) -> torch.Tensor:
        return generator_adversarial_loss(fake_logits, self.average_by_discriminators)


class DiscriminatorAdversarialLoss(nn.Module):
    """Module form of :func:`discriminator_adversarial_loss`."""

    def __init__(self, average_by_discriminators: bool = False) -> None:
        super().__init__()
        self.average_by_discriminators = average_by_discriminators

    def forward(self, real_logits: Sequence[torch.Tensor], fake_logits: Sequence[torch.Tensor]) -> torch.Tensor:
        return discriminator_adversarial_loss(real_logits, fake_logits, self.average_by_discriminators)


class FeatureMatchingLoss(nn.Module):
    """Module form of :func:`feature_matching_loss`."""

    def __init__(
        self,
        average_by_layers: bool = False,
        average_by_discriminators: bool = False,
        normalize_by_real: bool = False,
    ) -> None:
        super().__init__()
        self.average_by_layers = average_by_layers
        self.average_by_discriminators = average_by_discriminators
        self.normalize_by_real = normalize_by_real

    def forward(
        self,
        real_feature_maps: Sequence[Sequence[torch.Tensor]],
        fake_feature_maps: Sequence[Sequence[torch.Tensor]],
    ) -> torch.Tensor:
        return feature_matching_loss(
            real_feature_maps,
            fake_feature_maps,
            self.average_by_layers,
            self.average_by_discriminators,
            self.normalize_by_real,
        )
