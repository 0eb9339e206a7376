"""Convolutions with built-in "same"-style padding, causal mode and per-item lengths.

``SConv1d`` pads so that a stride-s convolution maps T samples to ceil(T / s) frames (EnCodec's
extra right padding makes the last window full); ``SConvTranspose1d`` maps T frames to T * s
samples. Given ``lengths`` [B], every item of a padded batch is padded at its own end, so its
valid outputs equal what the item alone would give.

Module/parameter names follow EnCodec's SEANet (``conv.conv.weight``,
``convtr.convtr.weight``) so released checkpoints map onto these modules by renaming the
weight-norm tensors only (see ``sptok.modules.official``).
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from sptok.modules.lengths import IntOrTensor, ceil_div, floor_div, mask_padding
from sptok.modules.padding import check_pad_mode, pad1d, pad1d_per_item, unpad1d

CONV_NORMS = ("none", "weight_norm")


def apply_norm(module: nn.Module, norm: str) -> nn.Module:
    """Wrap ``module`` with the named weight parametrization ("none" or "weight_norm")."""
    if norm not in CONV_NORMS:
        raise ValueError(f"norm must be one of {CONV_NORMS}, got {norm!r}")
    if norm == "weight_norm":
        return weight_norm(module)
    return module


class NormConv1d(nn.Module):
    """``nn.Conv1d`` with an optional weight norm, no padding of its own."""

    def __init__(self, *args, norm: str = "none", **kwargs):
        super().__init__()
        self.conv = apply_norm(nn.Conv1d(*args, **kwargs), norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class NormConvTranspose1d(nn.Module):
    """``nn.ConvTranspose1d`` with an optional weight norm, no trimming of its own."""

    def __init__(self, *args, norm: str = "none", **kwargs):
        super().__init__()
        self.convtr = apply_norm(nn.ConvTranspose1d(*args, **kwargs), norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convtr(x)


def conv1d_padding(kernel_size: int, stride: int, dilation: int, length: IntOrTensor,
                   causal: bool) -> Tuple[int, IntOrTensor]:
    """(left, right) padding that ``SConv1d`` adds to an input of ``length`` samples.

    The total fixed padding (k - 1) * d - (s - 1) is split evenly (the extra sample on the left)
    or put all on the left when causal; the right side also gets EnCodec's extra padding, the
    smallest amount that makes the last stride window full.
    """
    padding_total = (kernel_size - 1) * dilation - (stride - 1)
    n_frames = ceil_div(length - kernel_size + padding_total, stride) + 1
    ideal_length = (n_frames - 1) * stride + kernel_size - padding_total
    extra_padding = ideal_length - length
    if causal:
        return padding_total, extra_padding
    padding_right = padding_total // 2
    return padding_total - padding_right, padding_right + extra_padding


def conv1d_output_length(length: IntOrTensor, kernel_size: int, stride: int = 1, dilation: int = 1,
                         causal: bool = False) -> IntOrTensor:
    """Frames ``SConv1d`` returns for ``length`` input samples (ceil(length / stride) when d = 1)."""
    padding_left, padding_right = conv1d_padding(kernel_size, stride, dilation, length, causal)
    padded = length + padding_left + padding_right
    return floor_div(padded - (kernel_size - 1) * dilation - 1, stride) + 1


class SConv1d(nn.Module):
    """Conv1d with asymmetric or causal padding, weight norm and per-item lengths.

    Args:
        in_channels, out_channels, kernel_size, stride, dilation, groups, bias: as ``nn.Conv1d``.
        causal: put all fixed padding on the left, so no output looks ahead of its last sample.
        norm: "weight_norm" or "none".
        pad_mode: "reflect", "replicate" or "constant" (zeros).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1, groups: int = 1, bias: bool = True, causal: bool = False,
                 norm: str = "none", pad_mode: str = "reflect"):
        super().__init__()
        self.conv = NormConv1d(in_channels, out_channels, kernel_size, stride, dilation=dilation,
                               groups=groups, bias=bias, norm=norm)
        self.kernel_size = kernel_size
        self.stride = stride
        self.dilation = dilation
        self.causal = causal
        self.pad_mode = check_pad_mode(pad_mode)

    def get_output_length(self, length: IntOrTensor) -> IntOrTensor:
        """Output frames for ``length`` input samples (int or long tensor)."""
        return conv1d_output_length(length, self.kernel_size, self.stride, self.dilation, self.causal)

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Convolve ``x`` [B, C_in, T].

        Args:
            x: input; with ``lengths``, values after ``lengths[b]`` are ignored.
            lengths: optional [B] valid samples per item.

        Returns:
            y [B, C_out, get_output_length(T)] and the output lengths [B] (None if no lengths);
            y's values past an item's output length are unspecified.
        """
        time = x.shape[-1]
        padding_left, padding_right = conv1d_padding(self.kernel_size, self.stride, self.dilation,
                                                     time, self.causal)
        if lengths is None:
            return self.conv(pad1d(x, (padding_left, padding_right), self.pad_mode)), None
        _, item_padding_right = conv1d_padding(self.kernel_size, self.stride, self.dilation,
                                               lengths, self.causal)
        # The padded length grows with the input length, so T's fits every item.
        x = pad1d_per_item(x, lengths, padding_left, item_padding_right,
                           time + padding_left + padding_right, self.pad_mode)
        return self.conv(x), self.get_output_length(lengths)


class SConvTranspose1d(nn.Module):
    """ConvTranspose1d that maps T frames to T * stride samples, with per-item lengths.

    Args:
        in_channels, out_channels, kernel_size, stride, bias: as ``nn.ConvTranspose1d``.
        causal: trim the surplus kernel_size - stride samples on the right (by
            ``trim_right_ratio``), so no output depends on later frames.
        norm: "weight_norm" or "none".
        trim_right_ratio: share of the trimming taken from the right in causal mode.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 bias: bool = True, causal: bool = False, norm: str = "none",
                 trim_right_ratio: float = 1.0):
        super().__init__()
        if not 0.0 <= trim_right_ratio <= 1.0:
            raise ValueError(f"trim_right_ratio must lie in [0, 1], got {trim_right_ratio}")
        if not causal and trim_right_ratio != 1.0:
            raise ValueError("trim_right_ratio != 1 only makes sense with causal=True")
        if kernel_size < stride:
            raise ValueError(f"kernel_size ({kernel_size}) must be >= stride ({stride})")
        self.convtr = NormConvTranspose1d(in_channels, out_channels, kernel_size, stride,
                                          bias=bias, norm=norm)
        self.kernel_size = kernel_size
        self.stride = stride
        self.causal = causal
        self.trim_right_ratio = trim_right_ratio

    def trim(self) -> Tuple[int, int]:
        """(left, right) samples cut from the raw transposed-convolution output."""
        padding_total = self.kernel_size - self.stride
        if self.causal:
            padding_right = math.ceil(padding_total * self.trim_right_ratio)
        else:
            padding_right = padding_total // 2
        return padding_total - padding_right, padding_right

    def get_output_length(self, length: IntOrTensor) -> IntOrTensor:
        """Output samples for ``length`` input frames: length * stride."""
        return length * self.stride

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Upsample ``x`` [B, C_in, T] to [B, C_out, T * stride].

        With ``lengths``, frames past an item's end are zeroed first: a transposed convolution
        spreads every frame over the next kernel_size samples, so filler frames would otherwise
        leak into the item's last valid samples.
        """
        x = mask_padding(x, lengths)
        y = unpad1d(self.convtr(x), self.trim())
        return y, None if lengths is None else self.get_output_length(lengths)
