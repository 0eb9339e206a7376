"""Waveform L1 reconstruction loss, and the length handling shared with the mel loss.

Padded batches: ``lengths`` (valid samples per utterance) make the losses ignore everything past
each utterance's end, so the padding of the input and whatever the generator writes there do not
count. The generator output may be longer than its input (SEANet rounds up to whole frames): both
signals are trimmed to the shorter one, as in the public SpeechTokenizer training code.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn


def valid_sample_mask(lengths: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Boolean mask ``[B, num_samples]``: True on the first ``lengths[b]`` samples of row ``b``."""
    positions = torch.arange(num_samples, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def align_signals(
    estimate: torch.Tensor, target: torch.Tensor, lengths: Optional[torch.Tensor], name: str
) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
    """Bring two waveform batches to ``[B, N]`` (trimmed to the shorter) and check ``lengths``.

    Args:
        estimate, target: ``[B, 1, N]`` or ``[B, N]``.
        lengths: ``[B]`` valid samples of the target, or None.
        name: the caller, for error messages.

    Returns:
        ``(estimate [B, N], target [B, N], lengths clamped to N or None)``.
    """
    for label, signal in (("estimate", estimate), ("target", target)):
        if signal.dim() == 3 and signal.size(1) == 1:
            continue
        if signal.dim() != 2:
            raise ValueError(f"{name}: {label} must be [B, 1, N] or [B, N], got shape {tuple(signal.shape)}")
    estimate = estimate.reshape(estimate.size(0), -1)
    target = target.reshape(target.size(0), -1)
    if estimate.size(0) != target.size(0):
        raise ValueError(f"{name}: batch sizes differ: estimate {estimate.size(0)}, target {target.size(0)}")
    if lengths is not None:
        if lengths.dim() != 1 or lengths.size(0) != target.size(0):
            raise ValueError(f"{name}: lengths must be [B] with B={target.size(0)}, got shape {tuple(lengths.shape)}")
        if bool((lengths < 1).any()) or bool((lengths > target.size(-1)).any()):
            raise ValueError(
                f"{name}: lengths must lie in [1, {target.size(-1)}] (the target length), "
                f"got min {int(lengths.min())} max {int(lengths.max())}"
            )
    num_samples = min(estimate.size(-1), target.size(-1))
    estimate = estimate[:, :num_samples]
    target = target[:, :num_samples]
    if lengths is not None:
        lengths = lengths.to(target.device).clamp(max=num_samples)
    return estimate, target, lengths


def waveform_l1_loss(
    estimate: torch.Tensor, target: torch.Tensor, lengths: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Mean absolute sample error over the valid samples.

    Args:
        estimate: generated waveform ``[B, 1, N']`` (or ``[B, N']``).
        target: reference waveform ``[B, 1, N]`` (or ``[B, N]``).
        lengths: ``[B]`` valid samples per utterance; None: all samples count.

    Returns:
        scalar tensor: ``sum |estimate - target| / number of valid samples``.
    """
    estimate, target, lengths = align_signals(estimate, target, lengths, "waveform_l1_loss")
    error = torch.abs(estimate - target)
    if lengths is None:
        return error.mean()
    mask = valid_sample_mask(lengths, error.size(-1))
    # where() rather than a product: non-finite garbage in the padding must not leak in as NaN.
    return torch.where(mask, error, torch.zeros_like(error)).sum() / mask.sum()


class WaveformL1Loss(nn.Module):
    """Module form of :func:`waveform_l1_loss`."""

    def forward(
        self, estimate: torch.Tensor, target: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        return waveform_l1_loss(estimate, target, lengths)
