"""Checkpoint files of a training run and loading pre-trained weights (``init_param``).

Two kinds of file:

* ``checkpoint.pt``: everything needed to resume exactly (whole model, optimizers, schedulers,
  gradient scalers, step / epoch / position in the epoch, per-rank RNG states, the n-best
  bookkeeping and the config). Written atomically: a kill never leaves half a file.
* ``<step>steps.pth`` and the ``<phase>.<stat>.best.pth`` link: the generator's weights only
  (``model.generator.state_dict()``), which is what inference loads.

Both load with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import torch

from sptok.utils.fileio import atomic_path

__all__ = ["CHECKPOINT_NAME", "CHECKPOINT_FORMAT", "save_checkpoint", "load_checkpoint",
           "is_training_checkpoint", "save_generator_weights", "InitParam", "parse_init_param",
           "load_init_param"]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "sptok.train.checkpoint"
CHECKPOINT_VERSION = 1


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return type(obj)((k, _to_cpu(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def save_checkpoint(path: PathLike, state: Mapping[str, Any]) -> Path:
    """Write a training checkpoint atomically (tensors moved to CPU)."""
    path = Path(path)
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **_to_cpu(dict(state))}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def is_training_checkpoint(obj: Any) -> bool:
    return isinstance(obj, Mapping) and obj.get("format") == CHECKPOINT_FORMAT


def load_checkpoint(path: PathLike) -> dict[str, Any]:
    """Read a training checkpoint written by :func:`save_checkpoint` (on CPU)."""
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: cannot read the training checkpoint: {e}") from e
    if not is_training_checkpoint(obj):
        raise ValueError(f"{path}: not a training checkpoint of sptok.train (no "
                         f"'format: {CHECKPOINT_FORMAT}' entry)")
    if obj.get("version", 0) > CHECKPOINT_VERSION:
        raise ValueError(f"{path}: checkpoint version {obj['version']} is newer than this "
                         f"code reads ({CHECKPOINT_VERSION})")
    return obj


def save_generator_weights(path: PathLike, generator: torch.nn.Module) -> Path:
    """Write ``generator.state_dict()`` (on CPU) atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(_to_cpu(generator.state_dict()), tmp)
    return path


@dataclass(frozen=True)
class InitParam:
    """One ``init_param`` entry: ``path[:src_prefix[:dst_prefix[:exclude,exclude...]]]``.

    Prefixes are model keys (``generator.encoder``, ``discriminator``); a ``*.pth`` of
    generator weights reads as if its keys started with ``generator.``. ``src`` defaults to
    everything in the file, ``dst`` (None) to ``src``: a part loads into the same place.
    Excludes are source prefixes left out.
    """

    path: str
    src: str = ""
    dst: Optional[str] = None
    excludes: tuple[str, ...] = ()

    def __str__(self) -> str:
        fields = [self.path, self.src, self.dst or "", ",".join(self.excludes)]
        return ":".join(fields).rstrip(":")


def parse_init_param(spec: str) -> InitParam:
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"init_param: expected 'path[:src_prefix[:dst_prefix[:excludes]]]', "
                         f"got {spec!r}")
    parts = spec.split(":")
    if len(parts) > 4:
        raise ValueError(f"init_param '{spec}': at most 4 fields 'path:src:dst:excludes'")
    path = parts[0]
    src = parts[1].strip(".") if len(parts) > 1 else ""
    dst = parts[2].strip(".") if len(parts) > 2 and parts[2] else None
    excludes = tuple(e.strip(".") for e in parts[3].split(",") if e) if len(parts) > 3 else ()
    return InitParam(path, src, dst, excludes)


def _under(key: str, prefix: str) -> bool:
    return not prefix or key == prefix or key.startswith(prefix + ".")


def _rebase(key: str, src: str, dst: str) -> str:
    rest = key[len(src):].lstrip(".") if src else key
    return ".".join(p for p in (dst, rest) if p)


def _source_state(path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The model-key state dict stored in ``path`` (a checkpoint.pt or generator weights)
    and the prefix of the part of the model it covers ("" or "generator")."""
    if not path.is_file():
        raise ValueError(f"init_param: no such file: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"init_param: cannot read {path}: {e}") from e
    if is_training_checkpoint(obj):
        return dict(obj["model"]), ""
    if isinstance(obj, Mapping) and obj and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        return {f"generator.{k}": v for k, v in obj.items()}, "generator"
    raise ValueError(f"init_param: {path} is neither an sptok checkpoint.pt nor a state dict "
                     "of generator weights (*.pth)")


def _listing(keys: Sequence[str], limit: int = 8) -> str:
    keys = sorted(keys)
    more = f" ... ({len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_init_param(model: torch.nn.Module, spec: Union[str, InitParam],
                    ignore_mismatch: bool = False) -> list[str]:
    """Copy weights selected by ``spec`` into ``model``; returns the model keys loaded.

    Every selected source key must exist in the model with the same shape, and every model
    key under ``dst`` must be given; otherwise a ValueError names the file, the prefixes and
    the keys (with ``ignore_mismatch`` those keys are skipped with a warning instead).
    """
    entry = parse_init_param(spec) if isinstance(spec, str) else spec
    source, root = _source_state(Path(entry.path))
    src = entry.src or root
    dst = src if entry.dst is None else entry.dst
    target = model.state_dict()
    selected = {k: v for k, v in source.items()
                if _under(k, src) and not any(_under(k, e) for e in entry.excludes)}
    where = f"init_param '{entry}'"
    if not selected:
        raise ValueError(f"{where}: no key of {entry.path} starts with '{src}'; its "
                         f"keys: {_listing(list(source))}")
    renamed = {_rebase(k, src, dst): v for k, v in selected.items()}
    unexpected = [k for k in renamed if k not in target]
    reshaped = [k for k, v in renamed.items() if k in target and v.shape != target[k].shape]
    excluded = [_rebase(e, src, dst) for e in entry.excludes if _under(e, src)]
    missing = [k for k in target if _under(k, dst) and k not in renamed
               and not any(_under(k, e) for e in excluded)]
    problems = []
    if unexpected:
        problems.append(f"keys not in the model: {_listing(unexpected)}")
    if reshaped:
        problems.append("shapes differ (file -> model): " + _listing(
            [f"{k} {list(renamed[k].shape)} -> {list(target[k].shape)}" for k in reshaped]))
    if missing:
        problems.append(f"model keys under '{dst or '(all)'}' not in the file: "
                        f"{_listing(missing)}")
    if problems:
        message = f"{where}: " + "; ".join(problems)
        if not ignore_mismatch:
            raise ValueError(message + " (ignore_init_mismatch: true skips them)")
        logger.warning("%s; skipped", message)
    skipped = set(unexpected) | set(reshaped)
    loadable = {k: v for k, v in renamed.items() if k not in skipped}
    model.load_state_dict(loadable, strict=False)
    logger.info("%s: loaded %d tensors into the model", where, len(loadable))
    return sorted(loadable)
