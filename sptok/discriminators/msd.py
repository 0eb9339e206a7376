"""Multi-scale discriminator (MelGAN / HiFi-GAN).

The same grouped 1-D convolutional stack judges the waveform at several sample rates: the raw
signal, then successively average-pooled copies (x2 each). As in HiFi-GAN the raw-scale
discriminator uses spectral normalisation (more stable on the sharpest input), the others weight
normalisation.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from sptok.discriminators.base import (
    DiscriminatorOutput,
    FeatureMaps,
    apply_norm,
    check_same_length,
    check_waveform,
)


class ScaleDiscriminator(nn.Module):
    """One scale of the MSD: a stack of (grouped, strided) 1-D convolutions.

    Args:
        channels: output channels per convolution (HiFi-GAN: 128, 128, 256, 512, 1024, 1024, 1024).
        kernel_sizes: kernel size per convolution (odd).
        strides: stride per convolution.
        groups: convolution groups per convolution; must divide both its input and output channels.
        norm: ``weight_norm``, ``spectral_norm`` or ``none``.
        negative_slope: slope of the LeakyReLU between layers.
    """

    def __init__(
        self,
        channels: Sequence[int] = (128, 128, 256, 512, 1024, 1024, 1024),
        kernel_sizes: Sequence[int] = (15, 41, 41, 41, 41, 41, 5),
        strides: Sequence[int] = (1, 2, 2, 4, 4, 1, 1),
        groups: Sequence[int] = (1, 4, 16, 16, 16, 16, 1),
        norm: str = "weight_norm",
        negative_slope: float = 0.1,
    ) -> None:
        super().__init__()
        check_same_length(
            type(self).__name__, channels=channels, kernel_sizes=kernel_sizes, strides=strides, groups=groups
        )
        if len(channels) < 1:
            raise ValueError("channels: need at least one convolution")
        self.negative_slope = negative_slope
        self.convs = nn.ModuleList()
        in_channels = 1
        for out_channels, kernel_size, stride, group in zip(channels, kernel_sizes, strides, groups):
            if in_channels % group or out_channels % group:
                raise ValueError(
                    f"groups: {group} must divide the input ({in_channels}) and output ({out_channels}) "
                    "channels of its convolution"
                )
            if kernel_size % 2 == 0:
                raise ValueError(f"kernel_sizes: must be odd, got {kernel_size}")
            conv = nn.Conv1d(
                in_channels, out_channels, kernel_size, stride=stride, groups=group, padding=kernel_size // 2
            )
            self.convs.append(apply_norm(conv, norm))
            in_channels = out_channels
        self.conv_post = apply_norm(nn.Conv1d(in_channels, 1, 3, padding=1), norm)

    def forward(self, y: torch.Tensor) -> Tuple[torch.Tensor, FeatureMaps]:
        """``y [B, 1, N]`` -> logits ``[B, L]`` and feature maps ``[B, C_i, T_i]`` (the last one is
        the logit map itself, as in HiFi-GAN)."""
        x = y
        feature_maps: FeatureMaps = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.negative_slope)
            feature_maps.append(x)
        x = self.conv_post(x)
        feature_maps.append(x)
        return torch.flatten(x, 1), feature_maps


class MultiScaleDiscriminator(nn.Module):
    """HiFi-GAN's MSD.

    Args:
        scales: number of scales (HiFi-GAN: 3 = raw, x2 and x4 average-pooled).
        channels, kernel_sizes, strides, groups, negative_slope: of every
            :class:`ScaleDiscriminator`.
        pool_kernel_size, pool_stride, pool_padding: the average pooling between scales
            (HiFi-GAN: 4, 2, 2).
        spectral_norm_first: spectral normalisation on the raw scale, ``norm`` on the others.
        norm: normalisation of the other scales (and of the first when ``spectral_norm_first`` is
            false).
    """

    def __init__(
        self,
        scales: int = 3,
        channels: Sequence[int] = (128, 128, 256, 512, 1024, 1024, 1024),
        kernel_sizes: Sequence[int] = (15, 41, 41, 41, 41, 41, 5),
        strides: Sequence[int] = (1, 2, 2, 4, 4, 1, 1),
        groups: Sequence[int] = (1, 4, 16, 16, 16, 16, 1),
        pool_kernel_size: int = 4,
        pool_stride: int = 2,
        pool_padding: int = 2,
        spectral_norm_first: bool = True,
        norm: str = "weight_norm",
        negative_slope: float = 0.1,
    ) -> None:
        super().__init__()
        if scales < 1:
            raise ValueError(f"scales: need at least one scale, got {scales}")
        self.discriminators = nn.ModuleList(
            ScaleDiscriminator(
                channels,
                kernel_sizes,
                strides,
                groups,
                norm="spectral_norm" if i == 0 and spectral_norm_first else norm,
                negative_slope=negative_slope,
            )
            for i in range(scales)
        )
        self.pool = nn.AvgPool1d(pool_kernel_size, pool_stride, padding=pool_padding)
        self.sub_names: List[str] = [f"s{i}" for i in range(scales)]

    def forward(self, y: torch.Tensor) -> DiscriminatorOutput:
        """``y [B, 1, N]`` -> (one logits ``[B, L_s]`` per scale, one feature-map list per scale)."""
        check_waveform(y, type(self).__name__)
        logits, feature_maps = [], []
        for i, discriminator in enumerate(self.discriminators):
            if i > 0:
                y = self.pool(y)
            logit, fmap = discriminator(y)
            logits.append(logit)
            feature_maps.append(fmap)
        return logits, feature_maps
