"""Distillation losses as configurable modules (``distill_loss: d_axis`` + ``distill_loss_conf``).

Thin wrappers around :mod:`sptok.losses.distill`, so the loss is chosen by name in the YAML.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from sptok.losses.distill import d_axis_distill_loss, t_axis_distill_loss


class DAxisDistillLoss(nn.Module):
    """SpeechTokenizer's loss: per feature dimension, -log sigmoid of the cosine between the
    student's and the teacher's time series (minimum softplus(-1) ~= 0.313)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, student: torch.Tensor, teacher: torch.Tensor,
                lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """student [B, T, D], teacher [B, T', D], lengths [B] valid frames -> scalar."""
        return d_axis_distill_loss(student, teacher, lengths, eps=self.eps)


class TAxisDistillLoss(nn.Module):
    """The paper's alternative: per-frame L1 + lambda_sim x (-log sigmoid of the per-frame
    cosine over the feature dimension)."""

    def __init__(self, lambda_sim: float = 1.0, eps: float = 1e-8):
        super().__init__()
        self.lambda_sim = lambda_sim
        self.eps = eps

    def forward(self, student: torch.Tensor, teacher: torch.Tensor,
                lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """student [B, T, D], teacher [B, T', D], lengths [B] valid frames -> scalar."""
        return t_axis_distill_loss(student, teacher, lengths, lambda_sim=self.lambda_sim,
                                   eps=self.eps)
