"""sptok: speech tokenizers for speech language models (SpeechTokenizer, SLMTokBench, USLM).

``from sptok import SpeechTokenizer`` gives the inference API
(:class:`sptok.inference.SpeechTokenizer`); it is imported on first access, so ``import sptok``
alone does not load torch.
"""
from typing import Any, List

from sptok.version import __version__

__all__ = ["__version__", "SpeechTokenizer"]

# Public name -> module that defines it, imported on first access (PEP 562).
_LAZY = {"SpeechTokenizer": "sptok.inference.speechtokenizer"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'sptok' has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))
