"""Unit vocoder: the codec task with HuBERT k-means units in place of the encoder + RVQ.

SLMTokBench resynthesises HuBERT units with a unit vocoder. Here it is an ordinary codec-task
model (``task: codec``) whose two front components are swapped by import path:

* encoder :class:`TeacherUnitEncoder`: a frozen HuBERT (any ``sptok.teachers`` checkpoint),
  one layer's features at the codec's frame rate;
* quantizer :class:`UnitQuantizer`: the fixed k-means of :mod:`sptok.slmtokbench.units` (unit
  ids, one level of ``num_units`` codes) followed by a learned unit embedding;
* decoder: the SEANet decoder, trained with the codec task's losses and discriminators.

So the training recipe, trainer, checkpoints, ``SpeechTokenizer.from_pretrained`` and
``decode(units [B, 1, T])`` are the codec's. A config::

    task: codec
    encoder: sptok.slmtokbench.unit_vocoder:TeacherUnitEncoder
    encoder_conf: {teacher: exp/hubert, layer: 9}
    quantizer: sptok.slmtokbench.unit_vocoder:UnitQuantizer
    quantizer_conf: {kmeans: exp/slmtokbench/tokens/hubert_km/kmeans.pt}
    decoder: seanet
    decoder_conf: {n_filters: 16, strides: [8, 5, 4, 2], lstm_layers: 1}
    teacher: none
    distill_loss: none

Frames: HuBERT's conv stack gives ``T' = floor((N - 400) / 320) + 1`` frames, the codec
``T = ceil(N / 320)`` (up to 2 more). The encoder runs the teacher on each item's own samples --
so its features, and units, equal those dumped offline by ``sptok.bin.dump_teacher_feats`` --
and repeats the last frame up to ``T``. Units of dumped features (``T'`` frames) therefore decode
to an utterance up to 2 frames (40 ms) shorter than the original.

The teacher is not a submodule: it is not trained, not saved in checkpoints (the k-means is: it
defines the units), and weight-norm folding for inference leaves it alone. It follows the input's
device itself.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from sptok.quantization.residual_vq import QuantizerOutput
from sptok.quantization.usage import code_counts, perplexity_from_counts
from sptok.slmtokbench.units import load_kmeans
from sptok.teachers.hubert import HubertTeacher, parse_layer

logger = logging.getLogger(__name__)


class TeacherUnitEncoder(nn.Module):
    """Frozen teacher features as the codec latent: waveform [B, 1, N] -> [B, D, ceil(N / hop)].

    Args:
        teacher: teacher checkpoint (HF directory, fairseq .pt or sptok torchaudio .pt).
        layer: hidden state index or ``"avg"`` -- the one the k-means was fit on.
        fmt: checkpoint format (``auto``, ``hf``, ``fairseq``, ``torchaudio``).
        normalize_waveform: per-utterance waveform normalisation; None: the checkpoint's.
    """

    def __init__(self, teacher: str, layer: Union[int, str] = 9, fmt: str = "auto",
                 normalize_waveform: Optional[bool] = None):
        super().__init__()
        if not teacher:
            raise ValueError("encoder_conf.teacher: no teacher checkpoint given (the recipe's stage 8 "
                             "passes --encoder_conf.teacher, the HuBERT of stage 3)")
        model = HubertTeacher.from_pretrained(teacher, layer=parse_layer(layer), fmt=fmt,
                                              normalize_waveform=normalize_waveform)
        # Plain attribute, not a submodule: see the module docstring.
        object.__setattr__(self, "teacher", model)
        self.teacher_path = str(teacher)
        self.layer = model.layer
        self.dimension = int(model.feature_dim)
        self._hop = int(model.hop_length)
        self._window = int(model.receptive_field)

    @property
    def hop_length(self) -> int:
        return self._hop

    def get_output_length(self, n_samples):
        """Frames of ``n_samples`` samples (int or tensor): ceil(N / hop)."""
        if isinstance(n_samples, torch.Tensor):
            return torch.div(n_samples + self._hop - 1, self._hop, rounding_mode="floor")
        return -(-int(n_samples) // self._hop)

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features [B, D, T] (zero past each item's frames) and frame lengths [B]."""
        if x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(f"{type(self).__name__} expects waveforms [B, 1, N], got "
                             f"{list(x.shape)}")
        batch, _, n = x.shape
        if lengths is None:
            lengths = torch.full((batch,), n, dtype=torch.long, device=x.device)
        lengths = lengths.long()
        frame_lengths = self.get_output_length(lengths)
        frames = int(self.get_output_length(n))
        # Zero past each item's end; an item shorter than one teacher window gets one frame of
        # its zero-padded window.
        valid = torch.arange(n, device=x.device)[None, :] < lengths[:, None]
        wav = x[:, 0] * valid.to(x.dtype)
        if n < self._window:
            wav = F.pad(wav, (0, self._window - n))
        teacher = self.teacher
        if next(teacher.parameters()).device != wav.device:
            teacher.to(wav.device)
        with torch.no_grad(), torch.autocast(device_type=wav.device.type, enabled=False):
            feats, feat_lengths = teacher(wav.float(), lengths.clamp(min=self._window))
        # Repeat each item's last teacher frame up to the codec's frame count.
        index = torch.minimum(torch.arange(frames, device=feats.device)[None, :],
                              (feat_lengths.to(feats.device) - 1)[:, None])
        feats = feats.gather(1, index[:, :, None].expand(-1, -1, feats.shape[-1]))
        mask = torch.arange(frames, device=feats.device)[None, :] < frame_lengths[:, None]
        feats = feats * mask[:, :, None].to(feats.dtype)
        return feats.transpose(1, 2).to(x.dtype), frame_lengths

    def extra_repr(self) -> str:
        return f"teacher={self.teacher_path}, layer={self.layer}, dimension={self.dimension}"


class UnitQuantizer(nn.Module):
    """Fixed k-means units + learned unit embedding, with the residual quantizer's interface.

    Args:
        dimension: latent dimension (the teacher's feature size; injected by the codec task).
        kmeans: k-means model file of :func:`sptok.slmtokbench.units.save_kmeans`, fit on the
            features the encoder produces.
        init: ``centroids`` (the embedding starts at the standardised centroids when their size
            equals ``dimension``) or ``random``.

    One level (n_q = 1) of ``num_units`` codes; the codes are the k-means ids, not trained.
    The centroids are buffers: the vocoder's weights carry the definition of its units.
    """

    def __init__(self, dimension: int, kmeans: str, init: str = "centroids"):
        super().__init__()
        if init not in ("centroids", "random"):
            raise ValueError(f"init must be 'centroids' or 'random', got {init!r}")
        model, meta = load_kmeans(kmeans)
        self.kmeans_path = str(kmeans)
        self.meta = meta
        self.dimension = int(dimension)
        self.n_q = 1
        self.codebook_size = int(model.num_clusters)
        self.register_buffer("centroids", model.centroids.clone())
        self.register_buffer("feat_mean", model.mean.clone())
        self.register_buffer("feat_std", model.std.clone())
        self.embedding = nn.Embedding(self.codebook_size, self.dimension)
        if init == "centroids" and model.centroids.shape[1] == self.dimension:
            with torch.no_grad():
                self.embedding.weight.copy_(model.centroids)

    @property
    def feature_dim(self) -> int:
        """Size of the features the k-means assigns (the encoder's output)."""
        return int(self.centroids.shape[1])

    def _check_input(self, z: torch.Tensor) -> None:
        if z.dim() != 3 or z.shape[1] != self.feature_dim:
            raise ValueError(f"{type(self).__name__} expects features [B, {self.feature_dim}, T] "
                             f"(the k-means dimension), got {list(z.shape)}")

    @torch.no_grad()
    def assign(self, z: torch.Tensor) -> torch.Tensor:
        """Unit ids [B, T] of features [B, D, T] (nearest standardised centroid)."""
        self._check_input(z)
        batch, dim, frames = z.shape
        x = (z.transpose(1, 2).reshape(-1, dim).float() - self.feat_mean) / self.feat_std
        distances = (x.pow(2).sum(1, keepdim=True) - 2 * x @ self.centroids.t()
                     + self.centroids.pow(2).sum(1)[None, :])
        return distances.argmin(dim=-1).view(batch, frames)

    def _check_levels(self, n_q: Optional[int], start_level: int) -> None:
        if start_level != 0 or n_q not in (None, 1):
            raise ValueError(f"the unit quantizer has one level; got n_q={n_q}, "
                             f"start_level={start_level}")

    def forward(self, z: torch.Tensor, n_q: Optional[int] = None,
                lengths: Optional[torch.Tensor] = None) -> QuantizerOutput:
        """Units and their embeddings for features [B, D, T]; no commitment loss (the units
        are fixed)."""
        self._check_levels(n_q, 0)
        codes = self.assign(z)
        quantized = self.embedding(codes).transpose(1, 2).to(z.dtype)
        mask = None
        if lengths is not None:
            mask = torch.arange(codes.shape[1], device=codes.device)[None, :] < lengths[:, None]
        counts = code_counts(codes[:, None], self.codebook_size, mask)
        return QuantizerOutput(
            quantized=quantized, codes=codes[:, None], commit_loss=z.new_zeros(1),
            quantized_levels=[quantized],
            n_levels=torch.ones(z.shape[0], dtype=torch.long, device=z.device),
            perplexity=perplexity_from_counts(counts))

    @torch.no_grad()
    def encode(self, z: torch.Tensor, n_q: Optional[int] = None, start_level: int = 0,
               restart_residual: bool = False) -> torch.Tensor:
        """Unit ids [B, 1, T] of features [B, D, T]."""
        self._check_levels(n_q, start_level)
        return self.assign(z)[:, None]

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, start_level: int = 0) -> torch.Tensor:
        """Unit embeddings [B, dimension, T] of ids [B, 1, T]."""
        if codes.dim() != 3 or codes.shape[1] != 1:
            raise ValueError(f"unit codes must be [B, 1, T], got {list(codes.shape)}")
        self._check_levels(1, start_level)
        if codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise ValueError(f"codes must be an integer tensor, got {codes.dtype}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.codebook_size):
            raise ValueError(f"unit ids must lie in [0, {self.codebook_size - 1}], got "
                             f"[{int(codes.min())}, {int(codes.max())}]")
        return self.embedding(codes[:, 0].long()).transpose(1, 2)

    def meta_info(self) -> Dict[str, Any]:
        return {"n_q": 1, "codebook_size": self.codebook_size, "dimension": self.dimension,
                "kmeans": self.kmeans_path, **{f"kmeans_{k}": v for k, v in self.meta.items()}}

    def extra_repr(self) -> str:
        return (f"num_units={self.codebook_size}, feature_dim={self.feature_dim}, "
                f"dimension={self.dimension}")
