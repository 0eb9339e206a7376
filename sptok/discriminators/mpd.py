"""Multi-period discriminator (HiFi-GAN, Kong et al. 2020).

Each sub-discriminator folds the waveform into a 2-D grid ``[N / p, p]`` for one period ``p`` and
runs 2-D convolutions along the folded time axis only (kernel ``(k, 1)``), so it sees the samples
``p`` apart: periodic structure such as the pitch harmonics.
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
    check_waveform,
    same_padding,
)


class PeriodDiscriminator(nn.Module):
    """One period of the MPD.

    Args:
        period: folding period ``p`` in samples.
        channels: output channels of the convolutions; all but the last one are strided.
            HiFi-GAN: ``(32, 128, 512, 1024, 1024)``.
        kernel_size: kernel length along the folded time axis.
        stride: stride of the strided convolutions along the folded time axis.
        norm: ``weight_norm``, ``spectral_norm`` or ``none``.
        negative_slope: slope of the LeakyReLU between layers.
    """

    def __init__(
        self,
        period: int,
        channels: Sequence[int] = (32, 128, 512, 1024, 1024),
        kernel_size: int = 5,
        stride: int = 3,
        norm: str = "weight_norm",
        negative_slope: float = 0.1,
    ) -> None:
        super().__init__()
        if period < 1:
            raise ValueError(f"periods: a period must be >= 1, got {period}")
        if len(channels) < 1:
            raise ValueError("channels: need at least one convolution")
        self.period = period
        self.negative_slope = negative_slope
        self.convs = nn.ModuleList()
        in_channels = 1
        for i, out_channels in enumerate(channels):
            layer_stride = stride if i < len(channels) - 1 else 1
            conv = nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size=(kernel_size, 1),
                stride=(layer_stride, 1),
                padding=(same_padding(kernel_size), 0),
            )
            self.convs.append(apply_norm(conv, norm))
            in_channels = out_channels
        self.conv_post = apply_norm(nn.Conv2d(in_channels, 1, kernel_size=(3, 1), padding=(1, 0)), norm)

    def forward(self, y: torch.Tensor) -> Tuple[torch.Tensor, FeatureMaps]:
        """Score one waveform batch.

        Args:
            y: ``[B, 1, N]``.

        Returns:
            logits ``[B, L]`` and the feature maps ``[B, C_i, T_i, period]``; as in HiFi-GAN the
            last feature map is the (unflattened) logit map itself.
        """
        batch, channels, length = y.shape
        remainder = length % self.period
        if remainder:
            # Reflect rather than zero-pad so the fold does not add an artificial silent tail.
            y = F.pad(y, (0, self.period - remainder), mode="reflect")
            length = y.size(-1)
        x = y.view(batch, channels, length // self.period, self.period)
        feature_maps: FeatureMaps = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.negative_slope)
            feature_maps.append(x)
        x = self.conv_post(x)
        feature_maps.append(x)
        return torch.flatten(x, 1), feature_maps


class MultiPeriodDiscriminator(nn.Module):
    """HiFi-GAN's MPD: one :class:`PeriodDiscriminator` per period.

    Args:
        periods: the folding periods (HiFi-GAN: primes 2, 3, 5, 7, 11 to limit overlap).
        channels, kernel_size, stride, norm, negative_slope: of every
            :class:`PeriodDiscriminator`.
    """

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        channels: Sequence[int] = (32, 128, 512, 1024, 1024),
        kernel_size: int = 5,
        stride: int = 3,
        norm: str = "weight_norm",
        negative_slope: float = 0.1,
    ) -> None:
        super().__init__()
        if len(periods) < 1:
            raise ValueError("periods: need at least one period")
        self.discriminators = nn.ModuleList(
            PeriodDiscriminator(int(p), channels, kernel_size, stride, norm, negative_slope) for p in periods
        )
        self.sub_names: List[str] = [f"p{int(p)}" for p in periods]

    def forward(self, y: torch.Tensor) -> DiscriminatorOutput:
        """``y [B, 1, N]`` -> (one logits ``[B, L_p]`` per period, one feature-map list per period)."""
        check_waveform(y, type(self).__name__)
        logits, feature_maps = [], []
        for discriminator in self.discriminators:
            logit, fmap = discriminator(y)
            logits.append(logit)
            feature_maps.append(fmap)
        return logits, feature_maps
