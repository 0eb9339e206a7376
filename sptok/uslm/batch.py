"""The training batch layout shared by the USLM models (and the task that will feed them).

A batch is a dict with

* ``phonemes``: [B, S] long phoneme ids, right-padded (padding value irrelevant);
* ``phoneme_lengths``: [B] long, each >= 1;
* ``codes``: [B, n_q, T] long RVQ codes (level 1 first), right-padded;
* ``code_lengths``: [B] long frames per item.
"""
from __future__ import annotations

from typing import Any, Mapping, Tuple

import torch

PHONEMES = "phonemes"
PHONEME_LENGTHS = "phoneme_lengths"
CODES = "codes"
CODE_LENGTHS = "code_lengths"
IGNORE_INDEX = -100


def unpack_batch(batch: Mapping[str, Any], min_levels: int = 1
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check and return ``(phonemes, phoneme_lengths, codes, code_lengths)`` of a batch.

    Raises:
        ValueError: a key is missing, a shape does not fit, or an item has no phonemes.
    """
    missing = [key for key in (PHONEMES, PHONEME_LENGTHS, CODES, CODE_LENGTHS)
               if key not in batch]
    if missing:
        raise ValueError(f"USLM batch lacks key(s) {missing}; has {sorted(batch)}")
    phonemes, phoneme_lengths = batch[PHONEMES], batch[PHONEME_LENGTHS]
    codes, code_lengths = batch[CODES], batch[CODE_LENGTHS]
    if phonemes.dim() != 2 or phoneme_lengths.shape != phonemes.shape[:1]:
        raise ValueError(f"batch '{PHONEMES}' must be [B, S] with '{PHONEME_LENGTHS}' [B], got "
                         f"{list(phonemes.shape)} and {list(phoneme_lengths.shape)}")
    if codes.dim() != 3 or codes.shape[1] < min_levels or code_lengths.shape != codes.shape[:1]:
        raise ValueError(f"batch '{CODES}' must be [B, n_q >= {min_levels}, T] with "
                         f"'{CODE_LENGTHS}' [B], got {list(codes.shape)} and "
                         f"{list(code_lengths.shape)}")
    if codes.shape[0] != phonemes.shape[0]:
        raise ValueError(f"batch has {phonemes.shape[0]} phoneme rows but {codes.shape[0]} "
                         "code rows")
    # An item without text would leave its text query rows with nothing to attend to (NaN).
    if bool((phoneme_lengths < 1).any()):
        raise ValueError(f"batch '{PHONEME_LENGTHS}' has an empty item: "
                         f"{phoneme_lengths.tolist()}")
    # Codes may come as int32 (kaldiio's integer type); losses need int64 targets.
    return phonemes.long(), phoneme_lengths.long(), codes.long(), code_lengths.long()
