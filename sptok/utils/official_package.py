"""Import the official SpeechTokenizer code (PyPI ``speechtokenizer``) for comparisons only.

Our own loaders read released checkpoints without this package; tests and benchmarks use it to
check that we give the same outputs. Its top-level ``__init__`` imports its trainer (beartype,
accelerate, lion-pytorch ...), which we do not install, so its model code (relative imports only)
is loaded under a private package name. ``sys.modules['speechtokenizer']`` is never touched, so
this cannot interfere with a user's own import of the package.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
import warnings
from types import ModuleType

INSTALL_HINT = "pip install --no-deps speechtokenizer==1.0.1 einops==0.8.2"
_PRIVATE_NAME = "_sptok_official_speechtokenizer"


def load_official_module(submodule: str = "model") -> ModuleType:
    """Return ``speechtokenizer.<submodule>`` (e.g. ``model``, ``quantization``) of the installed
    official package, imported under a private name.

    Raises:
        ImportError: the package (or einops, which its model code needs) is not installed; the
            message gives the install command.
    """
    spec = importlib.util.find_spec("speechtokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the official speechtokenizer package is not installed: {INSTALL_HINT}")
    if importlib.util.find_spec("einops") is None:
        raise ImportError(f"the official speechtokenizer code needs einops: {INSTALL_HINT}")
    if _PRIVATE_NAME not in sys.modules:
        package = types.ModuleType(_PRIVATE_NAME)
        package.__path__ = list(spec.submodule_search_locations)
        package.__package__ = _PRIVATE_NAME
        package.__spec__ = importlib.machinery.ModuleSpec(_PRIVATE_NAME, None, is_package=True)
        package.__spec__.submodule_search_locations = package.__path__
        sys.modules[_PRIVATE_NAME] = package
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its torch.nn.utils.weight_norm is deprecated
        return importlib.import_module(f"{_PRIVATE_NAME}.{submodule}")


def official_speechtokenizer_class() -> type:
    """The official ``SpeechTokenizer`` model class (see :func:`load_official_module`)."""
    return load_official_module("model").SpeechTokenizer
