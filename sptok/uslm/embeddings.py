"""Sinusoidal positions with a learned scale (VALL-E) and helpers for padded token rows.

Text and audio get separate position encodings: each block counts its own positions from 0, so
the encoding of audio frame t does not depend on how long the text is. Positions are given
explicitly per item ([B, L]) instead of implied by the column, which lets one model serve
right-padded training batches, left-padded decoding batches and single-step cached decoding.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_encoding(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer sine/cosine encoding of arbitrary integer positions.

    Args:
        positions: [B, L] integer (or float) positions.
        dim: encoding width (even).

    Returns:
        [B, L, dim] float32: ``sin(p * w_i)`` in the first half, ``cos(p * w_i)`` in the second,
        with ``w_i = 10000 ** (-2 i / dim)``.
    """
    if dim % 2:
        raise ValueError(f"sinusoidal encoding needs an even width, got {dim}")
    half = dim // 2
    # Computed from scratch for every call (no table), so a position encodes to the same numbers
    # whether it comes in a full sequence or as the single new step of cached decoding.
    freqs = torch.exp(torch.arange(half, device=positions.device, dtype=torch.float32)
                      * (-math.log(10000.0) / half))
    angles = positions.to(torch.float32).unsqueeze(-1) * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class ScaledSinusoidalPositions(nn.Module):
    """Adds ``alpha * sinusoidal(positions)`` to token embeddings, alpha learned (init 1).

    This is VALL-E's ``SinePositionalEmbedding(scale=False, alpha=True)``: the learned scale lets
    the model balance content against position, which matters because text and audio tokens
    come from embeddings of very different statistics.

    Args:
        dim: embedding width (even).
        dropout: dropout after the sum.
    """

    def __init__(self, dim: int, dropout: float = 0.0):
        super().__init__()
        self.dim = dim
        self.alpha = nn.Parameter(torch.ones(1))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """x: [B, L, dim] embeddings, positions: [B, L] -> [B, L, dim]."""
        encoding = sinusoidal_encoding(positions, self.dim).to(x.dtype)
        return self.dropout(x + self.alpha.to(x.dtype) * encoding)


def lengths_to_valid(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """[B] lengths -> [B, max_len] bool, True on the first ``lengths[b]`` columns."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def left_padded_valid(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """[B] lengths -> [B, max_len] bool, True on the last ``lengths[b]`` columns."""
    return torch.arange(max_len, device=lengths.device)[None, :] >= (max_len - lengths)[:, None]


def left_padded_positions(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """Positions 0..len-1 of left-padded rows: [B] -> [B, max_len] long (0 on the padding)."""
    columns = torch.arange(max_len, device=lengths.device)[None, :]
    return (columns - (max_len - lengths)[:, None]).clamp(min=0)
