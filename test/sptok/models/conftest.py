"""Tiny SpeechTokenizer models for the model tests."""
from __future__ import annotations

from typing import Optional

import pytest
import torch

from sptok.models import SpeechTokenizerModel
from sptok.modules import SEANetDecoder, SEANetEncoder, SemanticHead
from sptok.quantization import ResidualVQ

TEACHER_DIM = 6


def _tiny_generator(semantic_dim: Optional[int] = TEACHER_DIM, n_q: int = 3, codebook_size: int = 4,
                   dimension: int = 8, quantizer_dropout: float = 0.0) -> SpeechTokenizerModel:
    """4 filters, latent 8, hop 320 (strides 2, 4, 5, 8), one BiLSTM layer, 3 x 4 codes."""
    encoder = SEANetEncoder(dimension=dimension, n_filters=2, strides=(2, 4, 5, 8), lstm_layers=1)
    decoder = SEANetDecoder(dimension=dimension, n_filters=2, strides=(8, 5, 4, 2), lstm_layers=1)
    quantizer = ResidualVQ(dimension=dimension, n_q=n_q, codebook_size=codebook_size,
                           kmeans_iters=2, quantizer_dropout=quantizer_dropout)
    head = SemanticHead(dimension, semantic_dim) if semantic_dim else None
    return SpeechTokenizerModel(encoder, quantizer, decoder, head)


def _warm_up(model: SpeechTokenizerModel, seed: int = 0) -> SpeechTokenizerModel:
    """One training forward (k-means initialises the codebooks), then eval mode."""
    torch.manual_seed(seed)
    model.train()
    with torch.no_grad():
        model(0.1 * torch.randn(2, 1, 3200))
    return model.eval()


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny models run fastest on one thread, above all on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_generator():
    """Factory of tiny generators (keyword arguments as ``_tiny_generator``)."""
    return _tiny_generator


@pytest.fixture
def warm_up():
    return _warm_up


@pytest.fixture
def generator() -> SpeechTokenizerModel:
    """A tiny generator with initialised codebooks, in eval mode (teacher dim 6)."""
    torch.manual_seed(0)
    return _warm_up(_tiny_generator())
