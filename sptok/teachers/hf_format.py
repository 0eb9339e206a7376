"""Hugging Face ``transformers`` checkpoints of HuBERT / wav2vec 2.0 encoders, without transformers.

A checkpoint is a directory with ``config.json`` (``HubertConfig`` / ``Wav2Vec2Config`` fields) and
the weights in ``model.safetensors`` or ``pytorch_model.bin`` (or their sharded ``*.index.json``
forms). An optional ``preprocessor_config.json`` says whether the waveform is normalised to zero mean
and unit variance (``do_normalize``) before the model.

Module names of ``HubertModel`` / ``Wav2Vec2Model`` map 1:1 onto torchaudio's ``Wav2Vec2Model``;
only prefixes differ (the table below). The positional conv's weight norm is stored either as
``weight_g``/``weight_v`` (released checkpoints) or as ``parametrizations.weight.original0/1``
(newer saves): both are read, ``weight_g``/``weight_v`` is written.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

import torch

from sptok.teachers.wav2vec2_params import Params, normalize_params
from sptok.utils.fileio import atomic_open, atomic_path

CONFIG_NAME = "config.json"
PREPROCESSOR_NAME = "preprocessor_config.json"
SAFETENSORS_NAME = "model.safetensors"
BIN_NAME = "pytorch_model.bin"

SUPPORTED_MODEL_TYPES = ("hubert", "wav2vec2")

# HubertConfig / Wav2Vec2Config defaults (identical for the fields used here).
_HF_DEFAULTS: Dict[str, Any] = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout": 0.1,
    "activation_dropout": 0.1,
    "attention_dropout": 0.1,
    "feat_proj_dropout": 0.0,
    "feat_proj_layer_norm": True,
    "layerdrop": 0.1,
    "layer_norm_eps": 1e-5,
    "feat_extract_norm": "group",
    "feat_extract_activation": "gelu",
    "conv_dim": [512] * 7,
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_bias": False,
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
    "conv_pos_batch_norm": False,
    "do_stable_layer_norm": False,
    "add_adapter": False,
}

# (HF name prefix, torchaudio name prefix); first match wins, longest prefixes first.
_PREFIX_MAP: List[Tuple[str, str]] = [
    ("encoder.pos_conv_embed.conv.weight_g", "encoder.transformer.pos_conv_embed.conv.parametrizations.weight.original0"),
    ("encoder.pos_conv_embed.conv.weight_v", "encoder.transformer.pos_conv_embed.conv.parametrizations.weight.original1"),
    ("encoder.pos_conv_embed.", "encoder.transformer.pos_conv_embed."),
    ("encoder.layer_norm.", "encoder.transformer.layer_norm."),
    ("encoder.layers.", "encoder.transformer.layers."),
    ("feature_projection.", "encoder.feature_projection."),
    ("feature_extractor.", "feature_extractor."),
]
# Heads and training-only tensors of the HF classes that an encoder does not use.
_IGNORED_PREFIXES = ("masked_spec_embed", "quantizer.", "project_q.", "project_hid.", "lm_head.",
                     "dropout_features", "label_embeddings_concat", "final_proj.", "projector.",
                     "classifier.", "layer_weights")
_BASE_MODEL_PREFIXES = ("hubert.", "wav2vec2.")


def _get(cfg: Dict[str, Any], name: str) -> Any:
    return cfg.get(name, _HF_DEFAULTS[name])


def hf_config_to_params(cfg: Dict[str, Any], where: str = CONFIG_NAME) -> Params:
    """torchaudio ``wav2vec2_model`` kwargs from a HF config dict.

    Raises:
        ValueError: options torchaudio's model cannot express (another activation, no projection
            layer norm, batch-norm positional conv, adapters, non-default layer-norm eps), an
            unsupported ``model_type``, or inconsistent conv lists.
    """
    model_type = cfg.get("model_type", "hubert")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(f"{where}: model_type {model_type!r} is not supported "
                         f"(supported: {', '.join(SUPPORTED_MODEL_TYPES)})")
    unsupported = []
    if _get(cfg, "hidden_act") != "gelu" or _get(cfg, "feat_extract_activation") != "gelu":
        unsupported.append("hidden_act/feat_extract_activation other than 'gelu'")
    if not _get(cfg, "feat_proj_layer_norm"):
        unsupported.append("feat_proj_layer_norm=false")
    if _get(cfg, "conv_pos_batch_norm"):
        unsupported.append("conv_pos_batch_norm=true")
    if _get(cfg, "add_adapter"):
        unsupported.append("add_adapter=true")
    if abs(float(_get(cfg, "layer_norm_eps")) - 1e-5) > 1e-12:
        unsupported.append(f"layer_norm_eps={_get(cfg, 'layer_norm_eps')} (only 1e-5)")
    if unsupported:
        raise ValueError(f"{where}: unsupported options: {'; '.join(unsupported)}")
    dims, kernels, strides = _get(cfg, "conv_dim"), _get(cfg, "conv_kernel"), _get(cfg, "conv_stride")
    if not (len(dims) == len(kernels) == len(strides)):
        raise ValueError(f"{where}: conv_dim, conv_kernel and conv_stride differ in length "
                         f"({len(dims)}, {len(kernels)}, {len(strides)})")
    norm = _get(cfg, "feat_extract_norm")
    if norm not in ("group", "layer"):
        raise ValueError(f"{where}: feat_extract_norm must be 'group' or 'layer', got {norm!r}")
    params = {
        "extractor_mode": f"{norm}_norm",
        "extractor_conv_layer_config": list(zip(dims, kernels, strides)),
        "extractor_conv_bias": bool(_get(cfg, "conv_bias")),
        "encoder_embed_dim": int(_get(cfg, "hidden_size")),
        "encoder_projection_dropout": float(_get(cfg, "feat_proj_dropout")),
        "encoder_pos_conv_kernel": int(_get(cfg, "num_conv_pos_embeddings")),
        "encoder_pos_conv_groups": int(_get(cfg, "num_conv_pos_embedding_groups")),
        "encoder_num_layers": int(_get(cfg, "num_hidden_layers")),
        "encoder_num_heads": int(_get(cfg, "num_attention_heads")),
        "encoder_attention_dropout": float(_get(cfg, "attention_dropout")),
        "encoder_ff_interm_features": int(_get(cfg, "intermediate_size")),
        "encoder_ff_interm_dropout": float(_get(cfg, "activation_dropout")),
        "encoder_dropout": float(_get(cfg, "hidden_dropout")),
        "encoder_layer_norm_first": bool(_get(cfg, "do_stable_layer_norm")),
        "encoder_layer_drop": float(_get(cfg, "layerdrop")),
    }
    return normalize_params(params, where)


def params_to_hf_config(params: Params) -> Dict[str, Any]:
    """A ``HubertConfig``-compatible dict (``model_type: hubert``, ``HubertModel``) for ``params``."""
    params = normalize_params(params)
    conv = params["extractor_conv_layer_config"]
    return {
        "architectures": ["HubertModel"],
        "model_type": "hubert",
        "hidden_size": params["encoder_embed_dim"],
        "num_hidden_layers": params["encoder_num_layers"],
        "num_attention_heads": params["encoder_num_heads"],
        "intermediate_size": params["encoder_ff_interm_features"],
        "hidden_act": "gelu",
        "hidden_dropout": params["encoder_dropout"],
        "activation_dropout": params["encoder_ff_interm_dropout"],
        "attention_dropout": params["encoder_attention_dropout"],
        "feat_proj_layer_norm": True,
        "feat_proj_dropout": params["encoder_projection_dropout"],
        "layerdrop": params["encoder_layer_drop"],
        "layer_norm_eps": 1e-5,
        "feat_extract_norm": params["extractor_mode"].split("_")[0],
        "feat_extract_activation": "gelu",
        "conv_dim": [c for c, _, _ in conv],
        "conv_kernel": [k for _, k, _ in conv],
        "conv_stride": [s for _, _, s in conv],
        "conv_bias": params["extractor_conv_bias"],
        "num_conv_pos_embeddings": params["encoder_pos_conv_kernel"],
        "num_conv_pos_embedding_groups": params["encoder_pos_conv_groups"],
        "conv_pos_batch_norm": False,
        "do_stable_layer_norm": params["encoder_layer_norm_first"],
        "apply_spec_augment": False,
        "torch_dtype": "float32",
    }


def hf_to_torchaudio_state_dict(state: Dict[str, torch.Tensor], where: str = "weights"
                                ) -> Dict[str, torch.Tensor]:
    """Rename a HF encoder state dict to torchaudio ``Wav2Vec2Model`` names.

    Accepts base-model keys and keys under ``hubert.`` / ``wav2vec2.`` (task models); heads and
    training-only tensors are dropped.

    Raises:
        ValueError: a key that is neither mapped nor known to be ignorable (named in the message).
    """
    out: Dict[str, torch.Tensor] = {}
    unknown: List[str] = []
    for key, value in state.items():
        name = key
        for prefix in _BASE_MODEL_PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        if name.startswith(_IGNORED_PREFIXES) or key.startswith(_IGNORED_PREFIXES):
            continue
        name = name.replace("conv.parametrizations.weight.original0", "conv.weight_g")
        name = name.replace("conv.parametrizations.weight.original1", "conv.weight_v")
        for hf_prefix, ta_prefix in _PREFIX_MAP:
            if name.startswith(hf_prefix):
                out[ta_prefix + name[len(hf_prefix):]] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"{where}: unrecognised HF weight names: {unknown[:8]}"
                         + (f" (+{len(unknown) - 8} more)" if len(unknown) > 8 else ""))
    return out


def torchaudio_to_hf_state_dict(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Inverse of :func:`hf_to_torchaudio_state_dict` (``HubertModel`` names, ``weight_g/v``)."""
    out: Dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("aux."):
            continue
        for hf_prefix, ta_prefix in _PREFIX_MAP:
            if key.startswith(ta_prefix):
                out[hf_prefix + key[len(ta_prefix):]] = value
                break
        else:
            raise ValueError(f"torchaudio weight {key!r} has no HF name")
    return out


def _load_weight_file(path: Path) -> Dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as exc:
            raise ValueError(f"{path}: reading .safetensors needs the 'safetensors' package "
                             f"(pip install safetensors)") from exc
        return load_file(str(path), device="cpu")
    return torch.load(path, map_location="cpu", weights_only=True)


def read_hf_weights(directory: Path) -> Dict[str, torch.Tensor]:
    """The HF state dict stored in ``directory`` (single or sharded safetensors / bin files).

    Raises:
        ValueError: no weight file (the message lists the names looked for).
    """
    for name in (SAFETENSORS_NAME, BIN_NAME):
        if (directory / name).is_file():
            return _load_weight_file(directory / name)
        index = directory / f"{name}.index.json"
        if index.is_file():
            weight_map = json.loads(index.read_text())["weight_map"]
            state: Dict[str, torch.Tensor] = {}
            for shard in sorted(set(weight_map.values())):
                if not (directory / shard).is_file():
                    raise ValueError(f"{index}: shard {shard} is missing")
                state.update(_load_weight_file(directory / shard))
            return state
    raise ValueError(f"{directory}: no weights found (looked for {SAFETENSORS_NAME}, {BIN_NAME} and "
                     f"their .index.json shards)")


def read_hf_dir(directory: Path) -> Tuple[Params, Dict[str, torch.Tensor], bool]:
    """Read a HF checkpoint directory.

    Returns:
        (torchaudio params, torchaudio state dict, do_normalize from preprocessor_config.json or
        False when that file is absent).
    """
    config_path = directory / CONFIG_NAME
    if not config_path.is_file():
        raise ValueError(f"{directory}: not a Hugging Face checkpoint directory ({CONFIG_NAME} missing)")
    try:
        cfg = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{config_path}: invalid JSON: {exc}") from exc
    params = hf_config_to_params(cfg, str(config_path))
    state = hf_to_torchaudio_state_dict(read_hf_weights(directory), str(directory))
    do_normalize = False
    preprocessor = directory / PREPROCESSOR_NAME
    if preprocessor.is_file():
        do_normalize = bool(json.loads(preprocessor.read_text(encoding="utf-8")).get("do_normalize", False))
    return params, state, do_normalize


def write_hf_dir(directory: Path, params: Params, state: Dict[str, torch.Tensor],
                 do_normalize: bool = False, weights_format: str = "auto") -> Path:
    """Write a HF checkpoint directory that ``HubertModel.from_pretrained`` and
    :func:`read_hf_dir` both load.

    Args:
        state: torchaudio ``Wav2Vec2Model`` state dict.
        weights_format: ``"safetensors"``, ``"bin"`` or ``"auto"`` (safetensors when installed).
    Returns:
        the weight file written. Every file is written atomically; ``config.json`` last.
    """
    if weights_format not in ("auto", "safetensors", "bin"):
        raise ValueError(f"weights_format must be auto, safetensors or bin, got {weights_format!r}")
    if weights_format == "auto":
        weights_format = "safetensors" if importlib.util.find_spec("safetensors") else "bin"
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    hf_state = {k: v.detach().cpu().contiguous() for k, v in torchaudio_to_hf_state_dict(state).items()}
    if weights_format == "safetensors":
        from safetensors.torch import save_file
        weight_path = directory / SAFETENSORS_NAME
        with atomic_path(weight_path) as tmp:
            save_file(hf_state, str(tmp), metadata={"format": "pt"})
        stale = directory / BIN_NAME
    else:
        weight_path = directory / BIN_NAME
        with atomic_path(weight_path) as tmp:
            torch.save(hf_state, tmp)
        stale = directory / SAFETENSORS_NAME
    if stale.exists():  # a reader prefers safetensors: never leave an older one beside new weights
        stale.unlink()
    preprocessor = {
        "do_normalize": bool(do_normalize),
        "feature_extractor_type": "Wav2Vec2FeatureExtractor",
        "feature_size": 1,
        "padding_side": "right",
        "padding_value": 0.0,
        "return_attention_mask": params["extractor_mode"] == "layer_norm",
        "sampling_rate": 16000,
    }
    with atomic_open(directory / PREPROCESSOR_NAME) as f:
        json.dump(preprocessor, f, indent=2)
        f.write("\n")
    with atomic_open(directory / CONFIG_NAME) as f:
        json.dump(params_to_hf_config(params), f, indent=2)
        f.write("\n")
    return weight_path
