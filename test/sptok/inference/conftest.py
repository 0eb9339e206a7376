"""Fixtures of the inference tests; the helpers live in tiny_codecs.py (importable by tests)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import tiny_codecs  # noqa: E402


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny models run fastest on one thread, above all on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def exp_dir(tmp_path) -> Path:
    return tiny_codecs.make_exp_dir(tmp_path)


@pytest.fixture(scope="session")
def official_class():
    return tiny_codecs.load_official_class()


@pytest.fixture(scope="session")
def official_release(official_class, tmp_path_factory):
    """(release dir with config.json + SpeechTokenizer.pt, the official model)."""
    release = tmp_path_factory.mktemp("release")
    return release, tiny_codecs.make_official_release(official_class, release)
