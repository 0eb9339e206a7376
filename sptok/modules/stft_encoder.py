"""Frame-rate encoder on STFT log-magnitudes: waveform [B, 1, N] -> latent [B, D, T].

The counterpart of :class:`~sptok.modules.istft_decoder.ISTFTDecoder`: one STFT frame per code
frame (window ``n_fft`` centred on the frame's ``hop_length`` samples), log-magnitudes, then a
ConvNeXt stack and a linear projection to the latent dimension, all at the code frame rate. On
CPUs it extracts far more per second of compute than SEANet's thin high-rate convolutions; the
paper's model keeps the SEANet encoder, this is a swap by name (``encoder: stft``). It drops the
phase, which the mel-spectrogram losses do not ask the decoder to reproduce anyway.

Framing ("same" padding): T = ceil(N / hop_length) frames; ``(n_fft - hop_length) / 2`` zeros
before the signal and zeros after it up to ``T * hop_length + (n_fft - hop_length) / 2``. Zeros,
not reflections, so that a padded batch (samples past each item's length are zeroed first) gives
every item the frames it gets alone.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from sptok.modules.convnext import (ConvNeXtBlock, check_frame_network_options,
                                    init_convnext_weights)
from sptok.modules.lengths import ceil_div, check_lengths, frame_mask, mask_padding


class STFTEncoder(nn.Module):
    """STFT log-magnitude frames -> ConvNeXt stack -> latent.

    Args:
        dimension: latent channels D.
        hop_length: samples per latent frame.
        n_fft: analysis window and FFT size; ``n_fft - hop_length`` even.
        channels: width of the ConvNeXt stack.
        intermediate_dim: hidden width of each block's MLP (default 3 x channels).
        num_layers: ConvNeXt blocks.
        kernel_size: depthwise kernel of the blocks and of the input convolution.
        log_floor: magnitude floor before the log (silence).
    """

    def __init__(self, dimension: int = 128, hop_length: int = 320, n_fft: int = 1280,
                 channels: int = 256, intermediate_dim: Optional[int] = None,
                 num_layers: int = 8, kernel_size: int = 7, log_floor: float = 1e-5):
        super().__init__()
        check_frame_network_options("STFTEncoder", hop_length, n_fft, kernel_size, num_layers)
        if log_floor <= 0:
            raise ValueError(f"STFTEncoder: log_floor must be > 0, got {log_floor}")
        intermediate_dim = 3 * channels if intermediate_dim is None else intermediate_dim
        self.dimension = dimension
        self.n_fft = n_fft
        self.log_floor = float(log_floor)
        self._hop_length = hop_length
        self.embed = nn.Conv1d(n_fft // 2 + 1, channels, kernel_size, padding=kernel_size // 2)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(channels, intermediate_dim, kernel_size, 1.0 / num_layers)
            for _ in range(num_layers))
        self.final_norm = nn.LayerNorm(channels, eps=1e-6)
        self.proj = nn.Linear(channels, dimension)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.apply(init_convnext_weights)

    @property
    def hop_length(self) -> int:
        """Input samples per latent frame."""
        return self._hop_length

    def get_output_length(self, n_samples):
        """Latent frames for ``n_samples`` samples (int or tensor): ceil(N / hop_length)."""
        return ceil_div(n_samples, self._hop_length)

    def log_magnitudes(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` [B, 1, N] (already zero past each item's end) -> log|STFT| [B, n_fft/2+1, T]."""
        hop = self._hop_length
        n_frames = ceil_div(x.shape[-1], hop)
        side = (self.n_fft - hop) // 2
        padded = F.pad(x[:, 0].float(), (side, n_frames * hop - x.shape[-1] + side))
        frames = padded.unfold(-1, self.n_fft, hop) * self.window.float()  # [B, T, n_fft]
        magnitude = torch.fft.rfft(frames, dim=-1).abs()
        return torch.log(magnitude.clamp(min=self.log_floor)).transpose(1, 2)

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Encode ``x`` [B, 1, N].

        Args:
            x: waveform batch, items padded at the end.
            lengths: optional [B] valid samples per item.

        Returns:
            latent [B, dimension, ceil(N / hop_length)] (zero past each item's frames) and the
            frame counts [B] = ceil(lengths / hop_length) (None without lengths).
        """
        if x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(f"STFTEncoder expects [B, 1, N], got {list(x.shape)}")
        lengths = check_lengths(lengths, x)
        x = mask_padding(x, lengths)
        with torch.autocast(device_type=x.device.type, enabled=False):
            features = self.log_magnitudes(x)
        features = features.to(x.dtype)
        n_frames = features.shape[-1]
        frame_lengths = None if lengths is None else self.get_output_length(lengths)
        mask = frame_mask(frame_lengths, x.shape[0], n_frames, features)
        h = self.embed(features * mask)
        h = self.norm(h.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            h = block(h, mask)
        z = self.proj(self.final_norm(h.transpose(1, 2))).transpose(1, 2)
        return mask_padding(z, frame_lengths), frame_lengths
