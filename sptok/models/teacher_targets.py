"""Where the distillation targets come from: features dumped offline, or a teacher run online.

``teacher: offline`` (the default, as upstream) reads HuBERT features that the recipe dumped once
per utterance into a kaldiio scp; the dataset crops them with the audio and the batch carries
``teacher_feats`` [B, T, D] and ``teacher_lengths`` [B]. ``teacher: online`` runs a frozen
:class:`~sptok.teachers.HubertTeacher` on each batch's crops instead (no dump stage, slower).

Neither is an ``nn.Module`` of the model: teacher weights are not trained and do not belong in
training checkpoints. The online teacher follows the input's device itself.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Tuple, Union

import torch

from sptok.teachers.hubert import HubertTeacher, parse_layer


class TeacherTargets:
    """Source of the distillation targets of a batch.

    Attributes:
        feature_dim: teacher feature dimension (output size of the semantic head).
        needs_dumped_features: the dataset must provide ``teacher_feats`` from an scp.
    """

    feature_dim: int
    needs_dumped_features: bool = False

    def targets(self, batch: Mapping[str, Any], wav: torch.Tensor, lengths: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Targets [B, T', feature_dim] and their valid frames [B] for ``wav`` [B, 1, N]."""
        raise NotImplementedError


class OfflineTeacher(TeacherTargets):
    """Features dumped by the teacher stage, delivered by the dataset.

    Args:
        feature_dim: dimension of the dumped features (768 for HuBERT base, the mini HuBERT's
            embedding size for the mini recipes).
    """

    needs_dumped_features = True

    def __init__(self, feature_dim: int = 768):
        if feature_dim < 1:
            raise ValueError(f"teacher_conf.feature_dim must be >= 1, got {feature_dim}")
        self.feature_dim = int(feature_dim)

    def targets(self, batch: Mapping[str, Any], wav: torch.Tensor, lengths: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        if "teacher_feats" not in batch:
            raise ValueError("teacher 'offline' needs batch['teacher_feats']: give the dataset "
                             "the dumped features (train_teacher_feats / valid_teacher_feats)")
        feats = batch["teacher_feats"]
        if feats.dim() != 3 or feats.shape[-1] != self.feature_dim:
            raise ValueError(f"teacher features must be [B, T, {self.feature_dim}] "
                             f"(teacher_conf.feature_dim), got {list(feats.shape)}")
        feat_lengths = batch.get("teacher_lengths")
        if feat_lengths is None:
            feat_lengths = torch.full((feats.shape[0],), feats.shape[1], dtype=torch.long,
                                      device=feats.device)
        return feats, feat_lengths


class OnlineHubertTeacher(TeacherTargets):
    """A frozen HuBERT run on every training batch.

    Args:
        path: teacher checkpoint (HF directory, fairseq .pt or sptok torchaudio .pt).
        layer: hidden state index or ``"avg"`` (mean of all; the released model's choice).
        fmt: checkpoint format (``auto``, ``hf``, ``fairseq``, ``torchaudio``).
        normalize_waveform: per-utterance waveform normalisation; None = the checkpoint's own.
    """

    def __init__(self, path: str, layer: Union[int, str] = "avg", fmt: str = "auto",
                 normalize_waveform: Optional[bool] = None):
        self.path = path
        self.teacher = HubertTeacher.from_pretrained(path, layer=parse_layer(layer), fmt=fmt,
                                                     normalize_waveform=normalize_waveform)
        self.feature_dim = int(self.teacher.feature_dim)

    def targets(self, batch: Mapping[str, Any], wav: torch.Tensor, lengths: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        teacher = self.teacher
        parameter = next(teacher.parameters())
        if parameter.device != wav.device:
            teacher.to(wav.device)
        receptive_field = teacher.receptive_field
        if wav.shape[-1] < receptive_field:
            raise ValueError(f"teacher 'online': crops of {wav.shape[-1]} samples are shorter "
                             f"than the teacher's {receptive_field}-sample window")
        # An item shorter than one teacher window still gets its first frame (zero padded).
        lengths = lengths.clamp(min=receptive_field)
        with torch.no_grad(), torch.autocast(device_type=wav.device.type, enabled=False):
            feats, feat_lengths = teacher(wav[:, 0].float(), lengths)
        return feats, feat_lengths
