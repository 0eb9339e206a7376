"""Architecture parameters of a wav2vec2-family encoder (wav2vec 2.0, HuBERT) in torchaudio terms.

Every checkpoint format is converted to one plain dict: the keyword arguments of
``torchaudio.models.wav2vec2_model`` (``aux_num_out`` aside). It is JSON-serialisable, so our own
checkpoint format stores it as is.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import torch
from torchaudio.models import Wav2Vec2Model, wav2vec2_model

Params = Dict[str, Any]

# Conv stack of every released wav2vec 2.0 / HuBERT model: 400-sample receptive field, hop 320.
STANDARD_CONV_LAYERS: List[Tuple[int, int, int]] = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2

PARAM_NAMES = (
    "extractor_mode",
    "extractor_conv_layer_config",
    "extractor_conv_bias",
    "encoder_embed_dim",
    "encoder_projection_dropout",
    "encoder_pos_conv_kernel",
    "encoder_pos_conv_groups",
    "encoder_num_layers",
    "encoder_num_heads",
    "encoder_attention_dropout",
    "encoder_ff_interm_features",
    "encoder_ff_interm_dropout",
    "encoder_dropout",
    "encoder_layer_norm_first",
    "encoder_layer_drop",
)


def normalize_params(params: Params, where: str = "params") -> Params:
    """Check a params dict and return a copy with the conv config as a list of int tuples.

    Raises:
        ValueError: a missing or unknown name, or a bad value; the message starts with ``where``.
    """
    missing = [name for name in PARAM_NAMES if name not in params]
    unknown = [name for name in params if name not in PARAM_NAMES and name != "aux_num_out"]
    if missing or unknown:
        raise ValueError(f"{where}: wav2vec2 params missing {missing}, unknown {unknown}")
    out = {name: params[name] for name in PARAM_NAMES}
    if out["extractor_mode"] not in ("group_norm", "layer_norm"):
        raise ValueError(f"{where}: extractor_mode must be 'group_norm' or 'layer_norm', "
                         f"got {out['extractor_mode']!r}")
    try:
        conv = [tuple(int(v) for v in layer) for layer in out["extractor_conv_layer_config"]]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: extractor_conv_layer_config must be a list of "
                         f"(channels, kernel, stride), got {out['extractor_conv_layer_config']!r}") from exc
    if not conv or any(len(layer) != 3 for layer in conv):
        raise ValueError(f"{where}: extractor_conv_layer_config must be a non-empty list of "
                         f"(channels, kernel, stride), got {out['extractor_conv_layer_config']!r}")
    out["extractor_conv_layer_config"] = conv
    if out["encoder_embed_dim"] % out["encoder_num_heads"]:
        raise ValueError(f"{where}: encoder_embed_dim {out['encoder_embed_dim']} is not divisible by "
                         f"encoder_num_heads {out['encoder_num_heads']}")
    return out


def params_to_json(params: Params) -> Params:
    """Params with the conv config as nested lists (what ``json.dump`` writes anyway)."""
    out = dict(params)
    out["extractor_conv_layer_config"] = [list(layer) for layer in params["extractor_conv_layer_config"]]
    return out


def build_model(params: Params) -> Wav2Vec2Model:
    """A randomly initialised torchaudio ``Wav2Vec2Model`` (no auxiliary head) for ``params``."""
    params = normalize_params(params)
    return wav2vec2_model(**params, aux_num_out=None)


def conv_output_length(n_samples: int | torch.Tensor, conv_layers: Sequence[Tuple[int, int, int]]):
    """Frames produced from ``n_samples`` samples by the conv feature extractor (no padding):
    ``L <- floor((L - kernel) / stride) + 1`` per layer, clamped at 0. With the standard stack this
    is ``floor((N - 400) / 320) + 1``. Works on ints and integer tensors."""
    length = n_samples
    for _, kernel, stride in conv_layers:
        if isinstance(length, torch.Tensor):
            length = torch.clamp(torch.div(length - kernel, stride, rounding_mode="floor") + 1, min=0)
        else:
            length = max(0, (length - kernel) // stride + 1)
    return length


def receptive_field(conv_layers: Sequence[Tuple[int, int, int]]) -> Tuple[int, int]:
    """(receptive field in samples, hop in samples) of the conv stack; (400, 320) for the standard."""
    field, hop = 1, 1
    for _, kernel, stride in conv_layers:
        field += (kernel - 1) * hop
        hop *= stride
    return field, hop
