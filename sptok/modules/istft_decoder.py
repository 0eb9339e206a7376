"""Frame-rate decoder with an inverse-STFT head (Vocos-style): latent [B, D, T] -> waveform.

Instead of upsampling through thin high-rate convolutions as SEANet does, the whole network runs
at the code frame rate (50 Hz for 16 kHz audio and a 320-sample hop): an input convolution, a
stack of ConvNeXt blocks, and a linear head that predicts one STFT frame (log-magnitude and phase)
per code frame; overlap-add of the inverse FFTs gives the waveform. Its work is wide matrix
products over few frames, which CPUs run far faster per useful FLOP than SEANet's 16-channel
convolutions over 16,000 samples per second: on this project's 2-core machine it is what lets a
mini codec become intelligible within the recipe's CPU budget (see egs/mini_synth/conf). The
paper's model keeps the SEANet decoder; this one is a swap by name (``decoder: istft``).

"Same" padding: frame t is the window centred on samples ``[t * hop, (t + 1) * hop)``, and
``(n_fft - hop) / 2`` samples are trimmed on each side of the overlap-add, so T frames give
exactly ``T * hop`` samples, like the SEANet decoder.

Padded batches: frames at or after an item's length are zeroed before every convolution, and
the overlap-add normalises each item by the window envelope of its own frames only, so every
item gets the audio it gets alone, up to float rounding.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from sptok.modules.convnext import (ConvNeXtBlock, check_frame_network_options,
                                    init_convnext_weights)
from sptok.modules.lengths import check_lengths, frame_mask, mask_padding


class ISTFTDecoder(nn.Module):
    """Latent frames -> ConvNeXt stack -> STFT frames -> inverse STFT.

    Args:
        dimension: latent channels D (injected from the encoder).
        hop_length: samples per latent frame (must equal the encoder's hop).
        n_fft: FFT size of the synthesis STFT (window length too); ``n_fft - hop_length`` even.
        channels: width of the ConvNeXt stack.
        intermediate_dim: hidden width of each block's MLP (default 3 x channels).
        num_layers: ConvNeXt blocks.
        kernel_size: depthwise kernel of the blocks and of the input convolution.
        max_log_magnitude: the predicted log-magnitude is clamped to this (keeps exp finite).
    """

    def __init__(self, dimension: int = 128, hop_length: int = 320, n_fft: int = 1280,
                 channels: int = 256, intermediate_dim: Optional[int] = None,
                 num_layers: int = 8, kernel_size: int = 7, max_log_magnitude: float = 4.6):
        super().__init__()
        check_frame_network_options("ISTFTDecoder", hop_length, n_fft, kernel_size, num_layers)
        intermediate_dim = 3 * channels if intermediate_dim is None else intermediate_dim
        self.dimension = dimension
        self.n_fft = n_fft
        self.max_log_magnitude = float(max_log_magnitude)
        self._hop_length = hop_length
        self.embed = nn.Conv1d(dimension, channels, kernel_size, padding=kernel_size // 2)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(channels, intermediate_dim, kernel_size, 1.0 / num_layers)
            for _ in range(num_layers))
        self.final_norm = nn.LayerNorm(channels, eps=1e-6)
        self.head = nn.Linear(channels, n_fft + 2)  # log-magnitude and phase of n_fft/2+1 bins
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.apply(init_convnext_weights)

    @property
    def hop_length(self) -> int:
        """Output samples per latent frame."""
        return self._hop_length

    def get_output_length(self, n_frames):
        """Output samples for ``n_frames`` latent frames: n_frames * hop_length."""
        return n_frames * self._hop_length

    def _overlap_add(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``frames`` [B, n_fft, T] windowed time frames, ``mask`` [B, 1, T] -> [B, 1, T * hop]."""
        batch, _, n_frames = frames.shape
        hop = self._hop_length
        full = (n_frames - 1) * hop + self.n_fft
        fold = dict(output_size=(1, full), kernel_size=(1, self.n_fft), stride=(1, hop))
        signal = F.fold(frames, **fold)
        envelope = F.fold((self.window.square()[None, :, None] * mask).expand(batch, -1, -1),
                          **fold)
        pad = (self.n_fft - hop) // 2
        signal = signal[..., pad:full - pad].reshape(batch, 1, -1)
        envelope = envelope[..., pad:full - pad].reshape(batch, 1, -1)
        # Past an item's last frame the envelope is 0: those samples are masked by the caller.
        return signal / envelope.clamp(min=1e-8)

    def forward(self, z: torch.Tensor, lengths: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Decode ``z`` [B, dimension, T].

        Args:
            z: latent batch, items padded at the end.
            lengths: optional [B] valid frames per item (1 <= lengths <= T).

        Returns:
            wav [B, 1, T * hop_length] (zero past each item's samples when lengths are given)
            and the sample counts [B] = lengths * hop_length (None without lengths).
        """
        if z.dim() != 3 or z.shape[1] != self.dimension:
            raise ValueError(f"ISTFTDecoder expects [B, {self.dimension}, T], got {list(z.shape)}")
        lengths = check_lengths(lengths, z)
        n_frames = z.shape[-1]
        mask = frame_mask(lengths, z.shape[0], n_frames, z)
        x = self.embed(z * mask)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x, mask)
        spec = self.head(self.final_norm(x.transpose(1, 2)))  # [B, T, n_fft + 2]
        with torch.autocast(device_type=z.device.type, enabled=False):
            log_mag, phase = spec.float().chunk(2, dim=-1)
            magnitude = torch.exp(log_mag.clamp(max=self.max_log_magnitude))
            stft = torch.polar(magnitude, phase)  # [B, T, n_fft/2 + 1]
            frames = torch.fft.irfft(stft, n=self.n_fft, dim=-1) * self.window.float()
            wav = self._overlap_add(frames.transpose(1, 2) * mask, mask)
        sample_lengths = None if lengths is None else lengths * self._hop_length
        return mask_padding(wav.to(z.dtype), sample_lengths), sample_lengths
