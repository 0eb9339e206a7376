"""Load a wav2vec2-family encoder (HuBERT, wav2vec 2.0) from a local checkpoint of any of three
formats, detected from the path, into a torchaudio ``Wav2Vec2Model``:

* ``hf``: a Hugging Face directory (``config.json`` + ``model.safetensors`` / ``pytorch_model.bin``),
  or the path of its ``config.json``;
* ``fairseq``: a ``.pt`` file holding ``'model'`` and ``'cfg'`` (or the older ``'args'``), e.g.
  ``hubert_base_ls960.pt``;
* ``torchaudio``: our own file ``{'format': 'torchaudio', 'params': <wav2vec2_model kwargs>,
  'state_dict': ..., 'normalize_waveform': bool}``.

Nothing is downloaded: paths must be local.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Dict, Mapping, Union

import torch
from torchaudio.models import Wav2Vec2Model

from sptok.teachers import fairseq_format, hf_format
from sptok.teachers.wav2vec2_params import Params, build_model, normalize_params, params_to_json
from sptok.utils.fileio import atomic_path

FORMATS = ("hf", "fairseq", "torchaudio")
TORCHAUDIO_FORMAT_TAG = "torchaudio"

PathLike = Union[str, os.PathLike]


@dataclasses.dataclass
class LoadedEncoder:
    """A loaded encoder and what a feature extractor needs to know about it.

    Attributes:
        model: torchaudio ``Wav2Vec2Model`` in eval mode, on CPU.
        params: its ``wav2vec2_model`` kwargs.
        normalize_waveform: whether the model expects each waveform normalised to zero mean and
            unit variance (HF ``do_normalize``, fairseq ``task.normalize``).
        format: the detected checkpoint format.
        path: the checkpoint path.
    """

    model: Wav2Vec2Model
    params: Params
    normalize_waveform: bool
    format: str
    path: str


def detect_format(path: PathLike) -> str:
    """``"hf"``, ``"fairseq"`` or ``"torchaudio"`` for the checkpoint at ``path``.

    A directory (or a ``config.json`` file) is a HF checkpoint; a file is opened and classified by
    its top-level keys.

    Raises:
        ValueError: the path does not exist, or its content matches no format (the message names
            the path and what was found).
    """
    path = Path(path)
    if path.is_dir():
        if not (path / hf_format.CONFIG_NAME).is_file():
            raise ValueError(f"{path}: a directory but not a Hugging Face checkpoint "
                             f"({hf_format.CONFIG_NAME} missing)")
        return "hf"
    if not path.is_file():
        raise ValueError(f"{path}: checkpoint not found")
    if path.name == hf_format.CONFIG_NAME:
        return "hf"
    return _classify(_load_file(path), path)


def _load_file(path: Path) -> Any:
    if path.suffix in (".safetensors", ".json"):
        raise ValueError(f"{path}: give the Hugging Face checkpoint directory, not one of its files")
    try:
        return fairseq_format.load_pickled_checkpoint(path)
    except ValueError:
        raise
    except Exception as exc:  # torch.load raises many types on non-checkpoint files
        raise ValueError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})") from exc


def _classify(ckpt: Any, path: Path) -> str:
    if not isinstance(ckpt, Mapping):
        raise ValueError(f"{path}: unrecognised checkpoint: a {type(ckpt).__name__}, not a dict")
    if ckpt.get("format") == TORCHAUDIO_FORMAT_TAG:
        return "torchaudio"
    if "model" in ckpt and (ckpt.get("cfg") is not None or ckpt.get("args") is not None):
        return "fairseq"
    keys = sorted(str(k) for k in ckpt)[:10]
    raise ValueError(f"{path}: unrecognised checkpoint format: top-level keys {keys}; expected "
                     f"fairseq ('model' + 'cfg'/'args'), ours ('format': 'torchaudio', 'params', "
                     f"'state_dict') or a Hugging Face directory")


def _read_torchaudio(ckpt: Mapping[str, Any], where: str):
    missing = [k for k in ("params", "state_dict") if k not in ckpt]
    if missing:
        raise ValueError(f"{where}: torchaudio-format checkpoint lacks {missing}")
    return (normalize_params(ckpt["params"], where), dict(ckpt["state_dict"]),
            bool(ckpt.get("normalize_waveform", False)))


def _instantiate(params: Params, state: Dict[str, torch.Tensor], where: str) -> Wav2Vec2Model:
    model = build_model(params)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(f"{where}: weights do not fit the configured architecture: missing "
                         f"{result.missing_keys[:8]}, unexpected {result.unexpected_keys[:8]}")
    return model.eval()


def load_wav2vec2(path: PathLike, fmt: str = "auto") -> LoadedEncoder:
    """Load the encoder at ``path`` (format ``fmt`` or auto-detected).

    Raises:
        ValueError: unknown format, missing files, unsupported options or weights that do not fit;
            every message names the path.
    """
    path = Path(path)
    if fmt not in ("auto",) + FORMATS:
        raise ValueError(f"unknown checkpoint format {fmt!r} (choose auto, {', '.join(FORMATS)})")
    if path.is_dir() or path.name == hf_format.CONFIG_NAME:
        detected = detect_format(path)
        ckpt = None
    elif path.is_file():
        ckpt = _load_file(path)  # loaded once, for detection and reading
        detected = _classify(ckpt, path)
    else:
        raise ValueError(f"{path}: checkpoint not found")
    if fmt not in ("auto", detected):
        raise ValueError(f"{path}: not a {fmt}-format checkpoint (looks like {detected})")
    fmt = detected
    if fmt == "hf":
        params, state, normalize = hf_format.read_hf_dir(path.parent if path.is_file() else path)
    elif fmt == "fairseq":
        params, state, normalize = fairseq_format.read_fairseq_checkpoint(ckpt, str(path))
    else:
        params, state, normalize = _read_torchaudio(ckpt, str(path))
    model = _instantiate(params, state, str(path))
    return LoadedEncoder(model=model, params=params, normalize_waveform=normalize, format=fmt, path=str(path))


def save_wav2vec2(model: Wav2Vec2Model, params: Params, path: PathLike, fmt: str = "torchaudio",
                  normalize_waveform: bool = False) -> None:
    """Save ``model`` (a torchaudio ``Wav2Vec2Model`` built from ``params``) in format ``fmt``:
    a file for ``torchaudio`` / ``fairseq``, a directory for ``hf``. Written atomically."""
    params = normalize_params(params)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items() if not k.startswith("aux.")}
    if fmt == "hf":
        hf_format.write_hf_dir(Path(path), params, state, do_normalize=normalize_waveform)
    elif fmt == "fairseq":
        fairseq_format.write_fairseq_checkpoint(Path(path), params, state, normalize=normalize_waveform)
    elif fmt == "torchaudio":
        ckpt = {"format": TORCHAUDIO_FORMAT_TAG, "params": params_to_json(params), "state_dict": state,
                "normalize_waveform": bool(normalize_waveform)}
        with atomic_path(path) as tmp:
            torch.save(ckpt, tmp)
    else:
        raise ValueError(f"unknown checkpoint format {fmt!r} (choose {', '.join(FORMATS)})")
