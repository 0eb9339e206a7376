"""Cosine similarity and normalisation of speaker embeddings."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sptok.eval.speaker.base import AbsSpeakerEmbedder, cosine_similarity, l2_normalize


def test_cosine_similarity():
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([2.0, 0.0])) == pytest.approx(1.0)
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([0.0, 3.0])) == pytest.approx(0.0)
    assert math.isnan(cosine_similarity(np.zeros(2), np.ones(2)))
    assert math.isnan(cosine_similarity(np.full(2, np.nan), np.ones(2)))
    with pytest.raises(ValueError, match="shapes differ"):
        cosine_similarity(np.ones(2), np.ones(3))


def test_l2_normalize_marks_empty_rows():
    out = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out[0], [0.6, 0.8])
    assert np.isnan(out[1]).all()


class _Energy(AbsSpeakerEmbedder):
    """Embeds a waveform as (mean energy, sample count): enough to test the plumbing."""

    sample_rate = 8000

    def embed_waveforms(self, wavs):
        return np.array([[float(np.mean(w ** 2)), float(w.shape[0])] for w in wavs])


def test_embed_resamples_and_normalises():
    emb = _Energy().embed([("a", np.ones(1600, np.float32), 16000)])
    # resampled to 800 samples of about 1: (~1, 800), scaled to unit length
    assert np.linalg.norm(emb["a"]) == pytest.approx(1.0, abs=1e-6)
    assert emb["a"][1] / emb["a"][0] == pytest.approx(800.0, rel=0.05)
