"""Tiny USLM models and batches for the tests (CPU, milliseconds per forward).

Tests get the factories through the ``tiny`` fixture (test modules cannot import conftest in
pytest's importlib mode).
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from sptok.uslm import USLMARModel, USLMNARModel

NUM_PHONEMES = 11
CODEBOOK_SIZE = 6
N_Q = 3


def tiny_ar(seed: int = 0, **overrides) -> USLMARModel:
    torch.manual_seed(seed)
    conf = dict(num_phonemes=NUM_PHONEMES, codebook_size=CODEBOOK_SIZE, d_model=32,
                num_heads=4, num_layers=2, ffn_dim=64, dropout=0.0)
    conf.update(overrides)
    return USLMARModel(**conf).eval()


def tiny_nar(seed: int = 0, **overrides) -> USLMNARModel:
    torch.manual_seed(seed)
    conf = dict(num_phonemes=NUM_PHONEMES, codebook_size=CODEBOOK_SIZE, n_q=N_Q, d_model=32,
                num_heads=4, num_layers=2, ffn_dim=64, dropout=0.0)
    conf.update(overrides)
    return USLMNARModel(**conf).eval()


def random_batch(lengths_text=(7, 4, 2), lengths_codes=(12, 9, 5), seed: int = 1) -> dict:
    generator = torch.Generator().manual_seed(seed)
    batch = len(lengths_text)
    phonemes = torch.randint(0, NUM_PHONEMES, (batch, max(lengths_text)), generator=generator)
    codes = torch.randint(0, CODEBOOK_SIZE, (batch, N_Q, max(lengths_codes)),
                          generator=generator)
    return {"phonemes": phonemes, "phoneme_lengths": torch.tensor(lengths_text),
            "codes": codes, "code_lengths": torch.tensor(lengths_codes)}


@pytest.fixture
def tiny() -> SimpleNamespace:
    return SimpleNamespace(ar=tiny_ar, nar=tiny_nar, batch=random_batch,
                           num_phonemes=NUM_PHONEMES, codebook_size=CODEBOOK_SIZE, n_q=N_Q)


@pytest.fixture
def batch() -> dict:
    return random_batch()


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny models run fastest on one thread, above all on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
