"""Grouping utterances into batches by padded size, and padding them into one array."""
from __future__ import annotations

from typing import List, Mapping, Sequence, Tuple

import numpy as np

__all__ = ["plan_batches", "pad_arrays", "estimate_num_samples"]


def plan_batches(lengths: Mapping[str, int], max_padded: int) -> List[List[str]]:
    """Keys grouped longest first so that items x longest item <= ``max_padded``.

    Sorting by length keeps the padding small; a single item longer than ``max_padded`` forms
    a batch of its own. Ties are ordered by key, so the plan is deterministic.
    """
    if max_padded < 1:
        raise ValueError(f"max_padded must be positive, got {max_padded}")
    order = sorted(lengths, key=lambda key: (-lengths[key], key))
    batches: List[List[str]] = []
    current: List[str] = []
    for key in order:
        longest = lengths[current[0]] if current else lengths[key]
        if current and (len(current) + 1) * longest > max_padded:
            batches.append(current)
            current = []
        current.append(key)
    if current:
        batches.append(current)
    return batches


def pad_arrays(arrays: Sequence[np.ndarray], axis: int = 0, value: float = 0
               ) -> Tuple[np.ndarray, np.ndarray]:
    """Stack arrays that differ in size along ``axis`` (padding with ``value`` at the end).

    Returns:
        (batch [B, ...] with ``axis`` shifted by one, lengths [B] int64).
    """
    if not arrays:
        raise ValueError("pad_arrays: no arrays")
    lengths = np.array([a.shape[axis] for a in arrays], dtype=np.int64)
    shape = list(arrays[0].shape)
    shape[axis] = int(lengths.max())
    batch = np.full([len(arrays)] + shape, value, dtype=arrays[0].dtype)
    for i, array in enumerate(arrays):
        index = [i] + [slice(None)] * array.ndim
        index[axis + 1] = slice(0, array.shape[axis])
        batch[tuple(index)] = array
    return batch, lengths


def estimate_num_samples(header: Tuple[int, int, int], sample_rate: int) -> int:
    """Samples after resampling to ``sample_rate`` of a file whose header says
    ``(rate, frames, channels)``; used only to plan batches."""
    rate, frames, _ = header
    return max(1, round(frames * sample_rate / rate))

