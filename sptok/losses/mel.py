"""Multi-resolution log-mel L1 loss (HiFi-GAN framing, as in the SpeechTokenizer training code).

Per resolution ``r``: magnitude STFT (Hann window, not centred: the signal is reflect-padded by
``(n_fft - hop) // 2`` on both sides, so there are ``floor(N / hop)`` frames when
``win = n_fft``), Slaney-normalised HTK mel filterbank, ``log(clamp(mel, 1e-5))``, then the mean
absolute difference. The loss is ``sum_r weight_r * L1_r``; defaults give the paper's 4
resolutions (n_fft = win = 1024/512/256/128, hop 240/120/60/30, 80 mels, weights 45, 1, 1, 1).

With 80 mels, the 256- and 128-point FFTs have fewer frequency bins than needed to give every mel
filter a non-zero weight: those filters are constant (log 1e-5) for both signals and add nothing
but still count in the mean, exactly as upstream.

The filterbank and windows are non-persistent buffers: the loss adds nothing to checkpoints.
:class:`LogMelSpectrogram` equals torchaudio's ``MelSpectrogram(power=1, center=False,
norm="slaney", mel_scale="htk")`` applied to the reflect-padded signal (checked in the tests).

Masking (``lengths``): samples past each utterance's end are set to zero in both signals, and only
frames whose window starts before the end count, so the padding content cannot change the loss.
"""
from __future__ import annotations

import warnings
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from sptok.losses.waveform import align_signals, valid_sample_mask


class LogMelSpectrogram(nn.Module):
    """HiFi-GAN-style log-mel spectrogram of one resolution.

    Args:
        sample_rate: audio sample rate in Hz.
        n_fft, hop_length, win_length: STFT framing (``win_length`` <= ``n_fft``).
        n_mels: mel bands.
        f_min, f_max: filterbank range in Hz; ``f_max`` None means ``sample_rate / 2``.
        clamp_min: floor of the mel magnitude before the log.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: int = 240,
        win_length: Optional[int] = None,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: Optional[float] = None,
        clamp_min: float = 1e-5,
    ) -> None:
        super().__init__()
        win_length = n_fft if win_length is None else win_length
        if not 0 < win_length <= n_fft:
            raise ValueError(f"win_lengths: {win_length} must lie in (0, n_fft={n_fft}]")
        if not 0 < hop_length <= n_fft:
            raise ValueError(f"hop_lengths: {hop_length} must lie in (0, n_fft={n_fft}]")
        if clamp_min <= 0:
            raise ValueError(f"clamp_min: must be > 0, got {clamp_min}")
        f_max = sample_rate / 2 if f_max is None else f_max
        if not 0 <= f_min < f_max <= sample_rate / 2:
            raise ValueError(f"f_min, f_max: need 0 <= f_min < f_max <= {sample_rate / 2}, got {f_min}, {f_max}")
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.clamp_min = clamp_min
        with warnings.catch_warnings():
            # Expected for the small FFTs (see the module docstring); upstream has the same filters.
            warnings.filterwarnings("ignore", message="At least one mel filterbank has all zero values")
            mel_basis = torchaudio.functional.melscale_fbanks(
                n_freqs=n_fft // 2 + 1,
                f_min=f_min,
                f_max=f_max,
                n_mels=n_mels,
                sample_rate=sample_rate,
                norm="slaney",
                mel_scale="htk",
            )
        self.register_buffer("mel_basis", mel_basis.T.contiguous(), persistent=False)  # [n_mels, n_freqs]
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)

    @property
    def pad(self) -> int:
        """Reflect padding on each side of the signal."""
        return (self.n_fft - self.hop_length) // 2

    def frame_starts(self, frames: int, device: Optional[torch.device] = None) -> torch.Tensor:
        """Index, in the unpadded signal, of the first sample under each frame's window ``[frames]``."""
        offset = (self.n_fft - self.win_length) // 2 - self.pad
        return torch.arange(frames, device=device) * self.hop_length + offset

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """``signal [B, N]`` -> log-mel ``[B, n_mels, floor((N + 2 * pad - n_fft) / hop) + 1]``,
        computed in float32."""
        if signal.size(-1) <= self.pad or signal.size(-1) + 2 * self.pad < self.n_fft:
            raise ValueError(f"LogMelSpectrogram: {signal.size(-1)} samples are too few for n_fft={self.n_fft}")
        # Keep the STFT and the filterbank matmul out of autocast: half-precision log-mels are too coarse.
        with torch.autocast(device_type=signal.device.type, enabled=False):
            padded = F.pad(signal.float().unsqueeze(1), (self.pad, self.pad), mode="reflect").squeeze(1)
            spec = torch.stft(
                padded,
                n_fft=self.n_fft,
                hop_length=self.hop_length,
                win_length=self.win_length,
                window=self.window.float(),
                center=False,
                normalized=False,
                onesided=True,
                return_complex=True,
            )
            mel = torch.matmul(self.mel_basis.float(), spec.abs())
            return torch.log(torch.clamp(mel, min=self.clamp_min))


class MultiResolutionMelLoss(nn.Module):
    """Weighted sum of log-mel L1 distances at several STFT resolutions.

    Args:
        sample_rate: audio sample rate in Hz.
        n_ffts: FFT size per resolution.
        hop_lengths: hop per resolution.
        win_lengths: window length per resolution; default ``n_ffts``.
        weights: weight per resolution.
        n_mels: mel bands.
        f_min, f_max: mel filterbank range in Hz; ``f_max`` None means ``sample_rate / 2``.
        clamp_min: floor of the mel magnitude before the log.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_ffts: Sequence[int] = (1024, 512, 256, 128),
        hop_lengths: Sequence[int] = (240, 120, 60, 30),
        win_lengths: Optional[Sequence[int]] = None,
        weights: Sequence[float] = (45.0, 1.0, 1.0, 1.0),
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: Optional[float] = None,
        clamp_min: float = 1e-5,
    ) -> None:
        super().__init__()
        win_lengths = list(n_ffts) if win_lengths is None else list(win_lengths)
        options = {"n_ffts": n_ffts, "hop_lengths": hop_lengths, "win_lengths": win_lengths, "weights": weights}
        if len(set(len(value) for value in options.values())) != 1:
            listed = ", ".join(f"{key} ({len(value)})" for key, value in options.items())
            raise ValueError(f"MultiResolutionMelLoss: per-resolution options must have the same length: {listed}")
        if len(n_ffts) == 0:
            raise ValueError("MultiResolutionMelLoss: n_ffts: need at least one resolution")
        self.weights = [float(w) for w in weights]
        try:
            self.resolutions = nn.ModuleList(
                LogMelSpectrogram(sample_rate, int(n), int(h), int(w), n_mels, f_min, f_max, clamp_min)
                for n, h, w in zip(n_ffts, hop_lengths, win_lengths)
            )
        except ValueError as error:
            raise ValueError(f"MultiResolutionMelLoss: {error}") from error

    def resolution_losses(
        self, estimate: torch.Tensor, target: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> List[torch.Tensor]:
        """Unweighted log-mel L1 per resolution (for logging).

        Args:
            estimate: generated waveform ``[B, 1, N']`` (or ``[B, N']``).
            target: reference waveform ``[B, 1, N]`` (or ``[B, N]``).
            lengths: ``[B]`` valid samples per utterance; None: all samples count.

        Returns:
            one scalar tensor per resolution.
        """
        estimate, target, lengths = align_signals(estimate, target, lengths, type(self).__name__)
        if lengths is not None:
            samples = valid_sample_mask(lengths, target.size(-1))
            estimate = torch.where(samples, estimate, torch.zeros_like(estimate))
            target = torch.where(samples, target, torch.zeros_like(target))
        losses = []
        for log_mel in self.resolutions:
            error = torch.abs(log_mel(estimate) - log_mel(target))  # [B, n_mels, T]
            if lengths is None:
                losses.append(error.mean())
                continue
            starts = log_mel.frame_starts(error.size(-1), device=lengths.device)
            frames = (starts.unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(1)  # [B, 1, T]
            error = torch.where(frames, error, torch.zeros_like(error))
            losses.append(error.sum() / (frames.sum() * error.size(1)).clamp_min(1))
        return losses

    def forward(
        self, estimate: torch.Tensor, target: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Weighted sum of :meth:`resolution_losses`: a scalar tensor."""
        losses = self.resolution_losses(estimate, target, lengths)
        return sum(weight * loss for weight, loss in zip(self.weights, losses))
