"""Shared pieces of the waveform discriminators: output types, normalisation, padding.

Every discriminator in this package maps a waveform ``y [B, 1, N]`` to
``(logits, feature_maps)``:

- ``logits``: one tensor ``[B, L_k]`` per sub-discriminator ``k`` (flattened scores);
- ``feature_maps``: one list per sub-discriminator of its intermediate activations.

Multi-discriminators expose ``sub_names`` (one short name per sub-discriminator, in output
order) so that trainers can log one loss per sub-discriminator.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
from torch import nn
from torch.nn.utils import parametrizations

FeatureMaps = List[torch.Tensor]
DiscriminatorOutput = Tuple[List[torch.Tensor], List[FeatureMaps]]

NORMS = ("weight_norm", "spectral_norm", "none")


def apply_norm(module: nn.Module, norm: str) -> nn.Module:
    """Wrap a convolution's weight in weight or spectral normalisation (or leave it as is)."""
    if norm == "weight_norm":
        return parametrizations.weight_norm(module)
    if norm == "spectral_norm":
        return parametrizations.spectral_norm(module)
    if norm == "none":
        return module
    raise ValueError(f"norm: unknown value {norm!r}; expected one of {', '.join(NORMS)}")


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Padding that keeps the length of a stride-1 convolution with an odd kernel."""
    return (kernel_size - 1) * dilation // 2


def check_waveform(y: torch.Tensor, name: str) -> None:
    """Raise a ValueError unless ``y`` is a mono batch ``[B, 1, N]``."""
    if y.dim() != 3 or y.size(1) != 1:
        raise ValueError(f"{name}: expected a waveform batch [B, 1, N], got shape {tuple(y.shape)}")


def check_same_length(name: str, **sequences: Sequence) -> None:
    """Raise a ValueError naming the options unless all per-layer option lists have one length."""
    lengths = {key: len(value) for key, value in sequences.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{key} ({n})" for key, n in lengths.items())
        raise ValueError(f"{name}: per-layer options must have the same length: {listed}")
