"""Helpers for padded batches described by per-item valid lengths.

A length is either a Python int (one sequence) or a long tensor [B] (one per batch item); the
arithmetic helpers accept both so that the same output-length formula serves planning code
(ints) and forward passes (tensors) without a device sync.
"""
from __future__ import annotations

from typing import Optional, TypeVar, Union

import torch

Length = TypeVar("Length", int, torch.Tensor)


def floor_div(a: Length, b: int) -> Length:
    """Floor division for ints and integer tensors."""
    if isinstance(a, torch.Tensor):
        return torch.div(a, b, rounding_mode="floor")
    return a // b


def ceil_div(a: Length, b: int) -> Length:
    """Ceiling division for ints and integer tensors (also right for negative ``a``)."""
    return -floor_div(-a, b)


def lengths_to_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """Boolean mask [B, max_length], True on the first ``lengths[b]`` positions of row b."""
    positions = torch.arange(max_length, device=lengths.device)
    return positions[None, :] < lengths[:, None]


def frame_mask(lengths: Optional[torch.Tensor], batch: int, n_frames: int,
               like: torch.Tensor) -> torch.Tensor:
    """Multiplicative mask [batch, 1, n_frames] with ``like``'s dtype and device: 1 on the first
    ``lengths[b]`` frames of row b, 0 after; all ones when ``lengths`` is None."""
    if lengths is None:
        return like.new_ones(batch, 1, n_frames)
    return lengths_to_mask(lengths, n_frames)[:, None, :].to(like.dtype)


def check_lengths(lengths: Optional[torch.Tensor], x: torch.Tensor, name: str = "lengths",
                  min_length: int = 1) -> Optional[torch.Tensor]:
    """Validate ``lengths`` for a batch ``x`` [B, C, T] and return it as a long tensor on x's device.

    Raises:
        ValueError: wrong shape, or a length outside [min_length, T].
    """
    if lengths is None:
        return None
    lengths = torch.as_tensor(lengths, device=x.device)
    if lengths.dim() != 1 or lengths.shape[0] != x.shape[0]:
        raise ValueError(f"{name} must have shape [B]={[x.shape[0]]}, got {list(lengths.shape)}")
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(f"{name} must be an integer tensor, got {lengths.dtype}")
    lengths = lengths.long()
    if lengths.numel() > 0:
        low, high = int(lengths.min()), int(lengths.max())
        if low < min_length or high > x.shape[-1]:
            raise ValueError(f"{name} must lie in [{min_length}, {x.shape[-1]}] (the padded length), "
                             f"got min {low}, max {high}")
    return lengths


def mask_padding(x: torch.Tensor, lengths: Optional[torch.Tensor], value: float = 0.0) -> torch.Tensor:
    """Set the time steps of ``x`` [B, C, T] at or after ``lengths[b]`` to ``value``.

    ``torch.where`` rather than a product, so NaN/inf in the padding cannot leak through.
    """
    if lengths is None:
        return x
    mask = lengths_to_mask(lengths, x.shape[-1])[:, None, :]
    return torch.where(mask, x, torch.full((), value, dtype=x.dtype, device=x.device))


IntOrTensor = Union[int, torch.Tensor]
