"""Attention masks over a [text ; audio] sequence (True = may attend).

All masks are [B, 1, L_query, L_key] booleans, broadcast over heads by
``torch.nn.functional.scaled_dot_product_attention``. Padding is handled as keys that nobody
attends to; padded query rows still see at least the item's text (text is never empty), so no
row is fully masked and no NaN appears.
"""
from __future__ import annotations

import torch


def prefix_lm_mask(text_valid: torch.Tensor, audio_valid: torch.Tensor) -> torch.Tensor:
    """The AR mask: text rows see the text only (bidirectionally); audio rows see all text and
    the audio columns up to their own.

    Causality is by column, so audio may be right-padded (training) or left-padded (batched
    decoding with prompts of different lengths): padding columns are invalid keys either way.

    Args:
        text_valid: [B, S] bool, real (not padding) text columns.
        audio_valid: [B, A] bool, real audio columns.

    Returns:
        [B, 1, S + A, S + A] bool.
    """
    num_text = text_valid.shape[1]
    length = num_text + audio_valid.shape[1]
    index = torch.arange(length, device=text_valid.device)
    row, col = index[:, None], index[None, :]
    structure = (col < num_text) | ((row >= num_text) & (col <= row))
    key_valid = torch.cat([text_valid, audio_valid], dim=1)
    return structure[None, None] & key_valid[:, None, None, :]


def padding_mask(valid: torch.Tensor) -> torch.Tensor:
    """Full (bidirectional) attention among real positions: [B, L] bool -> [B, 1, 1, L]."""
    return valid[:, None, None, :]
