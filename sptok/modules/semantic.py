"""Projection from the codec latent to the semantic teacher's feature space."""
from __future__ import annotations

import torch
from torch import nn


class SemanticHead(nn.Linear):
    """Linear map latent_dim -> teacher_dim applied to RVQ-1's quantized output.

    Used only by the distillation loss (SpeechTokenizer: 1024 -> 768 for HuBERT base). A plain
    ``nn.Linear`` so its parameters are ``weight``/``bias``, like the released ``transform``.
    """

    def __init__(self, latent_dim: int = 1024, teacher_dim: int = 768, bias: bool = True):
        super().__init__(latent_dim, teacher_dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, latent_dim] -> [B, T, teacher_dim]."""
        if x.shape[-1] != self.in_features:
            raise ValueError(f"SemanticHead expects [..., {self.in_features}] features, "
                             f"got {list(x.shape)}; transpose a [B, D, T] latent first")
        return super().forward(x)
