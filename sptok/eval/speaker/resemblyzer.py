"""Resemblyzer's GE2E speaker encoder (3-layer LSTM, 256-d, trained on VoxCeleb and LibriSpeech),
whose weights ship inside its PyPI wheel.

Each utterance is volume-normalised, long silences are cut (WebRTC VAD), and 1.6 s windows
(40-band mel) at 1.3 windows per second are embedded and averaged, as in
``VoiceEncoder.embed_utterance``; here the windows of a whole batch of utterances go through the
LSTM together. The mel spectrogram is computed with torch, equal to upstream's librosa one (power
spectrum, Hann 25 ms / 10 ms, zero-padded centred frames, 40 Slaney mel bands): importing librosa
(and numba) would cost seconds per process and adds nothing.
"""
from __future__ import annotations

import warnings
from typing import List

import numpy as np

from sptok.eval.speaker.base import AbsSpeakerEmbedder, l2_normalize

#: A silence cut that leaves less than this many samples is undone (the utterance is all silence
#: to the VAD): embedding the whole signal is better than embedding nothing.
_MIN_TRIMMED_SAMPLES = 1600


def _import_resemblyzer():
    try:
        with warnings.catch_warnings():
            # resemblyzer imports scipy.ndimage.morphology, deprecated in SciPy 1.x.
            warnings.simplefilter("ignore", DeprecationWarning)
            import resemblyzer
            import resemblyzer.audio
            import resemblyzer.hparams
    except ImportError as e:
        raise ImportError("resemblyzer is not installed: run tools/install.sh --extras eval (or "
                          "pip install -r tools/requirements-eval.txt and, with --no-deps, "
                          "tools/requirements-eval-nodeps.txt)") from e
    return resemblyzer


class ResemblyzerEmbedder(AbsSpeakerEmbedder):
    """GE2E embeddings from resemblyzer 0.1.4.

    Args:
        device: torch device of the LSTM.
        batch_size: 1.6 s windows per LSTM call.
        trim_silence: cut long silences first (upstream's ``preprocess_wav``).
        weights: a GE2E checkpoint of the same architecture; None: the one in the wheel.
    """

    sample_rate = 16000

    def __init__(self, device: str = "cpu", batch_size: int = 64, trim_silence: bool = True,
                 weights: str | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"{type(self).__name__}: batch_size must be >= 1, got {batch_size}")
        resemblyzer = _import_resemblyzer()
        import torch

        self._torch = torch
        self._audio = resemblyzer.audio
        self.batch_size = batch_size
        self.trim_silence = trim_silence
        self.encoder = resemblyzer.VoiceEncoder(device=torch.device(device), verbose=False,
                                                weights_fpath=weights).eval()
        self.device = self.encoder.device
        hparams = resemblyzer.hparams
        self._n_fft = hparams.sampling_rate * hparams.mel_window_length // 1000
        self._hop = hparams.sampling_rate * hparams.mel_window_step // 1000
        self._window = torch.hann_window(self._n_fft)
        self._mel_basis = self._mel_filterbank(hparams.sampling_rate, self._n_fft,
                                               hparams.mel_n_channels)

    @staticmethod
    def _mel_filterbank(sample_rate: int, n_fft: int, n_mels: int):
        """librosa.filters.mel's default, Slaney scale and area normalisation:
        ``[n_freqs, n_mels]``."""
        import torchaudio.functional

        return torchaudio.functional.melscale_fbanks(
            n_fft // 2 + 1, 0.0, sample_rate / 2, n_mels, sample_rate, norm="slaney",
            mel_scale="slaney")

    def _mel_spectrogram(self, wav: np.ndarray) -> np.ndarray:
        """Power mel spectrogram ``[frames, n_mels]`` of a float32 ``[N]`` waveform, as
        ``resemblyzer.audio.wav_to_mel_spectrogram``."""
        torch = self._torch
        spec = torch.stft(torch.from_numpy(wav), n_fft=self._n_fft, hop_length=self._hop,
                          window=self._window, center=True, pad_mode="constant",
                          return_complex=True).abs().pow(2)
        return (spec.T @ self._mel_basis).numpy()

    def _windows(self, wav: np.ndarray) -> np.ndarray:
        """Mel windows ``[n_windows, 160, 40]`` of one utterance."""
        if np.any(wav):  # the dBFS of digital silence is -inf
            wav = self._audio.normalize_volume(wav, self._audio.audio_norm_target_dBFS,
                                               increase_only=True)
        if self.trim_silence and wav.shape[0] >= _MIN_TRIMMED_SAMPLES:
            trimmed = self._audio.trim_long_silences(wav)
            if trimmed.shape[0] >= _MIN_TRIMMED_SAMPLES:
                wav = trimmed
        wav_slices, mel_slices = self.encoder.compute_partial_slices(
            wav.shape[0], rate=1.3, min_coverage=0.75)
        if wav_slices[-1].stop >= wav.shape[0]:
            wav = np.pad(wav, (0, wav_slices[-1].stop - wav.shape[0]))
        mel = self._mel_spectrogram(wav.astype(np.float32))
        return np.stack([mel[s] for s in mel_slices])

    def embed_waveforms(self, wavs: List[np.ndarray]) -> np.ndarray:
        torch = self._torch
        windows = [self._windows(wav.astype(np.float32)) for wav in wavs]
        stacked = np.concatenate(windows)
        outputs = []
        with torch.inference_mode():
            for start in range(0, stacked.shape[0], self.batch_size):
                chunk = torch.from_numpy(stacked[start:start + self.batch_size]).to(self.device)
                outputs.append(self.encoder(chunk).float().cpu().numpy())
        partial = np.concatenate(outputs)
        bounds = np.cumsum([0] + [w.shape[0] for w in windows])
        means = np.stack([partial[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
        return l2_normalize(means)
