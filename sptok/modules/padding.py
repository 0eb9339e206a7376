"""1-D padding that treats every item of a padded batch as if it were alone.

``pad1d`` pads a whole tensor (all items share the length T). ``pad1d_per_item`` pads each item
at its own end: item b has ``lengths[b]`` valid samples followed by arbitrary filler, and gets
``pad_left`` samples before and ``pad_right[b]`` after them, exactly the values ``pad1d`` would
give that item alone; it is one index gather, not a loop over the batch.

Reflect padding follows EnCodec: an input no longer than the padding is first extended with
zeros (``F.pad`` cannot reflect more than length - 1 samples), reflected, then cut back.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch.nn import functional as F

PAD_MODES = ("reflect", "replicate", "constant")


def check_pad_mode(pad_mode: str) -> str:
    if pad_mode not in PAD_MODES:
        raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
    return pad_mode


def pad1d(x: torch.Tensor, paddings: Tuple[int, int], mode: str = "constant",
          value: float = 0.0) -> torch.Tensor:
    """Pad the last axis of ``x`` [..., T] by (left, right), reflect also on short inputs."""
    padding_left, padding_right = paddings
    if padding_left < 0 or padding_right < 0:
        raise ValueError(f"paddings must be >= 0, got {paddings}")
    if mode != "reflect":
        return F.pad(x, paddings, mode, value if mode == "constant" else None)
    length = x.shape[-1]
    max_pad = max(padding_left, padding_right)
    extra_pad = 0
    if length <= max_pad:
        extra_pad = max_pad - length + 1
        x = F.pad(x, (0, extra_pad))
    padded = F.pad(x, paddings, mode)
    return padded[..., : padded.shape[-1] - extra_pad]


def unpad1d(x: torch.Tensor, paddings: Tuple[int, int]) -> torch.Tensor:
    """Remove (left, right) samples from the last axis of ``x``."""
    padding_left, padding_right = paddings
    if padding_left < 0 or padding_right < 0 or padding_left + padding_right > x.shape[-1]:
        raise ValueError(f"cannot unpad {paddings} from length {x.shape[-1]}")
    return x[..., padding_left: x.shape[-1] - padding_right]


def pad1d_per_item(x: torch.Tensor, lengths: torch.Tensor, pad_left: int, pad_right: torch.Tensor,
                   out_length: int, mode: str = "constant", value: float = 0.0) -> torch.Tensor:
    """Pad each item of ``x`` [B, C, T] at its own end.

    Args:
        x: padded batch; only ``x[b, :, :lengths[b]]`` is read.
        lengths: [B] valid samples per item, 1 <= lengths[b] <= T.
        pad_left: samples added before every item.
        pad_right: [B] samples added after each item's last valid sample.
        out_length: time length of the result; must be >= max(lengths + pad_left + pad_right)
            (callers pass the value computed for T, so no device sync is needed).
        mode: "reflect", "replicate" or "constant".
        value: fill value for "constant".

    Returns:
        [B, C, out_length]; row b holds ``pad1d(x[b, :, :lengths[b]], (pad_left, pad_right[b]))``
        followed by ``value`` (0 for reflect/replicate).
    """
    batch, channels, time = x.shape
    position = torch.arange(out_length, device=x.device)[None, :]
    lengths = lengths[:, None]
    padded_lengths = lengths + pad_left + pad_right[:, None]
    source = position - pad_left  # index into the unpadded item; may fall outside [0, length)
    if mode == "reflect":
        # Mirror at 0 and at the end of the zero-extended item (see module docstring).
        max_pad = torch.clamp(pad_right[:, None], min=pad_left)
        extended = torch.maximum(lengths, max_pad + 1)
        source = source.abs()
        source = torch.where(source >= extended, 2 * (extended - 1) - source, source)
    elif mode == "replicate":
        source = torch.minimum(source.clamp(min=0), lengths - 1)
    elif mode != "constant":
        check_pad_mode(mode)
    inside = (source >= 0) & (source < lengths) & (position < padded_lengths)
    index = source.clamp(0, time - 1)[:, None, :].expand(batch, channels, out_length)
    gathered = torch.gather(x, 2, index)
    fill = value if mode == "constant" else 0.0
    return torch.where(inside[:, None, :], gathered, torch.full((), fill, dtype=x.dtype, device=x.device))
