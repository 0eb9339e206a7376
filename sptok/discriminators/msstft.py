"""Multi-scale STFT discriminator (EnCodec, Defossez et al. 2022).

Each sub-discriminator looks at one complex STFT of the waveform, given as two channels (real and
imaginary part) of a ``[time, frequency]`` image, so it can judge phase as well as magnitude. Its
2-D convolutions are strided along frequency and dilated (1, 2, 4) along time.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

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


def _same_padding_2d(kernel_size: Tuple[int, int], dilation: Tuple[int, int] = (1, 1)) -> Tuple[int, int]:
    return ((kernel_size[0] - 1) * dilation[0] // 2, (kernel_size[1] - 1) * dilation[1] // 2)


class STFTDiscriminator(nn.Module):
    """One resolution of the MS-STFT discriminator.

    Args:
        n_fft: FFT size.
        hop_length: STFT hop (EnCodec: ``n_fft // 4``).
        win_length: Hann window length (EnCodec: ``n_fft``).
        filters: channels of the first convolution.
        max_filters: cap on the channels.
        filters_scale: channel growth per dilated convolution (EnCodec: 1, i.e. constant width).
        kernel_size: ``(time, frequency)`` kernel of the first and the dilated convolutions.
        stride: ``(time, frequency)`` stride of the dilated convolutions.
        dilations: time dilations of the strided convolutions, one convolution each.
        normalized: divide the STFT by the window's L2 norm (as torchaudio's ``normalized=True``).
        norm: ``weight_norm``, ``spectral_norm`` or ``none``; applied to every convolution
            (EnCodec's code leaves the first one unnormalised).
        negative_slope: slope of the LeakyReLU between layers (EnCodec: 0.2).
    """

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: Optional[int] = None,
        win_length: Optional[int] = None,
        filters: int = 32,
        max_filters: int = 1024,
        filters_scale: int = 1,
        kernel_size: Sequence[int] = (3, 9),
        stride: Sequence[int] = (1, 2),
        dilations: Sequence[int] = (1, 2, 4),
        normalized: bool = True,
        norm: str = "weight_norm",
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        hop_length = n_fft // 4 if hop_length is None else hop_length
        win_length = n_fft if win_length is None else win_length
        if not 0 < win_length <= n_fft:
            raise ValueError(f"win_lengths: must be in (0, n_fft={n_fft}], got {win_length}")
        if hop_length < 1:
            raise ValueError(f"hop_lengths: must be >= 1, got {hop_length}")
        if len(kernel_size) != 2 or len(stride) != 2:
            raise ValueError("kernel_size and stride: expected two values (time, frequency)")
        kernel = (int(kernel_size[0]), int(kernel_size[1]))
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.normalized = normalized
        self.negative_slope = negative_slope
        # Not persistent: derived from the options, so checkpoints hold only learned weights.
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)

        self.convs = nn.ModuleList()
        self.convs.append(
            apply_norm(nn.Conv2d(2, filters, kernel, padding=_same_padding_2d(kernel)), norm)
        )
        # Grow from the first conv's real width: EnCodec starts from filters * filters_scale here,
        # which only matches for filters_scale == 1.
        in_channels = filters
        for i, dilation in enumerate(dilations):
            out_channels = min(filters_scale ** (i + 1) * filters, max_filters)
            conv = nn.Conv2d(
                in_channels,
                out_channels,
                kernel,
                stride=(int(stride[0]), int(stride[1])),
                dilation=(int(dilation), 1),
                padding=_same_padding_2d(kernel, (int(dilation), 1)),
            )
            self.convs.append(apply_norm(conv, norm))
            in_channels = out_channels
        square = (kernel[0], kernel[0])
        out_channels = min(filters_scale ** (len(dilations) + 1) * filters, max_filters)
        self.convs.append(
            apply_norm(nn.Conv2d(in_channels, out_channels, square, padding=_same_padding_2d(square)), norm)
        )
        self.conv_post = apply_norm(nn.Conv2d(out_channels, 1, square, padding=_same_padding_2d(square)), norm)

    def spectrogram(self, y: torch.Tensor) -> torch.Tensor:
        """``y [B, 1, N]`` -> real/imaginary STFT image ``[B, 2, frames, n_fft // 2 + 1]``."""
        if y.size(-1) < self.n_fft:
            raise ValueError(
                f"{type(self).__name__}: input of {y.size(-1)} samples is shorter than n_fft={self.n_fft}"
            )
        # FFTs in half precision are unsupported for most sizes: always transform in float32.
        spec = torch.stft(
            y.reshape(-1, y.size(-1)).float(),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window.float(),
            center=False,
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        if self.normalized:
            spec = spec / self.window.float().pow(2).sum().sqrt()
        image = torch.stack([spec.real, spec.imag], dim=1)  # [B, 2, F, T]
        return image.transpose(2, 3)  # [B, 2, T, F]

    def forward(self, y: torch.Tensor) -> Tuple[torch.Tensor, FeatureMaps]:
        """``y [B, 1, N]`` -> logits ``[B, L]`` and feature maps ``[B, C_i, T, F_i]`` (the hidden
        activations only, as in EnCodec)."""
        x = self.spectrogram(y)
        feature_maps: FeatureMaps = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.negative_slope)
            feature_maps.append(x)
        return torch.flatten(self.conv_post(x), 1), feature_maps


class MultiScaleSTFTDiscriminator(nn.Module):
    """EnCodec's MS-STFT discriminator: one :class:`STFTDiscriminator` per FFT size.

    Args:
        n_ffts: FFT sizes (EnCodec: 1024, 2048, 512, 256, 128).
        hop_lengths: hops; default ``n_fft // 4`` each.
        win_lengths: window lengths; default ``n_fft`` each.
        filters: channels of every sub-discriminator (EnCodec: 32).
        max_filters, filters_scale, kernel_size, stride, dilations, normalized, norm,
            negative_slope: of every :class:`STFTDiscriminator`.
    """

    def __init__(
        self,
        n_ffts: Sequence[int] = (1024, 2048, 512, 256, 128),
        hop_lengths: Optional[Sequence[int]] = None,
        win_lengths: Optional[Sequence[int]] = None,
        filters: int = 32,
        max_filters: int = 1024,
        filters_scale: int = 1,
        kernel_size: Sequence[int] = (3, 9),
        stride: Sequence[int] = (1, 2),
        dilations: Sequence[int] = (1, 2, 4),
        normalized: bool = True,
        norm: str = "weight_norm",
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        if len(n_ffts) < 1:
            raise ValueError("n_ffts: need at least one FFT size")
        hop_lengths = [n // 4 for n in n_ffts] if hop_lengths is None else list(hop_lengths)
        win_lengths = list(n_ffts) if win_lengths is None else list(win_lengths)
        check_same_length(type(self).__name__, n_ffts=n_ffts, hop_lengths=hop_lengths, win_lengths=win_lengths)
        self.discriminators = nn.ModuleList(
            STFTDiscriminator(
                int(n),
                hop_length=int(h),
                win_length=int(w),
                filters=filters,
                max_filters=max_filters,
                filters_scale=filters_scale,
                kernel_size=kernel_size,
                stride=stride,
                dilations=dilations,
                normalized=normalized,
                norm=norm,
                negative_slope=negative_slope,
            )
            for n, h, w in zip(n_ffts, hop_lengths, win_lengths)
        )
        self.sub_names: List[str] = [f"stft{int(n)}" for n in n_ffts]

    def forward(self, y: torch.Tensor) -> DiscriminatorOutput:
        """``y [B, 1, N]`` (N >= max n_fft) -> (one logits ``[B, L_k]`` per FFT size, one
        feature-map list per FFT size)."""
        check_waveform(y, type(self).__name__)
        logits, feature_maps = [], []
        for discriminator in self.discriminators:
            logit, fmap = discriminator(y)
            logits.append(logit)
            feature_maps.append(fmap)
        return logits, feature_maps
