"""Semantic distillation losses (SpeechTokenizer) and teacher/student frame alignment.

Student: RVQ-1's quantized output projected by ``SemanticHead`` [B, T, D]; teacher: HuBERT
features [B, T', D]. Both losses trim to the shorter sequence and ignore frames past each
item's ``lengths``; items with no valid frame are left out of the mean.

-log(sigmoid(cos)) is computed as softplus(-cos) (the same value, stable gradients). Its minimum,
reached when student and teacher agree, is softplus(-1) ~= 0.3133, not 0.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch.nn import functional as F

from sptok.modules.lengths import ceil_div, floor_div, lengths_to_mask

IntOrTensor = Union[int, torch.Tensor]

HUBERT_WINDOW = 400
HUBERT_HOP = 320


def teacher_num_frames(n_samples: IntOrTensor, window: int = HUBERT_WINDOW,
                       hop: int = HUBERT_HOP) -> IntOrTensor:
    """HuBERT's frame count for ``n_samples``: floor((N - 400) / 320) + 1, and 0 if N < 400."""
    frames = floor_div(n_samples - window, hop) + 1
    if isinstance(frames, torch.Tensor):
        return frames.clamp(min=0)
    return max(frames, 0)


def codec_num_frames(n_samples: IntOrTensor, hop: int = HUBERT_HOP) -> IntOrTensor:
    """The codec's frame count for ``n_samples``: ceil(N / hop)."""
    return ceil_div(n_samples, hop)


def align_frames(student: torch.Tensor, teacher: torch.Tensor,
                 student_lengths: Optional[torch.Tensor] = None,
                 teacher_lengths: Optional[torch.Tensor] = None
                 ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
    """Trim ``student`` [B, T_s, D] and ``teacher`` [B, T_t, D] to the shorter time axis.

    Both start at the same sample (frame i covers samples from 320 * i); the codec has the
    extra frames at the end, so trimming the end aligns them.

    Returns:
        (student[:, :T], teacher[:, :T], lengths) with T = min(T_s, T_t) and lengths the
        per-item minimum of the given lengths, clamped to T (None if neither was given).
    """
    if student.dim() != 3 or teacher.dim() != 3:
        raise ValueError(f"student and teacher must be [B, T, D], got {list(student.shape)} "
                         f"and {list(teacher.shape)}")
    if student.shape[0] != teacher.shape[0] or student.shape[2] != teacher.shape[2]:
        raise ValueError(f"student {list(student.shape)} and teacher {list(teacher.shape)} differ "
                         "in batch size or feature dimension (apply the SemanticHead first)")
    n_frames = min(student.shape[1], teacher.shape[1])
    lengths = None
    for given in (student_lengths, teacher_lengths):
        if given is not None:
            given = torch.as_tensor(given, device=student.device).long()
            lengths = given if lengths is None else torch.minimum(lengths, given)
    if lengths is not None:
        if lengths.shape != (student.shape[0],):
            raise ValueError(f"lengths must have shape [{student.shape[0]}], got {list(lengths.shape)}")
        lengths = lengths.clamp(max=n_frames)
    return student[:, :n_frames], teacher[:, :n_frames], lengths


def _valid_mask(student: torch.Tensor, lengths: Optional[torch.Tensor]) -> torch.Tensor:
    """[B, T] frames to use."""
    batch, time, _ = student.shape
    if lengths is None:
        return torch.ones(batch, time, dtype=torch.bool, device=student.device)
    return lengths_to_mask(lengths.to(student.device), time)


def d_axis_distill_loss(student: torch.Tensor, teacher: torch.Tensor,
                        lengths: Optional[torch.Tensor] = None, eps: float = 1e-8) -> torch.Tensor:
    """SpeechTokenizer's D-axis loss (the one used in the paper).

    For every item and feature dimension d, the cosine similarity between the time series
    student[b, :L_b, d] and teacher[b, :L_b, d]; loss = mean over (b, d) of -log sigmoid(cos).

    Args:
        student: [B, T_s, D] projected RVQ-1 output.
        teacher: [B, T_t, D] teacher features (detached or not; no gradient is needed).
        lengths: optional [B] valid frames per item (of the shorter sequence).
        eps: guard for all-zero series (their cosine is 0).

    Returns:
        scalar loss; 0 (still attached to the graph) if no item has a valid frame.
    """
    student, teacher, lengths = align_frames(student, teacher, lengths)
    valid = _valid_mask(student, lengths)
    zero = torch.zeros((), dtype=student.dtype, device=student.device)
    # Padding frames zeroed in both: they then add nothing to the dot product or the norms.
    student = torch.where(valid[..., None], student, zero)
    teacher = torch.where(valid[..., None], teacher.to(student.dtype), zero)
    cos = F.cosine_similarity(student, teacher, dim=1, eps=eps)  # [B, D]
    per_item = F.softplus(-cos).mean(dim=1)  # [B]
    has_frames = valid.any(dim=1)
    return _masked_mean(per_item, has_frames)


def t_axis_distill_loss(student: torch.Tensor, teacher: torch.Tensor,
                        lengths: Optional[torch.Tensor] = None, lambda_sim: float = 1.0,
                        eps: float = 1e-8) -> torch.Tensor:
    """The T-axis alternative: L1 + lambda_sim * mean over frames of -log sigmoid(cos_t).

    cos_t is the cosine similarity over the feature dimension at frame t. Both terms average
    over the valid frames of the batch (the L1 also over dimensions), as upstream's means do
    over all frames.

    Args:
        student: [B, T_s, D]; teacher: [B, T_t, D]; lengths: optional [B] valid frames.
        lambda_sim: weight of the cosine term.

    Returns:
        scalar loss; 0 (still attached to the graph) if no frame is valid.
    """
    student, teacher, lengths = align_frames(student, teacher, lengths)
    valid = _valid_mask(student, lengths)
    zero = torch.zeros((), dtype=student.dtype, device=student.device)
    # Zero the padding before any arithmetic so NaN filler cannot reach the gradients.
    student = torch.where(valid[..., None], student, zero)
    teacher = torch.where(valid[..., None], teacher.to(student.dtype), zero)
    l1 = (student - teacher).abs().mean(dim=-1)  # [B, T]
    cos = F.cosine_similarity(student, teacher, dim=-1, eps=eps)  # [B, T]
    return _masked_mean(l1, valid) + lambda_sim * _masked_mean(F.softplus(-cos), valid)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask``; 0 * sum (keeps the graph) when nothing is selected."""
    selected = torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device))
    count = mask.sum()
    return selected.sum() / count.clamp(min=1)
