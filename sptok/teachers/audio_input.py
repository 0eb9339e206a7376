"""Teacher input audio: ``wav.scp`` entries read as mono 16 kHz float32, never resampled here
(the recipe's format stage does that once, so features and the codec see the same samples)."""
from __future__ import annotations

from typing import Dict, Mapping

import numpy as np

from sptok.data.audio import audio_file_info, is_pipe, read_audio
from sptok.data.errors import DataError

SAMPLE_RATE = 16000


def load_16k_mono(key: str, spec: str, scp: str) -> np.ndarray:
    """float32 [N] audio of one ``wav.scp`` entry.

    Raises:
        DataError: naming ``scp`` and ``key``, unless the audio is mono at 16 kHz (or unreadable).
    """
    wav, sample_rate = read_audio(spec, key=key, scp=scp)
    if wav.shape[1] != 1:
        raise DataError(f"audio must be mono, got {wav.shape[1]} channels ({spec})", path=scp, key=key)
    if sample_rate != SAMPLE_RATE:
        raise DataError(f"audio must be {SAMPLE_RATE} Hz, got {sample_rate} Hz ({spec}); resample it "
                        f"in the format stage", path=scp, key=key)
    return np.ascontiguousarray(wav[:, 0])


def utterance_lengths(entries: Mapping[str, str], scp: str, cache: Dict[str, np.ndarray]) -> Dict[str, int]:
    """Samples per utterance from file headers; entries without a readable header (pipes) are
    read in full and kept in ``cache``. Headers are checked for 16 kHz mono too."""
    lengths = {}
    for key, spec in entries.items():
        info = None if is_pipe(spec) else audio_file_info(spec)
        if info is None or info[0] != SAMPLE_RATE or info[2] != 1:
            cache[key] = load_16k_mono(key, spec, scp)  # raises the precise error if bad
            lengths[key] = len(cache[key])
        else:
            lengths[key] = info[1]
    return lengths
