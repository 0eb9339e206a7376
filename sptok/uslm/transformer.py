"""Pre-LN transformer for USLM/VALL-E: self-attention with an optional KV cache, and layer norms
that can be conditioned on the RVQ level being predicted (the NAR model's AdaLN).

Block: ``x = x + Attn(LN1(x)); x = x + FFN(LN2(x))``; a final LN after the last block.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sptok.uslm.kv_cache import KVCache

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


class LayerNorm(nn.LayerNorm):
    """Plain layer norm with the call signature of :class:`LevelLayerNorm` (level ignored)."""

    def forward(self, x: torch.Tensor, level: Optional[torch.Tensor] = None) -> torch.Tensor:
        return super().forward(x)


class LevelLayerNorm(nn.Module):
    """Layer norm whose scale and bias are looked up from an embedding of the level.

    One NAR network predicts every RVQ level 2..n_q; this is how it knows which one (VALL-E's
    AdaptiveLayerNorm). Each level starts as a plain layer norm (scale 1, bias 0).

    Args:
        dim: feature width.
        num_levels: number of levels (table rows).
        eps: layer norm epsilon.
    """

    def __init__(self, dim: int, num_levels: int, eps: float = 1e-5):
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.scale = nn.Embedding(num_levels, dim)
        self.bias = nn.Embedding(num_levels, dim)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, level: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x: [B, L, dim], level: [B] long row index per item -> [B, L, dim]."""
        if level is None:
            raise ValueError("LevelLayerNorm needs the level of every batch item")
        normed = F.layer_norm(x, (self.dim,), eps=self.eps)
        return normed * self.scale(level)[:, None, :] + self.bias(level)[:, None, :]


def make_norm(dim: int, num_levels: Optional[int]) -> nn.Module:
    """Level-conditioned norm if ``num_levels`` is given, else a plain one."""
    return LevelLayerNorm(dim, num_levels) if num_levels else LayerNorm(dim)


class SelfAttention(nn.Module):
    """Multi-head self-attention; with a cache it attends to the cached positions plus the new.

    Args:
        dim: model width (divisible by num_heads).
        num_heads: attention heads.
        dropout: attention-probability dropout (training only).
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor,
                cache: Optional[KVCache] = None) -> torch.Tensor:
        """x: [B, n, D]; mask: bool [B, 1, n, L] (L = cached + n); returns [B, n, D]."""
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.num_heads, self.head_dim).permute(
            2, 0, 3, 1, 4).unbind(0)
        if cache is not None:
            k, v = cache.append(k, v)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(batch, length, dim))


class TransformerBlock(nn.Module):
    """Pre-LN block: attention and feed-forward, each behind its own (level) layer norm."""

    def __init__(self, dim: int, num_heads: int, ffn_dim: int, dropout: float = 0.1,
                 activation: str = "relu", num_levels: Optional[int] = None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, "
                             f"got {activation!r}")
        self.norm_attention = make_norm(dim, num_levels)
        self.attention = SelfAttention(dim, num_heads, dropout)
        self.norm_ffn = make_norm(dim, num_levels)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), ACTIVATIONS[activation](),
                                 nn.Dropout(dropout), nn.Linear(ffn_dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, level: Optional[torch.Tensor] = None,
                cache: Optional[KVCache] = None) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.norm_attention(x, level), mask, cache))
        return x + self.dropout(self.ffn(self.norm_ffn(x, level)))


class Transformer(nn.Module):
    """Stack of pre-LN blocks and a final layer norm.

    Args:
        dim: model width.
        num_heads: attention heads.
        num_layers: blocks.
        ffn_dim: feed-forward hidden width.
        dropout: dropout on attention probabilities, residual branches and the FFN hidden layer.
        activation: ``relu`` (VALL-E) or ``gelu``.
        num_levels: if given, every layer norm is a :class:`LevelLayerNorm` with this many rows.
    """

    def __init__(self, dim: int, num_heads: int, num_layers: int, ffn_dim: int,
                 dropout: float = 0.1, activation: str = "relu",
                 num_levels: Optional[int] = None):
        super().__init__()
        self.num_layers = num_layers
        self.layers = nn.ModuleList(
            TransformerBlock(dim, num_heads, ffn_dim, dropout, activation, num_levels)
            for _ in range(num_layers))
        self.norm = make_norm(dim, num_levels)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, level: Optional[torch.Tensor] = None,
                caches: Optional[Sequence[KVCache]] = None) -> torch.Tensor:
        """Run the blocks.

        Args:
            x: [B, n, D] inputs of the n new positions.
            mask: bool [B, 1, n, L] or broadcastable; L = n without a cache, else cached + n.
            level: [B] long level rows for level-conditioned norms.
            caches: one :class:`KVCache` per layer; their keys/values are extended by the n
                positions.

        Returns:
            [B, n, D] final-normed hidden states.
        """
        if caches is not None and len(caches) != self.num_layers:
            raise ValueError(f"need {self.num_layers} layer caches, got {len(caches)}")
        for index, layer in enumerate(self.layers):
            x = layer(x, mask, level, None if caches is None else caches[index])
        return self.norm(x, level)
