import pytest

from sptok.corpus import voices
from sptok.corpus.voices import (BASE_VOICES, MissingEngineError, available_base_voices,
                                 check_voices, default_speakers)


def test_at_least_8_distinct_base_voices_work_here():
    available = available_base_voices()
    assert len({v.timbre for v in available}) >= 8, [v.id for v in available]
    assert {v.engine for v in available} == {"flite", "festival", "espeak-ng"}


def test_default_speakers():
    speakers = default_speakers()
    ids = [s.id for s in speakers]
    assert len(speakers) >= 24
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    assert all(len(i) == 6 for i in ids)  # equal length: sorting keeps each speaker together
    assert not any(s.base.non_free for s in speakers)
    assert len({(s.base.id, s.pitch_cents, s.tempo) for s in speakers}) == len(speakers)
    assert all(-300 <= s.pitch_cents <= 300 and 0.9 <= s.tempo <= 1.1 for s in speakers)


def test_unseen_speakers_include_a_whole_unseen_voice():
    speakers = default_speakers()
    train_timbres = {s.base.timbre for s in speakers if not s.unseen}
    unseen = [s for s in speakers if s.unseen]
    assert len(unseen) >= 4
    assert {s.base.timbre for s in unseen} - train_timbres  # e.g. flite rms
    assert len(train_timbres) >= 8


def test_mbrola_speakers_only_on_request():
    with_mbrola = default_speakers(mbrola=True)
    assert len(with_mbrola) > len(default_speakers())
    assert any(s.base.non_free for s in with_mbrola)


def test_missing_mbrola_is_a_clear_error():
    if all(voices.voice_problem(v) is None for v in BASE_VOICES if v.non_free):
        pytest.skip("mbrola voices are installed here")
    with pytest.raises(MissingEngineError, match="mbrola.*--mbrola false"):
        check_voices(default_speakers(mbrola=True))


@pytest.mark.parametrize("missing, engine_ids", [
    (("text2wave", "festival"), {"fekal", "feked", "feslt"}),
    (("flite",), {"flkal", "flawb", "flrms", "flslt"}),
    (("espeak-ng",), {"esmal", "esfem", "esgma", "eskla"}),
])
def test_missing_engine_names_program_and_package(monkeypatch, path_without, missing, engine_ids):
    monkeypatch.setenv("PATH", path_without(*missing))
    with pytest.raises(MissingEngineError) as err:
        check_voices(default_speakers())
    message = str(err.value)
    for vid in engine_ids:
        assert f"{vid}:" in message
    assert f"'{missing[0]}' not found on PATH" in message
    assert "install the Debian package" in message


def test_missing_sox_is_an_error(monkeypatch, path_without):
    monkeypatch.setenv("PATH", path_without("sox"))
    with pytest.raises(MissingEngineError, match="'sox' not found"):
        check_voices(default_speakers()[:1])


def test_missing_festival_voice_is_detected(monkeypatch):
    fake = voices.BaseVoice("fexxx", "festival", "voice_no_such_voice", "x", "festvox-none", 1.0)
    assert "festvox-none" in voices.voice_problem(fake)
    fake_flite = voices.BaseVoice("flxxx", "flite", "nosuchvoice", "x", "flite", 1.0)
    assert "nosuchvoice" in voices.voice_problem(fake_flite)
