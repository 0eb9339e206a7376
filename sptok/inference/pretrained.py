"""Finding and loading a trained codec: our experiment directories and official releases.

Accepted forms of ``path`` (``checkpoint`` picks a weight file where several exist):

* an experiment directory of ``sptok.bin.train`` (``config.yaml`` with ``task: codec``): by
  default the best model, i.e. the ``<phase>.<stat>.best.pth`` link of the first
  ``best_criterion``; else the only ``*.best.pth``; else the latest ``<step>steps.pth``; else the
  generator inside ``checkpoint.pt``. ``checkpoint`` may name any of these files.
* a weight file (``*.pth`` generator weights or a training ``checkpoint.pt``) beside its
  ``config.yaml``;
* a ``config.yaml`` file (``checkpoint`` as for the directory);
* an official SpeechTokenizer release: a directory with ``config.json`` and one ``.pt`` state
  dict (the format of the PyPI package ``speechtokenizer``), its ``.pt`` file beside the
  ``config.json``, or the ``config.json`` itself with ``checkpoint`` naming the ``.pt``.

Our generators are built through the task named in ``config.yaml`` (``task.build_generator``),
the same code that built them for training.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import torch

from sptok.models.speechtokenizer import SpeechTokenizerModel

__all__ = ["ModelFiles", "resolve_model_files", "load_generator", "best_weights_file",
           "SPTOK", "OFFICIAL"]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

SPTOK = "sptok"
OFFICIAL = "official"
SPTOK_CONFIG = "config.yaml"
OFFICIAL_CONFIG = "config.json"
TRAINING_CHECKPOINT = "checkpoint.pt"
_STEP_FILE = re.compile(r"^(\d+)steps\.pth$")
_OFFICIAL_WEIGHT_SUFFIXES = (".pt", ".pth", ".bin")


@dataclass(frozen=True)
class ModelFiles:
    """Where a model's config and weights are.

    Attributes:
        kind: ``"sptok"`` (config.yaml + generator weights or checkpoint.pt) or ``"official"``
            (config.json + the release's state dict).
        config: the config file.
        weights: the weight file.
    """

    kind: str
    config: Path
    weights: Path

    def __str__(self) -> str:
        return f"{self.weights} ({self.kind}, config {self.config})"


def _listing(paths: List[Path]) -> str:
    return ", ".join(p.name for p in paths) or "(none)"


def best_weights_file(exp_dir: PathLike, config: Optional[Mapping[str, Any]] = None) -> Path:
    """The default weight file of an experiment directory (see the module docstring).

    Args:
        exp_dir: the directory holding config.yaml and the weight files.
        config: its config (for ``best_criterion``); None reads nothing and skips that rule.

    Raises:
        FileNotFoundError: no weight file at all.
        ValueError: several ``*.best.pth`` links and no criterion to choose between them.
    """
    exp_dir = Path(exp_dir)
    if config is not None and config.get("best_criterion"):
        from sptok.train.nbest import parse_criteria  # only needed for experiment dirs

        try:
            criteria = parse_criteria(config["best_criterion"])
        except ValueError:
            criteria = []
        for criterion in criteria:
            link = exp_dir / criterion.link_name
            if link.is_file():  # follows the symlink: a dangling link does not count
                return link
    best = sorted(p for p in exp_dir.glob("*.best.pth") if p.is_file())
    if len(best) == 1:
        return best[0]
    if len(best) > 1:
        raise ValueError(f"{exp_dir}: several best models ({_listing(best)}) and none matches "
                         "the config's best_criterion; choose one with checkpoint=")
    steps = sorted((int(m.group(1)), p) for p in exp_dir.iterdir()
                   if (m := _STEP_FILE.match(p.name)) and p.is_file())
    if steps:
        return steps[-1][1]
    if (exp_dir / TRAINING_CHECKPOINT).is_file():
        return exp_dir / TRAINING_CHECKPOINT
    raise FileNotFoundError(f"{exp_dir}: no model weights: looked for *.best.pth, <N>steps.pth "
                            f"and {TRAINING_CHECKPOINT}")


def _official_weights_in(directory: Path) -> Path:
    candidates = sorted(p for p in directory.iterdir()
                        if p.suffix in _OFFICIAL_WEIGHT_SUFFIXES and p.is_file())
    if len(candidates) != 1:
        what = "no" if not candidates else f"{len(candidates)}"
        raise ValueError(f"{directory}: {what} weight files ({_listing(candidates)}) beside "
                         f"{OFFICIAL_CONFIG}; expected exactly one .pt, or choose it with "
                         "checkpoint=")
    return candidates[0]


def _checkpoint_in(directory: Path, checkpoint: PathLike) -> Path:
    """``checkpoint`` as given if it exists, else relative to ``directory``."""
    path = Path(checkpoint)
    if not path.is_file() and not path.is_absolute():
        path = directory / checkpoint
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint '{checkpoint}': no such file (also looked in "
                                f"{directory})")
    return path


def resolve_model_files(path: PathLike, checkpoint: Optional[PathLike] = None) -> ModelFiles:
    """Find the config and the weight file that ``path`` (and ``checkpoint``) designate.

    Raises:
        FileNotFoundError: a path that does not exist, or no config beside a weight file.
        ValueError: an ambiguous choice (several weight files, both config kinds).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model '{path}': no such file or directory")
    if path.is_dir():
        directory, config_file, weights = path, None, None
    elif path.suffix in (".yaml", ".yml", ".json"):
        directory, config_file, weights = path.parent, path, None
    else:
        directory, config_file, weights = path.parent, None, path
        if checkpoint is not None:
            raise ValueError(f"model '{path}' is a weight file already; drop checkpoint="
                             f"'{checkpoint}' or pass the directory")
    if config_file is None:
        yaml_config, json_config = directory / SPTOK_CONFIG, directory / OFFICIAL_CONFIG
        if yaml_config.is_file():
            config_file = yaml_config
            if json_config.is_file():
                logger.warning("%s holds both %s and %s; reading it as an sptok experiment",
                               directory, SPTOK_CONFIG, OFFICIAL_CONFIG)
        elif json_config.is_file():
            config_file = json_config
        else:
            raise FileNotFoundError(f"model '{path}': no {SPTOK_CONFIG} (sptok experiment) or "
                                    f"{OFFICIAL_CONFIG} (official release) in {directory}")
    kind = OFFICIAL if config_file.suffix == ".json" else SPTOK
    if weights is None:
        if checkpoint is not None:
            weights = _checkpoint_in(directory, checkpoint)
        elif kind == OFFICIAL:
            weights = _official_weights_in(directory)
        else:
            from sptok.utils.config import load_yaml

            weights = best_weights_file(directory, load_yaml(config_file))
    return ModelFiles(kind, config_file, weights)


def _generator_state(weights: Path) -> Dict[str, torch.Tensor]:
    """Generator weights from a ``*.pth`` state dict or a training ``checkpoint.pt``."""
    from sptok.train.checkpoint import is_training_checkpoint

    try:
        obj = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types on a bad file
        raise ValueError(f"{weights}: cannot read the model weights: {e}") from e
    if is_training_checkpoint(obj):
        prefix = "generator."
        state = {k[len(prefix):]: v for k, v in obj["model"].items() if k.startswith(prefix)}
        if not state:
            raise ValueError(f"{weights}: the training checkpoint holds no 'generator.*' weights")
        return state
    if isinstance(obj, Mapping) and obj and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        return dict(obj)
    raise ValueError(f"{weights}: neither generator weights (a state dict) nor a training "
                     f"{TRAINING_CHECKPOINT}")


def _inference_config(config: Mapping[str, Any], state: Mapping[str, torch.Tensor]
                      ) -> Dict[str, Any]:
    """``config`` with a teacher that need not be loaded to build the generator.

    Only the semantic head's size depends on the teacher; an online teacher would load HuBERT
    to learn it. The head's weight in the checkpoint gives it, so an offline teacher of that
    feature dimension stands in (the teacher plays no part in inference).
    """
    teacher = config.get("teacher")
    head = state.get("semantic_head.weight")
    if head is None or teacher in (None, "none", "offline"):
        return dict(config)
    return dict(config, teacher="offline", teacher_conf={"feature_dim": int(head.shape[0])})


def _load_sptok(files: ModelFiles) -> SpeechTokenizerModel:
    from sptok.tasks import load_config

    task, config = load_config(files.config)
    state = _generator_state(files.weights)
    config = _inference_config(config, state)
    build = getattr(task, "build_generator", None)
    if build is not None:
        generator = build(config)
    else:
        generator = getattr(task.build_model(config), "generator", None)
    if not isinstance(generator, SpeechTokenizerModel):
        raise ValueError(f"{files.config}: task '{config['task']}' builds a "
                         f"{type(generator).__name__}, not a SpeechTokenizerModel")
    try:
        generator.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{files.weights} does not fit the model of {files.config}: {e}") from e
    return generator.eval()


def load_generator(files: ModelFiles) -> SpeechTokenizerModel:
    """The generator in eval mode on CPU, weights loaded strictly (weight norm not folded)."""
    if files.kind == OFFICIAL:
        try:
            return SpeechTokenizerModel.from_official(files.config, files.weights)
        except (KeyError, RuntimeError) as e:
            raise ValueError(f"{files.weights} / {files.config}: not a loadable official "
                             f"SpeechTokenizer release: {type(e).__name__}: {e}") from e
    if files.kind == SPTOK:
        return _load_sptok(files)
    raise ValueError(f"unknown model kind {files.kind!r} (expected '{SPTOK}' or '{OFFICIAL}')")
