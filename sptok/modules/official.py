"""Loading the official SpeechTokenizer release (config.json + state dict) into sptok modules.

The released ``.pt`` is a state dict of the ``speechtokenizer`` package's model: keys
``encoder.model.<i>...``, ``decoder.model.<i>...``, ``quantizer...``, ``transform...``. Our
SEANet keeps EnCodec's layer indices and module names, so the only difference is how weight norm
stores its tensors:

* old ``torch.nn.utils.weight_norm``: ``<base>.weight_g`` (magnitude) and ``<base>.weight_v``;
* ``torch.nn.utils.parametrizations.weight_norm`` (ours):
  ``<base>.parametrizations.weight.original0`` (g) and ``...original1`` (v);
* folded for inference (``remove_weight_norm``): ``<base>.weight``.

``convert_weight_norm_keys`` rewrites any of these into whichever form the target module uses.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import torch
from torch import nn

_G_SUFFIXES = (".weight_g", ".parametrizations.weight.original0")
_V_SUFFIXES = (".weight_v", ".parametrizations.weight.original1")

_REQUIRED_CONFIG_KEYS = ("n_filters", "dimension", "strides", "lstm_layers", "bidirectional",
                         "dilation_base", "residual_kernel_size", "n_residual_layers", "activation")


def official_config_to_kwargs(config: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Map a released ``config.json`` (dict) to ``SEANetEncoder`` / ``SEANetDecoder`` kwargs.

    The release lists ``strides`` in decoder order (8, 5, 4, 2); the encoder applies them
    reversed. Its residual blocks use 1x1-conv shortcuts (true_skip=False) and its decoder LSTM
    is unidirectional whatever ``bidirectional`` says.

    Raises:
        ValueError: a required key is missing.
    """
    missing = [key for key in _REQUIRED_CONFIG_KEYS if key not in config]
    if missing:
        raise ValueError(f"SpeechTokenizer config lacks key(s) {missing}")
    common = dict(
        dimension=int(config["dimension"]),
        n_filters=int(config["n_filters"]),
        n_residual_layers=int(config["n_residual_layers"]),
        lstm_layers=int(config["lstm_layers"]),
        activation=str(config["activation"]),
        residual_kernel_size=int(config["residual_kernel_size"]),
        dilation_base=int(config["dilation_base"]),
        true_skip=False,
    )
    strides = [int(s) for s in config["strides"]]
    encoder = dict(common, strides=tuple(reversed(strides)), bidirectional=bool(config["bidirectional"]))
    decoder = dict(common, strides=tuple(strides))
    return encoder, decoder


def _split_weight_norm_key(key: str) -> Optional[Tuple[str, str]]:
    for kind, suffixes in (("g", _G_SUFFIXES), ("v", _V_SUFFIXES)):
        for suffix in suffixes:
            if key.endswith(suffix):
                return key[: -len(suffix)], kind
    return None


def _norm_except_dim0(v: torch.Tensor) -> torch.Tensor:
    return v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))


def convert_weight_norm_keys(state_dict: Mapping[str, torch.Tensor],
                             target_keys) -> Dict[str, torch.Tensor]:
    """Rewrite weight-norm tensors of ``state_dict`` into the form ``target_keys`` expects.

    Args:
        state_dict: source tensors, weight norm in any of the three forms (module docstring).
        target_keys: the keys of the module to load into (e.g. ``module.state_dict().keys()``).

    Returns:
        a new dict; other keys pass through unchanged, and a base the target does not know is
        written in the parametrization form so ``load_state_dict`` reports it by that name.

    Raises:
        ValueError: a weight-norm base has a magnitude without a direction or vice versa.
    """
    target_keys = set(target_keys)
    converted: Dict[str, torch.Tensor] = {}
    pairs: Dict[str, Dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        split = _split_weight_norm_key(key)
        if split is None:
            base = key[: -len(".weight")] if key.endswith(".weight") else None
            if base is not None and f"{base}.weight" not in target_keys and (
                    f"{base}.parametrizations.weight.original0" in target_keys
                    or f"{base}.weight_g" in target_keys):
                # A folded weight w loads into weight norm as g = ||w||, v = w (exact).
                pairs[base] = {"g": _norm_except_dim0(value), "v": value}
            else:
                converted[key] = value
            continue
        base, kind = split
        pairs.setdefault(base, {})[kind] = value
    for base, tensors in pairs.items():
        if set(tensors) != {"g", "v"}:
            raise ValueError(f"state dict has only the weight-norm {sorted(tensors)} tensor of {base!r}")
        g, v = tensors["g"], tensors["v"]
        if f"{base}.weight_g" in target_keys:
            converted[f"{base}.weight_g"], converted[f"{base}.weight_v"] = g, v
        elif f"{base}.weight" in target_keys and f"{base}.parametrizations.weight.original0" not in target_keys:
            converted[f"{base}.weight"] = torch._weight_norm(v, g, 0)
        else:
            converted[f"{base}.parametrizations.weight.original0"] = g
            converted[f"{base}.parametrizations.weight.original1"] = v
    return converted


def load_official_state_dict(module: nn.Module, state_dict: Mapping[str, torch.Tensor],
                             prefix: str = "", strict: bool = True):
    """Load the ``prefix``-ed part of a (released) state dict into ``module``.

    Example: ``load_official_state_dict(encoder, torch.load("SpeechTokenizer.pt"), "encoder.")``
    then ``load_official_state_dict(decoder, ..., "decoder.")`` and
    ``load_official_state_dict(semantic_head, ..., "transform.")``.

    Accepts old (weight_g/weight_v), parametrized and folded weight norm on either side.

    Returns:
        ``module.load_state_dict``'s result (missing/unexpected keys when strict=False).

    Raises:
        ValueError: no key starts with ``prefix``.
        RuntimeError: from ``load_state_dict`` when strict and keys or shapes differ.
    """
    selected = {key[len(prefix):]: value for key, value in state_dict.items() if key.startswith(prefix)}
    if not selected:
        raise ValueError(f"state dict has no key starting with {prefix!r}")
    converted = convert_weight_norm_keys(selected, module.state_dict().keys())
    return module.load_state_dict(converted, strict=strict)
