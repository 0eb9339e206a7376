"""PocketSphinx with the en-us models its wheel ships."""
from __future__ import annotations

import pytest

from sptok.eval.asr import asr_choices
from sptok.eval.error_rate import ErrorCounts, word_errors
from sptok.eval.text_norm import normalize_text

pytest.importorskip("pocketsphinx")


@pytest.fixture(scope="module")
def sphinx():
    return asr_choices.build("pocketsphinx", {}, device="cpu")


def test_transcribes_flite_speech(sphinx, synth, load_wav, references):
    hyps = sphinx.transcribe([(sid, load_wav(synth("slt", sid)), 16000) for sid in references])
    total = ErrorCounts(0)
    for sid, ref in references.items():
        total = total + word_errors(normalize_text(ref), normalize_text(hyps[sid]))
    assert total.rate < 60.0


def test_transcript_does_not_depend_on_decoding_order(sphinx, synth, load_wav):
    target = ("t", load_wav(synth("slt", "s1")), 16000)
    alone = sphinx.transcribe([target])["t"]
    after_others = sphinx.transcribe([("x", load_wav(synth("awb", "s3")), 16000), target])["t"]
    assert alone == after_others and alone


def test_cpu_only():
    with pytest.raises(ValueError, match="CPU only"):
        asr_choices.build("pocketsphinx", {}, device="cuda")
