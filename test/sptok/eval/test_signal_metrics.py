"""STOI, ESTOI, wideband PESQ and mel distance: identical, degraded, mismatched lengths, rates."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sptok.eval.signal_metrics import (SIGNAL_METRICS, estoi, mel_distance, pesq_wb, stoi,
                                       trim_to_shorter)
from sptok.data.audio import resample

pytest.importorskip("pystoi")
pytest.importorskip("pesq")


@pytest.fixture(scope="module")
def speech(synth, load_wav):
    return load_wav(synth("slt", "s1"))


@pytest.fixture(scope="module")
def noisy(speech):
    rng = np.random.default_rng(0)
    return (speech + 0.05 * rng.standard_normal(speech.shape[0])).astype(np.float32)


def test_identical_audio_scores_perfect(speech):
    assert stoi(speech, speech, 16000) == pytest.approx(1.0, abs=1e-6)
    assert estoi(speech, speech, 16000) == pytest.approx(1.0, abs=1e-6)
    assert pesq_wb(speech, speech, 16000) > 4.5
    assert mel_distance(speech, speech, 16000) == 0.0


def test_noise_lowers_every_metric(speech, noisy):
    assert stoi(speech, noisy, 16000) < 0.95
    assert estoi(speech, noisy, 16000) < 0.9
    assert pesq_wb(speech, noisy, 16000) < 2.0
    assert mel_distance(speech, noisy, 16000) > 0.5


def test_length_mismatch_is_trimmed(speech):
    longer = np.concatenate([speech, np.full(300, 0.1, np.float32)])
    assert stoi(speech, longer, 16000) == pytest.approx(1.0, abs=1e-6)
    assert mel_distance(longer, speech, 16000) == 0.0
    assert pesq_wb(speech[:-200], speech, 16000) > 4.5
    ref, hyp = trim_to_shorter(np.zeros(5), np.zeros(3))
    assert ref.shape == hyp.shape == (3,)


def test_other_sample_rates_are_resampled(speech, noisy):
    speech24, noisy24 = resample(speech, 16000, 24000), resample(noisy, 16000, 24000)
    assert pesq_wb(speech24, speech24, 24000) > 4.5
    assert pesq_wb(speech24, noisy24, 24000) == pytest.approx(pesq_wb(speech, noisy, 16000),
                                                              abs=0.3)
    assert mel_distance(speech24, noisy24, 24000) == pytest.approx(
        mel_distance(speech, noisy, 16000), rel=0.1)
    assert stoi(speech24, speech24, 24000) == pytest.approx(1.0, abs=1e-6)


def test_pesq_without_speech_is_nan():
    silence = np.zeros(16000, np.float32)
    assert math.isnan(pesq_wb(silence, silence, 16000))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="mono"):
        stoi(np.zeros((2, 100)), np.zeros(100), 16000)
    with pytest.raises(ValueError, match="empty"):
        mel_distance(np.zeros(0), np.zeros(100), 16000)
    with pytest.raises(ValueError, match="too few"):
        mel_distance(np.zeros(100), np.zeros(100), 16000)


def test_registry_names():
    assert set(SIGNAL_METRICS) == {"stoi", "estoi", "pesq", "mel"}
