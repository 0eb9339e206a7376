"""Loading the quantizer of an official SpeechTokenizer release (PyPI ``speechtokenizer``).

Our buffer names equal the official ones, so no key is renamed: the release's state dict holds
``quantizer.vq.layers.{i}._codebook.{inited,cluster_size,embed,embed_avg}`` and its
``quantizer.`` sub-dict loads into :class:`ResidualVQ` with ``strict=True``. Conversely a state
dict of ours loads into the official code.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch

OFFICIAL_PREFIX = "quantizer."


def residual_vq_kwargs_from_official_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """ResidualVQ keyword arguments for an official ``config.json`` (keys dimension, n_q,
    codebook_size; the official EMA settings equal our defaults)."""
    missing = [key for key in ("dimension", "n_q", "codebook_size") if key not in config]
    if missing:
        raise ValueError(f"official SpeechTokenizer config lacks {missing}")
    return {"dimension": int(config["dimension"]), "n_q": int(config["n_q"]),
            "codebook_size": int(config["codebook_size"]), "decay": 0.99, "epsilon": 1e-5,
            "kmeans_init": True, "kmeans_iters": 50, "threshold_ema_dead_code": 2,
            "residual_gradient": "encodec"}


def quantizer_state_from_official(state_dict: Mapping[str, torch.Tensor],
                                  prefix: str = OFFICIAL_PREFIX) -> dict[str, torch.Tensor]:
    """The quantizer's entries of a full official state dict, with ``prefix`` removed."""
    sub = {key[len(prefix):]: value for key, value in state_dict.items() if key.startswith(prefix)}
    if not sub:
        raise ValueError(f"state dict has no key starting with '{prefix}' "
                         f"(first keys: {list(state_dict)[:3]})")
    return sub
