"""AudioScorer and the corpus summaries, with stand-in ASR and speaker models."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sptok.eval.asr.base import AbsASR
from sptok.eval.scoring import AudioScorer, UttInput, markdown_table, parse_metrics, summarize
from sptok.eval.speaker.base import AbsSpeakerEmbedder


class _ScriptedASR(AbsASR):
    """Returns the transcript registered for a waveform's length."""

    def __init__(self, by_length):
        self.by_length = by_length

    def recognize(self, wavs):
        return [self.by_length[w.shape[0]] for w in wavs]


class _CountingEmbedder(AbsSpeakerEmbedder):
    """Embeds by mean and peak; counts the waveforms it saw."""

    def __init__(self):
        self.seen = 0

    def embed_waveforms(self, wavs):
        self.seen += len(wavs)
        return np.array([[float(w.mean()), float(np.abs(w).max())] for w in wavs])


def test_parse_metrics():
    assert parse_metrics("pesq, wer,stoi") == ["wer", "stoi", "pesq"]
    with pytest.raises(ValueError, match="unknown metric.*bleu"):
        parse_metrics("wer,bleu")
    with pytest.raises(ValueError, match="no metric"):
        parse_metrics(" , ")


def test_missing_models_are_named():
    with pytest.raises(ValueError, match="--asr"):
        AudioScorer(["wer"])
    with pytest.raises(ValueError, match="--spk_model"):
        AudioScorer(["spk_sim"])


def test_error_rates_per_utterance_and_corpus():
    asr = _ScriptedASR({100: "The 3 cats.", 200: "a dog sat"})
    scorer = AudioScorer(["wer", "cer"], asr=asr)
    rows = scorer.score([UttInput("u1", np.zeros(100, np.float32), text="THE THREE CATS"),
                         UttInput("u2", np.zeros(200, np.float32), text="THE DOG SAT DOWN")])
    assert rows[0]["wer"] == 0.0 and rows[0]["asr_raw"] == "The 3 cats."
    assert rows[0]["asr_text"] == "the three cats"
    assert rows[1]["wer"] == 50.0 and rows[1]["wer_sub"] == 1 and rows[1]["wer_del"] == 1
    summary = summarize(rows, ["wer", "cer"])
    assert summary["wer"]["value"] == pytest.approx(100 * 2 / 7, abs=1e-6)
    assert summary["wer"]["errors"] == 2 and summary["wer"]["ref_len"] == 7
    assert summary["cer"]["ref_len"] == len("the three cats") + len("the dog sat down")
    with pytest.raises(ValueError, match="key 'u3'.*text"):
        scorer.score([UttInput("u3", np.zeros(100, np.float32))])


def test_without_normalisation_digits_count_as_errors():
    asr = _ScriptedASR({100: "The 3 cats."})
    scorer = AudioScorer(["wer"], asr=asr, normalize=False)
    rows = scorer.score([UttInput("u1", np.zeros(100, np.float32), text="THE THREE CATS.")])
    assert rows[0]["wer"] == pytest.approx(100 / 3)  # "3" vs "three"; lower case only


def test_shared_prompts_are_embedded_once():
    speaker = _CountingEmbedder()
    scorer = AudioScorer(["spk_sim"], speaker=speaker)
    prompt = np.linspace(0.1, 0.5, 400, dtype=np.float32)
    batch = [UttInput(f"u{i}", np.linspace(0.1, 0.5 + i, 400, dtype=np.float32),
                      spk_ref=prompt, spk_ref_id="prompt.wav") for i in range(3)]
    rows = scorer.score(batch)
    assert speaker.seen == 3 + 1
    rows += scorer.score([UttInput("u9", prompt.copy(), spk_ref=prompt, spk_ref_id="prompt.wav")])
    assert speaker.seen == 5  # the prompt came from the cache
    assert rows[-1]["spk_sim"] == pytest.approx(1.0)
    assert all(r["spk_sim"] < 1.0 for r in rows[1:3])


def test_speaker_reference_defaults_to_the_reference_audio():
    scorer = AudioScorer(["spk_sim"], speaker=_CountingEmbedder())
    wav = np.linspace(0.1, 0.5, 400, dtype=np.float32)
    assert scorer.score([UttInput("u", wav, ref=wav.copy())])[0]["spk_sim"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="key 'v'.*spk_sim"):
        scorer.score([UttInput("v", wav)])


def test_signal_metrics_and_nan_summary():
    rng = np.random.default_rng(0)
    ref = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    scorer = AudioScorer(["mel"])
    rows = scorer.score([UttInput("a", ref, ref=ref), UttInput("b", ref * 0.5, ref=ref)])
    assert rows[0]["mel"] == 0.0 and rows[1]["mel"] == pytest.approx(math.log(2), rel=1e-3)
    rows.append({"key": "c", "mel": math.nan})
    summary = summarize(rows, ["mel"])
    assert summary["mel"]["n_utt"] == 2 and summary["mel"]["n_nan"] == 1
    assert summary["mel"]["value"] == pytest.approx(math.log(2) / 2, rel=1e-3)
    with pytest.raises(ValueError, match="key 'x'.*ref"):
        scorer.score([UttInput("x", ref)])


def test_markdown_table():
    summary = {"pesq": {"value": 3.14159}, "wer": {"value": 4.5}}
    table = markdown_table("codec", summary, 300).splitlines()
    assert table[0] == "| tag | utts | WER (%) | PESQ |"
    assert table[2] == "| codec | 300 | 4.50 | 3.142 |"
