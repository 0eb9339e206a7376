"""fairseq checkpoints of HuBERT / wav2vec 2.0 (e.g. ``hubert_base_ls960.pt``), without fairseq.

A checkpoint is a ``torch.save``d dict with the model weights under ``'model'`` and the
configuration under ``'cfg'`` (hydra era: ``cfg['model']``, ``cfg['task']``) or, in older files,
``'args'`` (an ``argparse.Namespace``). Fine-tuned (CTC) checkpoints nest the pre-trained model's
config under ``cfg['model']['w2v_args']`` and its weights under ``w2v_encoder.w2v_model.``.

Weight names (fairseq -> torchaudio ``Wav2Vec2Model``):

=======================================================  ==============================================
``feature_extractor.conv_layers.i.0.{weight,bias}``       ``feature_extractor.conv_layers.i.conv.*``
``feature_extractor.conv_layers.0.2.*`` (group norm)      ``feature_extractor.conv_layers.0.layer_norm.*``
``feature_extractor.conv_layers.i.2.1.*`` (layer norm)    ``feature_extractor.conv_layers.i.layer_norm.*``
``layer_norm.*``                                          ``encoder.feature_projection.layer_norm.*``
``post_extract_proj.*``                                   ``encoder.feature_projection.projection.*``
``encoder.pos_conv.0.{bias,weight_g,weight_v}``           ``encoder.transformer.pos_conv_embed.conv.*``
``encoder.layer_norm.*``                                  ``encoder.transformer.layer_norm.*``
``encoder.layers.i.self_attn.{q,k,v,out}_proj.*``         ``encoder.transformer.layers.i.attention.*``
``encoder.layers.i.self_attn_layer_norm.*``               ``encoder.transformer.layers.i.layer_norm.*``
``encoder.layers.i.fc1.*`` / ``fc2.*``                    ``...feed_forward.intermediate_dense.*`` / ``output_dense.*``
``encoder.layers.i.final_layer_norm.*``                   ``encoder.transformer.layers.i.final_layer_norm.*``
=======================================================  ==============================================

Pre-training heads (``mask_emb``, ``label_embs_concat``, ``final_proj``, quantizer, CTC ``proj``)
are dropped.
"""
from __future__ import annotations

import argparse
import ast
import logging
import pickle
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

import torch

from sptok.teachers.wav2vec2_params import Params, normalize_params
from sptok.utils.fileio import atomic_path

_LG = logging.getLogger(__name__)

# fairseq's HubertConfig / Wav2Vec2Config defaults for the fields used here.
_FAIRSEQ_DEFAULTS: Dict[str, Any] = {
    "extractor_mode": "default",
    "encoder_layers": 12,
    "encoder_embed_dim": 768,
    "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12,
    "activation_fn": "gelu",
    "dropout": 0.1,
    "attention_dropout": 0.1,
    "activation_dropout": 0.0,
    "encoder_layerdrop": 0.0,
    "dropout_input": 0.0,
    "conv_feature_layers": "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2",
    "conv_bias": False,
    "conv_pos": 128,
    "conv_pos_groups": 16,
    "layer_norm_first": False,
    "pos_conv_depth": 1,
    "conv_pos_batch_norm": False,
    "layer_type": "transformer",
}

# torchaudio ``wav2vec2_model`` argument <- fairseq model config field (both directions); the
# extractor mode and the conv layers are translated on their own.
_CONFIG_FIELDS: Tuple[Tuple[str, str, type], ...] = (
    ("extractor_conv_bias", "conv_bias", bool),
    ("encoder_embed_dim", "encoder_embed_dim", int),
    ("encoder_projection_dropout", "dropout_input", float),
    ("encoder_pos_conv_kernel", "conv_pos", int),
    ("encoder_pos_conv_groups", "conv_pos_groups", int),
    ("encoder_num_layers", "encoder_layers", int),
    ("encoder_num_heads", "encoder_attention_heads", int),
    ("encoder_attention_dropout", "attention_dropout", float),
    ("encoder_ff_interm_features", "encoder_ffn_embed_dim", int),
    ("encoder_ff_interm_dropout", "activation_dropout", float),
    ("encoder_dropout", "dropout", float),
    ("encoder_layer_norm_first", "layer_norm_first", bool),
    ("encoder_layer_drop", "encoder_layerdrop", float),
)


class _WeightName(NamedTuple):
    """One weight name in both layouts. ``{field}`` placeholders (see ``_FIELDS``) stand for the
    same value on both sides; ``extractor_mode`` limits the writing direction to checkpoints of
    that feature-extractor norm (reading accepts every entry)."""

    fairseq: str
    torchaudio: str
    extractor_mode: Optional[str] = None


_FIELDS = {"i": r"\d+", "p": r"weight|bias", "proj": r"q|k|v|out", "g": r"0|1"}
_CONV = "feature_extractor.conv_layers"
_POS_CONV = "encoder.transformer.pos_conv_embed.conv"
_LAYER = "encoder.transformer.layers.{i}"

# The first entry that matches a name wins, in either direction.
_WEIGHT_NAMES: Tuple[_WeightName, ...] = (
    _WeightName(_CONV + ".{i}.0.{p}", _CONV + ".{i}.conv.{p}"),
    # A conv block's norm: group norm (first block only) is module 2 of the block's Sequential,
    # layer norm sits between two transposes at 2.1.
    _WeightName(_CONV + ".0.2.{p}", _CONV + ".0.layer_norm.{p}", "group_norm"),
    _WeightName(_CONV + ".{i}.2.1.{p}", _CONV + ".{i}.layer_norm.{p}", "layer_norm"),
    _WeightName("layer_norm.{p}", "encoder.feature_projection.layer_norm.{p}"),
    _WeightName("post_extract_proj.{p}", "encoder.feature_projection.projection.{p}"),
    _WeightName("encoder.pos_conv.0.bias", _POS_CONV + ".bias"),
    _WeightName("encoder.pos_conv.0.weight_g", _POS_CONV + ".parametrizations.weight.original0"),
    _WeightName("encoder.pos_conv.0.weight_v", _POS_CONV + ".parametrizations.weight.original1"),
    # Newer fairseq saves the parametrized weight norm: read too, written as weight_g/_v (above).
    _WeightName("encoder.pos_conv.0.parametrizations.weight.original{g}",
                _POS_CONV + ".parametrizations.weight.original{g}"),
    _WeightName("encoder.layer_norm.{p}", "encoder.transformer.layer_norm.{p}"),
    _WeightName("encoder.layers.{i}.self_attn.{proj}_proj.{p}", _LAYER + ".attention.{proj}_proj.{p}"),
    _WeightName("encoder.layers.{i}.self_attn_layer_norm.{p}", _LAYER + ".layer_norm.{p}"),
    _WeightName("encoder.layers.{i}.fc1.{p}", _LAYER + ".feed_forward.intermediate_dense.{p}"),
    _WeightName("encoder.layers.{i}.fc2.{p}", _LAYER + ".feed_forward.output_dense.{p}"),
    _WeightName("encoder.layers.{i}.final_layer_norm.{p}", _LAYER + ".final_layer_norm.{p}"),
)
_IGNORED = re.compile(r"(mask_emb|label_embs_concat|final_proj\.|quantizer\.|project_q\.|project_inp\.|"
                      r"target_glu\.|proj\.)")
_PREFIXES = ("w2v_encoder.w2v_model.", "w2v_model.", "w2v_encoder.")


def _name_pattern(template: str) -> "re.Pattern[str]":
    """The regex of a ``_WeightName`` template: literal dots, ``{field}`` as a named group."""
    parts = re.split(r"\{(\w+)\}", template)  # literal, field, literal, ...
    return re.compile("".join(re.escape(part) if k % 2 == 0 else f"(?P<{part}>{_FIELDS[part]})"
                              for k, part in enumerate(parts)))


def _rename(name: str, rules: List[Tuple["re.Pattern[str]", str]]) -> Optional[str]:
    """``name`` in the other layout by the first matching rule (None: no rule matches)."""
    for pattern, target in rules:
        match = pattern.fullmatch(name)
        if match:
            return target.format(**match.groupdict())
    return None


_TO_TORCHAUDIO = [(_name_pattern(w.fairseq), w.torchaudio) for w in _WEIGHT_NAMES]
_TO_FAIRSEQ = {mode: [(_name_pattern(w.torchaudio), w.fairseq) for w in _WEIGHT_NAMES
                      if w.extractor_mode in (None, mode)]
               for mode in ("group_norm", "layer_norm")}


def fairseq_to_torchaudio_state_dict(state: Mapping[str, torch.Tensor], where: str = "model"
                                     ) -> Dict[str, torch.Tensor]:
    """Rename fairseq HuBERT / wav2vec 2.0 weights to torchaudio ``Wav2Vec2Model`` names.

    Raises:
        ValueError: names that are neither mapped nor known heads (listed in the message).
    """
    out: Dict[str, torch.Tensor] = {}
    unknown: List[str] = []
    for key, value in state.items():
        name = key
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        renamed = _rename(name, _TO_TORCHAUDIO)
        if renamed is not None:
            out[renamed] = value
        elif not _IGNORED.match(name):
            unknown.append(key)
    if unknown:
        raise ValueError(f"{where}: unrecognised fairseq weight names: {unknown[:8]}"
                         + (f" (+{len(unknown) - 8} more)" if len(unknown) > 8 else ""))
    return out


def torchaudio_to_fairseq_state_dict(state: Mapping[str, torch.Tensor], extractor_mode: str
                                     ) -> Dict[str, torch.Tensor]:
    """Inverse of :func:`fairseq_to_torchaudio_state_dict` (fairseq ``HubertModel`` names).

    ``extractor_mode`` ("group_norm" or "layer_norm") decides where a conv block's norm lives in
    fairseq's ``nn.Sequential``: module ``2`` (group norm) or ``2.1`` (layer norm between transposes).
    """
    if extractor_mode not in _TO_FAIRSEQ:
        raise ValueError(f"extractor_mode must be one of {sorted(_TO_FAIRSEQ)}, got {extractor_mode!r}")
    out: Dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("aux."):
            continue
        renamed = _rename(key, _TO_FAIRSEQ[extractor_mode])
        if renamed is None:
            raise ValueError(f"torchaudio weight {key!r} has no fairseq name")
        out[renamed] = value
    return out


def parse_conv_feature_layers(spec: str, where: str) -> List[Tuple[int, int, int]]:
    """Evaluate fairseq's ``conv_feature_layers`` string (list/tuple literals joined by ``+`` and
    ``*``) safely, without ``eval``."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [ev(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = ev(node.left), ev(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError(f"{where}: cannot parse conv_feature_layers {spec!r}")

    try:
        layers = ev(ast.parse(spec, mode="eval"))
    except SyntaxError as exc:
        raise ValueError(f"{where}: cannot parse conv_feature_layers {spec!r}") from exc
    if not isinstance(layers, list) or not all(isinstance(t, tuple) and len(t) == 3 for t in layers):
        raise ValueError(f"{where}: conv_feature_layers {spec!r} is not a list of (dim, kernel, stride)")
    return [tuple(int(v) for v in t) for t in layers]


def _as_dict(obj: Any) -> Dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, argparse.Namespace):
        return vars(obj)
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "items"):  # omegaconf DictConfig
        return {k: v for k, v in obj.items()}
    raise ValueError(f"unexpected config object {type(obj).__name__}")


def fairseq_model_and_task_cfg(ckpt: Mapping[str, Any], where: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(model config, task config) of a fairseq checkpoint, unwrapping fine-tuned ``w2v_args``."""
    if ckpt.get("cfg") is not None:
        cfg = _as_dict(ckpt["cfg"])
        model_cfg, task_cfg = _as_dict(cfg.get("model")), _as_dict(cfg.get("task"))
    elif ckpt.get("args") is not None:
        model_cfg = task_cfg = _as_dict(ckpt["args"])
    else:
        raise ValueError(f"{where}: fairseq checkpoint without 'cfg' or 'args'")
    inner = model_cfg.get("w2v_args")
    if inner is not None:  # fine-tuned: the encoder's own config is nested
        inner = _as_dict(inner)
        if "model" in inner:
            model_cfg, task_cfg = _as_dict(inner["model"]), _as_dict(inner.get("task"))
        else:
            model_cfg = task_cfg = inner
    return model_cfg, task_cfg


def fairseq_cfg_to_params(model_cfg: Mapping[str, Any], where: str) -> Params:
    """torchaudio ``wav2vec2_model`` kwargs from a fairseq model config.

    Raises:
        ValueError: unsupported architecture options (another activation, conformer layers,
            multi-layer or batch-norm positional conv).
    """

    def get(name: str) -> Any:
        value = model_cfg.get(name)
        return _FAIRSEQ_DEFAULTS[name] if value is None else value

    unsupported = []
    if get("activation_fn") != "gelu":
        unsupported.append(f"activation_fn={get('activation_fn')!r}")
    if get("layer_type") != "transformer":
        unsupported.append(f"layer_type={get('layer_type')!r}")
    if int(get("pos_conv_depth")) != 1:
        unsupported.append(f"pos_conv_depth={get('pos_conv_depth')}")
    if get("conv_pos_batch_norm"):
        unsupported.append("conv_pos_batch_norm=True")
    if unsupported:
        raise ValueError(f"{where}: unsupported fairseq model options: {', '.join(unsupported)}")
    mode = get("extractor_mode")
    if mode not in ("default", "layer_norm"):
        raise ValueError(f"{where}: extractor_mode must be 'default' or 'layer_norm', got {mode!r}")
    params = {
        "extractor_mode": "group_norm" if mode == "default" else "layer_norm",
        "extractor_conv_layer_config": parse_conv_feature_layers(str(get("conv_feature_layers")), where),
    }
    params.update((param, cast(get(field))) for param, field, cast in _CONFIG_FIELDS)
    return normalize_params(params, where)


def params_to_fairseq_cfg(params: Params, normalize: bool = False) -> Dict[str, Any]:
    """A hydra-era fairseq ``cfg`` dict (``model`` + ``task``) describing ``params``."""
    params = normalize_params(params)
    conv = " + ".join(f"[({c}, {k}, {s})]" for c, k, s in params["extractor_conv_layer_config"])
    return {
        "model": {
            "_name": "hubert",
            "extractor_mode": "default" if params["extractor_mode"] == "group_norm" else "layer_norm",
            "conv_feature_layers": conv,
            **{field: params[param] for param, field, _ in _CONFIG_FIELDS},
            "activation_fn": "gelu",
        },
        "task": {"_name": "hubert_pretraining", "normalize": bool(normalize), "sample_rate": 16000},
    }


def load_pickled_checkpoint(path: Path) -> Any:
    """``torch.load`` a checkpoint: tensors-only first; fairseq's ``args`` Namespace or an
    omegaconf ``cfg`` need full unpickling, which is only done for this local, user-named file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        _LG.info("%s: not a tensors-only pickle; loading it fully (trusted local file)", path)
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except ModuleNotFoundError as exc:
        raise ValueError(f"{path}: unpickling needs the Python module {exc.name!r} "
                         f"(e.g. pip install omegaconf for hydra-era fairseq checkpoints)") from exc


def read_fairseq_checkpoint(ckpt: Mapping[str, Any], where: str) -> Tuple[Params, Dict[str, torch.Tensor], bool]:
    """(torchaudio params, torchaudio state dict, task ``normalize``) of a loaded fairseq dict."""
    model_cfg, task_cfg = fairseq_model_and_task_cfg(ckpt, where)
    params = fairseq_cfg_to_params(model_cfg, where)
    state = fairseq_to_torchaudio_state_dict(ckpt["model"], f"{where}: 'model'")
    normalize = bool(task_cfg.get("normalize", False) or False)
    return params, state, normalize


def write_fairseq_checkpoint(path: Path, params: Params, state: Mapping[str, torch.Tensor],
                             normalize: bool = False, use_args: bool = False,
                             extra_model_keys: Optional[Mapping[str, torch.Tensor]] = None) -> None:
    """Write a fairseq-layout checkpoint (used by tests and for export). ``use_args`` writes the
    pre-hydra layout (an ``argparse.Namespace`` under ``'args'``)."""
    model_state = torchaudio_to_fairseq_state_dict(state, params["extractor_mode"])
    model_state.update(extra_model_keys or {})
    cfg = params_to_fairseq_cfg(params, normalize)
    if use_args:
        ckpt = {"args": argparse.Namespace(**cfg["model"], normalize=bool(normalize)), "model": model_state}
    else:
        ckpt = {"cfg": cfg, "model": model_state}
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
