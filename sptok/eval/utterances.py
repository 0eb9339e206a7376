"""The input every scorer takes: ``(key, waveform, sample_rate)`` triples, checked and resampled."""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

from sptok.data.audio import resample

#: ``(key, wav float32 [N], sample_rate)``.
Utterance = Tuple[str, np.ndarray, int]


def prepare_utterances(utterances: Sequence[Utterance], sample_rate: int,
                       who: str) -> List[Tuple[str, np.ndarray]]:
    """Check a batch and bring each waveform to ``sample_rate``.

    Args:
        utterances: ``(key, wav [N], sr)`` triples; keys must be unique.
        sample_rate: the rate the scorer's model works at.
        who: the scorer's name, for error messages.

    Returns:
        ``(key, float32 wav [N'])`` pairs in input order.

    Raises:
        ValueError: a duplicate key, or a waveform that is not a non-empty finite 1-D array, or a
            non-positive sample rate (each named by key).
    """
    seen = set()
    out = []
    for key, wav, sr in utterances:
        if key in seen:
            raise ValueError(f"{who}: key '{key}' given twice in one batch")
        seen.add(key)
        wav = np.asarray(wav)
        if wav.ndim != 1 or wav.shape[0] == 0:
            raise ValueError(f"{who}: key '{key}': expected a non-empty mono waveform [N], "
                             f"got shape {wav.shape}")
        if not np.issubdtype(wav.dtype, np.floating):
            raise ValueError(f"{who}: key '{key}': expected float samples in [-1, 1], "
                             f"got dtype {wav.dtype}")
        if not np.isfinite(wav).all():
            raise ValueError(f"{who}: key '{key}': waveform holds NaN or Inf")
        if int(sr) <= 0:
            raise ValueError(f"{who}: key '{key}': sample rate must be positive, got {sr}")
        wav = np.ascontiguousarray(wav, dtype=np.float32)
        out.append((key, resample(wav, int(sr), sample_rate)))
    return out
