"""Reference-based signal metrics of a resynthesised waveform: STOI, extended STOI, wideband PESQ
and log-mel distance.

Every metric takes ``(ref, hyp, sample_rate)``: float32 mono waveforms at the same rate. A codec's
output is often a few samples longer or shorter than its input (padding to whole frames), so both
are cut to the shorter one first; each metric resamples to the rate it is defined at (PESQ
wideband: 16 kHz; STOI resamples to 10 kHz itself; mel distance: 16 kHz).

- ``stoi`` / ``estoi``: pystoi, 0..1 (higher is better).
- ``pesq``: ITU-T P.862.2 wideband MOS-LQO via the ``pesq`` package, about 1.0..4.64 (higher is
  better); NaN when PESQ finds no speech in the reference.
- ``mel``: mean absolute difference of natural-log mel spectrograms (80 bands, 1024-point FFT,
  hop 240 at 16 kHz, magnitudes floored at 1e-5), the first resolution of the training loss
  :class:`sptok.losses.mel.MultiResolutionMelLoss` (lower is better; 0 for identical audio).
"""
from __future__ import annotations

import functools
from typing import Callable, Dict, Tuple

import numpy as np

from sptok.data.audio import resample

#: Rate the PESQ wideband and mel metrics work at.
METRIC_SAMPLE_RATE = 16000


def trim_to_shorter(ref: np.ndarray, hyp: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Both signals cut to the length of the shorter one."""
    ref, hyp = np.asarray(ref, dtype=np.float32), np.asarray(hyp, dtype=np.float32)
    if ref.ndim != 1 or hyp.ndim != 1:
        raise ValueError(f"signal metrics take mono [N] waveforms, got shapes {ref.shape}, "
                         f"{hyp.shape}")
    n = min(ref.shape[0], hyp.shape[0])
    if n == 0:
        raise ValueError("signal metrics: an empty waveform")
    return ref[:n], hyp[:n]


def _at_rate(ref: np.ndarray, hyp: np.ndarray, sample_rate: int,
             target_rate: int) -> Tuple[np.ndarray, np.ndarray]:
    ref, hyp = trim_to_shorter(ref, hyp)
    return resample(ref, sample_rate, target_rate), resample(hyp, sample_rate, target_rate)


def stoi(ref: np.ndarray, hyp: np.ndarray, sample_rate: int, extended: bool = False) -> float:
    """Short-time objective intelligibility of ``hyp`` against ``ref`` (pystoi), 0..1."""
    from pystoi import stoi as pystoi_stoi

    ref, hyp = trim_to_shorter(ref, hyp)
    return float(pystoi_stoi(ref.astype(np.float64), hyp.astype(np.float64), sample_rate,
                             extended=extended))


def estoi(ref: np.ndarray, hyp: np.ndarray, sample_rate: int) -> float:
    """Extended STOI (Jensen & Taal 2016), 0..1."""
    return stoi(ref, hyp, sample_rate, extended=True)


def pesq_wb(ref: np.ndarray, hyp: np.ndarray, sample_rate: int) -> float:
    """Wideband PESQ (P.862.2) MOS-LQO at 16 kHz; NaN when no utterance is detected."""
    from pesq import NoUtterancesError, pesq

    ref, hyp = _at_rate(ref, hyp, sample_rate, METRIC_SAMPLE_RATE)
    if not (np.any(ref) or np.any(hyp)):
        return float("nan")  # pesq divides both by their joint peak
    try:
        return float(pesq(METRIC_SAMPLE_RATE, ref.astype(np.float64), hyp.astype(np.float64),
                          "wb"))
    except NoUtterancesError:
        return float("nan")


@functools.lru_cache(maxsize=1)
def _log_mel():
    from sptok.losses.mel import LogMelSpectrogram

    return LogMelSpectrogram(METRIC_SAMPLE_RATE, n_fft=1024, hop_length=240, n_mels=80).eval()


def mel_distance(ref: np.ndarray, hyp: np.ndarray, sample_rate: int) -> float:
    """Mean absolute log-mel difference at 16 kHz (see the module docstring)."""
    import torch

    ref, hyp = _at_rate(ref, hyp, sample_rate, METRIC_SAMPLE_RATE)
    log_mel = _log_mel()
    min_samples = log_mel.n_fft - 2 * log_mel.pad
    if ref.shape[0] < max(min_samples, log_mel.pad + 1):
        raise ValueError(f"mel distance: {ref.shape[0]} samples at {METRIC_SAMPLE_RATE} Hz are "
                         f"too few (need {max(min_samples, log_mel.pad + 1)})")
    with torch.inference_mode():
        pair = torch.from_numpy(np.stack([ref, hyp]))
        mels = log_mel(pair)
    return float((mels[0] - mels[1]).abs().mean())


#: name -> metric(ref, hyp, sample_rate) -> float.
SIGNAL_METRICS: Dict[str, Callable[[np.ndarray, np.ndarray, int], float]] = {
    "stoi": stoi,
    "estoi": estoi,
    "pesq": pesq_wb,
    "mel": mel_distance,
}
