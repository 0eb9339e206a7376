"""Key/value cache of one attention layer, for incremental (step by step) decoding.

Upstream USLM/VALL-E recompute the whole [text ; audio] prefix at every AR step (a TODO in both
repositories), which costs O(L^2) per step. With the keys and values of earlier positions kept,
a step only computes the new position's query, key and value: O(L) per step.

The buffers are allocated once with room for the expected length (``capacity``) and grow by
doubling if that was too small, so a step writes in place instead of copying the whole cache.
Only for inference: writes are in place and carry no autograd history.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch


class KVCache:
    """Keys and values [B, H, L, Dh] of the positions one attention layer has seen so far.

    Args:
        capacity: positions to allocate room for at the first append (more are added by
            doubling when needed).
    """

    def __init__(self, capacity: int = 0):
        self.capacity = capacity
        self.keys: Optional[torch.Tensor] = None
        self.values: Optional[torch.Tensor] = None
        self.length = 0

    def _reserve(self, like: torch.Tensor, needed: int) -> None:
        if self.keys is not None and needed <= self.keys.shape[2]:
            return
        old_capacity = 0 if self.keys is None else self.keys.shape[2]
        capacity = max(needed, self.capacity, 2 * old_capacity)
        batch, heads, _, head_dim = like.shape
        keys = like.new_empty(batch, heads, capacity, head_dim)
        values = like.new_empty(batch, heads, capacity, head_dim)
        if self.keys is not None and self.length:
            keys[:, :, :self.length] = self.keys[:, :, :self.length]
            values[:, :, :self.length] = self.values[:, :, :self.length]
        self.keys, self.values = keys, values

    def append(self, keys: torch.Tensor, values: torch.Tensor
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Store new positions and return all positions so far.

        Args:
            keys, values: [B, H, n, Dh] of the n new positions.

        Returns:
            keys, values: [B, H, length, Dh] views of the cache, new positions last.
        """
        if self.keys is not None and keys.shape[0] != self.keys.shape[0]:
            raise ValueError(f"KV cache holds {self.keys.shape[0]} rows, got {keys.shape[0]}")
        end = self.length + keys.shape[2]
        self._reserve(keys, end)
        self.keys[:, :, self.length:end] = keys
        self.values[:, :, self.length:end] = values
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only the batch rows ``rows`` ([n] long), e.g. drop items that have finished."""
        if self.keys is not None:
            self.keys = self.keys.index_select(0, rows)
            self.values = self.values.index_select(0, rows)
