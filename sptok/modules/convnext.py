"""ConvNeXt block over frame sequences (the backbone of the frame-rate encoder and decoder)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn


def check_frame_network_options(owner: str, hop_length: int, n_fft: int, kernel_size: int,
                                num_layers: int) -> None:
    """Validate the options shared by the frame-rate STFT encoder and inverse-STFT decoder.

    Raises:
        ValueError: naming ``owner`` and the bad option.
    """
    if hop_length <= 0 or n_fft < hop_length:
        raise ValueError(f"{owner}: need 0 < hop_length <= n_fft, got hop_length={hop_length}, "
                         f"n_fft={n_fft}")
    if (n_fft - hop_length) % 2:
        raise ValueError(f"{owner}: n_fft - hop_length must be even ('same' padding), got "
                         f"n_fft={n_fft}, hop_length={hop_length}")
    if kernel_size % 2 == 0:
        raise ValueError(f"{owner}: kernel_size must be odd, got {kernel_size}")
    if num_layers < 1:
        raise ValueError(f"{owner}: num_layers must be >= 1, got {num_layers}")


def init_convnext_weights(module: nn.Module) -> None:
    """ConvNeXt/Vocos initialisation (``model.apply``): truncated-normal weights, zero biases."""
    if isinstance(module, (nn.Conv1d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> pointwise MLP (GELU) -> layer scale, with a residual.

    Args:
        dim: channels.
        intermediate_dim: hidden width of the pointwise MLP.
        kernel_size: depthwise kernel (odd: centred).
        layer_scale_init: initial value of the per-channel output scale.
    """

    def __init__(self, dim: int, intermediate_dim: int, kernel_size: int = 7,
                 layer_scale_init: float = 0.125):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale_init)))

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``x`` [B, dim, T], ``mask`` [B, 1, T] (1 on valid frames) -> [B, dim, T]."""
        y = x if mask is None else x * mask  # padding frames read as the conv's zero padding
        y = self.dwconv(y).transpose(1, 2)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)
