"""HuBERT teacher: frame features of one hidden layer, or of the average of all of them, for
semantic distillation.

Layer index convention (the same as Hugging Face's ``output_hidden_states``, which the
SpeechTokenizer authors used to dump their targets):

* ``0``: the transformer input: conv features -> layer norm -> projection, plus the
  convolutional positional embedding, then (post-LN models such as HuBERT base) the encoder layer
  norm. HF's ``hidden_states[0]``.
* ``k`` (1..L): the output of transformer layer ``k``; for pre-LN ("stable layer norm") models the
  last one, ``L``, includes the final layer norm, as in HF.
* ``"avg"``: the mean of all ``L + 1`` states (13 for HuBERT base).

Batches with padding: the conv feature extractor of HuBERT base (``group_norm`` mode) normalises
its first layer over the whole time axis, so padding would change every frame. We run that layer
with a *masked* group norm whose statistics cover each item's valid samples only; the transformer
zeroes padded frames before the positional conv (as the single item's zero padding does) and masks
them out of attention. Valid frames of a padded batch therefore equal each item run alone (up to
float rounding, ~1e-6). Frames past an item's length are zero in the output.
"""
from __future__ import annotations

from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor, nn
from torchaudio.models import Wav2Vec2Model

from sptok.teachers.checkpoint_formats import LoadedEncoder, PathLike, load_wav2vec2
from sptok.teachers.wav2vec2_params import conv_output_length, receptive_field

LayerSpec = Union[int, str]

SAMPLE_RATE = 16000


def parse_layer(layer: LayerSpec) -> LayerSpec:
    """``"avg"`` or a non-negative int (also from a CLI string such as ``"9"``)."""
    if isinstance(layer, str):
        if layer == "avg":
            return layer
        try:
            layer = int(layer)
        except ValueError:
            raise ValueError(f"layer must be 'avg' or an integer, got {layer!r}") from None
    if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
        raise ValueError(f"layer must be 'avg' or an integer >= 0, got {layer!r}")
    return layer


def _masked_group_norm(x: Tensor, valid: Tensor, norm: nn.GroupNorm) -> Tensor:
    """``GroupNorm`` over valid time steps only.

    Args:
        x: [B, C, L] conv output.
        valid: [B, L] bool, True on valid steps.
    """
    batch, channels, length = x.shape
    groups = norm.num_groups
    dtype = x.dtype
    xg = x.float().view(batch, groups, channels // groups, length)  # statistics in float32 (AMP)
    mask = valid[:, None, None, :].float()
    count = mask.sum(dim=(2, 3), keepdim=True).clamp(min=1.0) * (channels // groups)
    mean = (xg * mask).sum(dim=(2, 3), keepdim=True) / count
    var = (((xg - mean) * mask) ** 2).sum(dim=(2, 3), keepdim=True) / count
    y = ((xg - mean) / torch.sqrt(var + norm.eps)).view(batch, channels, length)
    if norm.affine:
        y = y * norm.weight.float()[None, :, None] + norm.bias.float()[None, :, None]
    return y.to(dtype)


def _lengths_mask(lengths: Tensor, max_len: int) -> Tensor:
    """[B, max_len] bool, True where the index is below the item's length."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class HubertTeacher(nn.Module):
    """Frozen wav2vec2-family encoder that returns one layer's (or the layer-average) features.

    Args:
        model: torchaudio ``Wav2Vec2Model``.
        layer: hidden-state index (0..L, see the module doc) or ``"avg"``.
        normalize_waveform: normalise each waveform to zero mean, unit variance over its valid
            samples first (models trained with fairseq ``normalize=True`` / HF ``do_normalize``).

    The model stays in eval mode (``train()`` does not change it) and its parameters do not
    require gradients; features are computed under the caller's grad mode.
    """

    def __init__(self, model: Wav2Vec2Model, layer: LayerSpec = "avg", normalize_waveform: bool = False):
        super().__init__()
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.layer = parse_layer(layer)
        if self.layer != "avg" and self.layer > self.num_layers:
            raise ValueError(f"layer {self.layer} out of range: the model has {self.num_layers} "
                             f"transformer layers (valid 0..{self.num_layers} or 'avg')")
        self.normalize_waveform = bool(normalize_waveform)
        self.conv_layers = [(blk.conv.out_channels, blk.kernel_size, blk.stride)
                            for blk in self.model.feature_extractor.conv_layers]
        self.receptive_field, self.hop_length = receptive_field(self.conv_layers)
        self.source: Optional[LoadedEncoder] = None  # set by from_pretrained

    @classmethod
    def from_pretrained(cls, path: PathLike, layer: LayerSpec = "avg", fmt: str = "auto",
                        normalize_waveform: Optional[bool] = None) -> "HubertTeacher":
        """Load a local checkpoint (HF dir, fairseq .pt or our torchaudio file; see
        :mod:`sptok.teachers.checkpoint_formats`). ``normalize_waveform=None`` takes the
        checkpoint's own setting."""
        loaded = load_wav2vec2(path, fmt)
        normalize = loaded.normalize_waveform if normalize_waveform is None else normalize_waveform
        teacher = cls(loaded.model, layer=layer, normalize_waveform=normalize)
        teacher.source = loaded
        return teacher

    def train(self, mode: bool = True) -> "HubertTeacher":
        super().train(mode)
        self.model.eval()  # a teacher never uses dropout / layer drop
        return self

    @property
    def num_layers(self) -> int:
        return len(self.model.encoder.transformer.layers)

    @property
    def feature_dim(self) -> int:
        return self.model.encoder.feature_projection.projection.out_features

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def frame_rate(self) -> float:
        return SAMPLE_RATE / self.hop_length

    def num_frames(self, n_samples: Union[int, Tensor]):
        """Frames for ``n_samples`` samples: ``floor((N - 400) / 320) + 1`` for HuBERT's conv stack."""
        return conv_output_length(n_samples, self.conv_layers)

    def _normalize(self, wav: Tensor, valid: Tensor) -> Tensor:
        # Matches HF's zero_mean_unit_var_norm: variance over valid samples, eps 1e-7.
        mask = valid.to(wav.dtype)
        count = mask.sum(dim=1, keepdim=True).clamp(min=1.0)
        mean = (wav * mask).sum(dim=1, keepdim=True) / count
        var = (((wav - mean) * mask) ** 2).sum(dim=1, keepdim=True) / count
        return (wav - mean) / torch.sqrt(var + 1e-7) * mask

    def conv_features(self, wav: Tensor, lengths: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        """Conv feature extractor with per-item normalisation statistics.

        Returns:
            ([B, T, C] features, [B] frame lengths or None).
        """
        x = wav.unsqueeze(1)
        frame_lengths = lengths
        for block in self.model.feature_extractor.conv_layers:
            x = block.conv(x)
            if frame_lengths is not None:
                frame_lengths = torch.clamp(
                    torch.div(frame_lengths - block.kernel_size, block.stride, rounding_mode="floor") + 1, min=0)
            if isinstance(block.layer_norm, nn.GroupNorm) and frame_lengths is not None:
                x = _masked_group_norm(x, _lengths_mask(frame_lengths, x.shape[-1]), block.layer_norm)
            elif block.layer_norm is not None:
                x = block.layer_norm(x)  # group norm on an unpadded batch, or per-frame layer norm
            x = nn.functional.gelu(x)
        return x.transpose(1, 2), frame_lengths

    def hidden_states(self, wav: Tensor, lengths: Optional[Tensor] = None,
                      max_layer: Optional[int] = None) -> Tuple[List[Tensor], Tensor]:
        """Hidden states ``0..max_layer`` (default all ``L + 1``), each [B, T, D], and [B] lengths."""
        wav, lengths, valid = self._check_input(wav, lengths)
        if self.normalize_waveform:
            wav = self._normalize(wav, valid)
        max_layer = self.num_layers if max_layer is None else max_layer
        features, frame_lengths = self.conv_features(wav, lengths)
        encoder = self.model.encoder
        x, attention_mask = encoder._preprocess(features, frame_lengths)
        transformer = encoder.transformer
        x = transformer._preprocess(x)
        states = [x]
        for layer in transformer.layers[:max_layer]:
            x, _ = layer(x, attention_mask)
            states.append(x)
        if not transformer.layer_norm_first and max_layer == self.num_layers:
            # Pre-LN model: HF's last hidden state carries the final layer norm.
            states[-1] = transformer.layer_norm(states[-1])
        if frame_lengths is None:
            frame_lengths = torch.full((wav.shape[0],), x.shape[1], dtype=torch.long, device=wav.device)
        return states, frame_lengths

    def _check_input(self, wav: Tensor, lengths: Optional[Tensor]):
        if wav.ndim != 2:
            raise ValueError(f"wav must be [batch, samples], got shape {tuple(wav.shape)}")
        if wav.shape[1] < self.receptive_field:
            raise ValueError(f"wav has {wav.shape[1]} samples; at least {self.receptive_field} "
                             f"({self.receptive_field / SAMPLE_RATE * 1000:.0f} ms) give one frame")
        if lengths is not None:
            lengths = lengths.to(device=wav.device, dtype=torch.long)
            if lengths.shape != (wav.shape[0],):
                raise ValueError(f"lengths must be [batch]={wav.shape[0]}, got {tuple(lengths.shape)}")
            if int(lengths.max()) > wav.shape[1] or int(lengths.min()) < self.receptive_field:
                raise ValueError(f"lengths must lie in [{self.receptive_field}, {wav.shape[1]}], "
                                 f"got {lengths.tolist()}")
            if bool((lengths == wav.shape[1]).all()):
                lengths = None  # nothing padded: the plain (faster) path is exact
        valid = (_lengths_mask(lengths, wav.shape[1]) if lengths is not None
                 else torch.ones_like(wav, dtype=torch.bool))
        return wav, lengths, valid

    def forward(self, wav: Tensor, lengths: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Teacher features.

        Args:
            wav: [B, N] float waveform at 16 kHz.
            lengths: [B] valid samples per item (None: all N).
        Returns:
            feats [B, T, D] with T = num_frames(N) (zero past each item's length) and
            feat_lengths [B] = num_frames(lengths).
        """
        if self.layer == "avg":
            states, frame_lengths = self.hidden_states(wav, lengths)
            feats = torch.stack(states, dim=0).mean(dim=0)
        else:
            states, frame_lengths = self.hidden_states(wav, lengths, max_layer=self.layer)
            feats = states[self.layer]
        if lengths is not None:
            feats = feats * _lengths_mask(frame_lengths, feats.shape[1])[:, :, None].to(feats.dtype)
        return feats, frame_lengths

    def extra_repr(self) -> str:
        return (f"layer={self.layer}, num_layers={self.num_layers}, feature_dim={self.feature_dim}, "
                f"normalize_waveform={self.normalize_waveform}")

