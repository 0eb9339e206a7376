"""Codebook usage statistics from codes: per-level code counts, perplexity, fraction used."""
from __future__ import annotations

from typing import Optional

import torch


def code_counts(codes: torch.Tensor, codebook_size: int, mask: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
    """How often each code occurs, per level.

    Args:
        codes: [B, L, T] integer codes in [0, codebook_size).
        codebook_size: K.
        mask: optional [B, T], True (nonzero) on frames to count.

    Returns:
        [L, K] float counts.
    """
    if codes.dim() != 3:
        raise ValueError(f"codes must be [B, n_q, T], got shape {list(codes.shape)}")
    batch, levels, frames = codes.shape
    # One bincount for all levels: level l's codes go to bins [l*K, (l+1)*K); masked frames go
    # to an extra last bin that is dropped.
    offsets = torch.arange(levels, device=codes.device)[None, :, None] * codebook_size
    bins = codes.long() + offsets
    if mask is not None:
        if mask.shape != (batch, frames):
            raise ValueError(f"mask must be [B, T]={[batch, frames]}, got {list(mask.shape)}")
        bins = torch.where(mask.bool()[:, None, :], bins, levels * codebook_size)
    counts = torch.bincount(bins.reshape(-1), minlength=levels * codebook_size + 1)
    return counts[:levels * codebook_size].view(levels, codebook_size).float()


def perplexity_from_counts(counts: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of the code distribution along the last axis: K for uniform use, 1 for one
    code; 0 where nothing was counted."""
    total = counts.sum(dim=-1, keepdim=True)
    probs = counts / total.clamp_min(1e-12)
    entropy = -(probs * torch.log(probs.clamp_min(1e-12))).sum(dim=-1)
    return torch.where(total.squeeze(-1) > 0, entropy.exp(), torch.zeros_like(entropy))


def codebook_usage(codes: torch.Tensor, codebook_size: int, mask: Optional[torch.Tensor] = None
                   ) -> dict[str, torch.Tensor]:
    """Usage of each level's codebook in a set of codes [B, n_q, T] (mask [B, T] optional).

    Returns:
        ``perplexity`` [n_q] (exp of the code entropy; at most codebook_size) and
        ``used_fraction`` [n_q] (share of the codes that occur at least once).
    """
    counts = code_counts(codes, codebook_size, mask)
    return {"perplexity": perplexity_from_counts(counts),
            "used_fraction": (counts > 0).float().mean(dim=-1)}
