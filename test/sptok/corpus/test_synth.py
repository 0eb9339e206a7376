import hashlib

import pytest
import soundfile as sf

from sptok.corpus.synth import SynthesisError, sox_command, synthesis_key, synthesize
from sptok.corpus.voices import BaseVoice, Speaker, base_voice, default_speakers

PROMPT = "The gentle pilot measured the noisy boy's toy, as usual."


@pytest.mark.parametrize("voice_id", ["flawb", "feked", "esfem"])
def test_each_engine_gives_16k_mono_16bit(tmp_path, voice_id):
    speaker = Speaker(voice_id + "1", base_voice(voice_id), 200, 1.05, -2.0)
    out = tmp_path / "a.wav"
    n = synthesize(speaker, PROMPT, out)
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert info.frames == n and 2.0 < n / 16000 < 8.0
    audio, _ = sf.read(str(out))
    assert abs(abs(audio).max() - 10 ** (-2.0 / 20)) < 0.01  # peak level as asked
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]  # no temporary left behind


def test_same_input_same_bytes(tmp_path):
    speaker = default_speakers()[0]
    synthesize(speaker, PROMPT, tmp_path / "a.wav")
    synthesize(speaker, PROMPT, tmp_path / "b.wav")
    digest = [hashlib.md5((tmp_path / f).read_bytes()).hexdigest() for f in ("a.wav", "b.wav")]
    assert digest[0] == digest[1]


def test_shift_changes_audio_and_key(tmp_path):
    base = base_voice("flslt")
    plain, shifted = Speaker("flslt0", base, 0, 1.0, -1.0), Speaker("flslt1", base, -300, 1.0, -1.0)
    assert "pitch" not in sox_command(plain, tmp_path / "i.wav", tmp_path / "o.wav", 16000)
    assert "pitch" in sox_command(shifted, tmp_path / "i.wav", tmp_path / "o.wav", 16000)
    assert synthesis_key(plain, PROMPT, 16000) != synthesis_key(shifted, PROMPT, 16000)
    assert synthesis_key(plain, PROMPT, 16000) != synthesis_key(plain, PROMPT + " ", 16000)


def test_engine_failure_is_reported_and_leaves_nothing(tmp_path):
    bad = Speaker("fexxx0", BaseVoice("fexxx", "festival", "voice_nonexistent", "x", "none", 1.0),
                  0, 1.0, -1.0)
    with pytest.raises(SynthesisError, match="fexxx0"):
        synthesize(bad, PROMPT, tmp_path / "x.wav")
    assert list(tmp_path.iterdir()) == []
