import sys

import pytest

from sptok.utils.official_package import load_official_module, official_speechtokenizer_class


def test_loads_model_without_touching_public_name():
    before = "speechtokenizer" in sys.modules
    try:
        cls = official_speechtokenizer_class()
    except ImportError as e:
        pytest.skip(str(e))
    assert cls.__name__ == "SpeechTokenizer"
    assert hasattr(load_official_module("quantization"), "ResidualVectorQuantizer")
    assert ("speechtokenizer" in sys.modules) == before


def test_missing_package_names_install_command(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "speechtokenizer" else real(name, *a))
    with pytest.raises(ImportError, match="pip install --no-deps speechtokenizer"):
        load_official_module("model")
