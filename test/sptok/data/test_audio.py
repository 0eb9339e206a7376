"""Audio loading from wav.scp values: files, pipes, segments, resampling, and every bad input."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from sptok.data.audio import (is_pipe, load_audio, read_audio, resample, save_audio,
                              segment_to_samples)
from sptok.data.errors import DataError

needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")


def test_is_pipe():
    assert is_pipe("sox a.wav -t wav - |")
    assert is_pipe("cat a.wav|  ")
    assert not is_pipe("/data/a.wav")


def test_load_file_keeps_rate_and_values(write_wav, tone):
    path = write_wav("a.wav", seconds=0.5, sample_rate=16000)
    wav = load_audio(str(path), 16000)
    assert wav.dtype == np.float32 and wav.shape == (8000,)
    np.testing.assert_allclose(wav, tone(0.5, 16000), atol=1 / 32768 + 1e-6)


@pytest.mark.parametrize("orig_sr,channels", [(8000, 1), (44100, 2)])
def test_resample_and_mix_to_mono(write_wav, orig_sr, channels):
    path = write_wav(f"in{orig_sr}.wav", seconds=0.5, sample_rate=orig_sr, channels=channels)
    wav = load_audio(str(path), 16000)
    assert wav.ndim == 1 and wav.dtype == np.float32
    assert wav.shape[0] == 8000
    # Channels are 0.5 and 1.0 times the tone: the mono mix is 0.75 times, the amplitude survives
    # resampling (440 Hz is far below both Nyquist rates).
    expected_peak = 0.3 * (0.75 if channels == 2 else 1.0)
    assert abs(np.abs(wav[1000:7000]).max() - expected_peak) < 0.02


def test_resample_length_is_ceil():
    out = resample(np.zeros(443, dtype=np.float32), 44100, 16000)
    assert out.shape == (161,)  # ceil(443 * 16000 / 44100) = ceil(160.73)
    assert resample(np.ones(10, dtype=np.float32), 16000, 16000).shape == (10,)
    with pytest.raises(ValueError, match="positive"):
        resample(np.ones(10, dtype=np.float32), 0, 16000)


def test_segment_cut_before_resampling(write_wav):
    path = write_wav("long.wav", seconds=2.0, sample_rate=8000)
    wav = load_audio(str(path), 16000, segment=(0.5, 1.25))
    assert wav.shape == (12000,)


def test_segment_bounds():
    assert segment_to_samples(0.5, 1.0, 16000, 16000) == (8000, 16000)
    assert segment_to_samples(0.5, 1.3, 16000, 16000) == (8000, 16000)  # overshoot cut
    with pytest.raises(DataError, match=r"segs: key 'u1': segment ends at 2.0 s"):
        segment_to_samples(0.5, 2.0, 16000, 16000, key="u1", path="segs")
    with pytest.raises(DataError, match=r"key 'u1': segment starts at 1.0 s"):
        segment_to_samples(1.0, 1.2, 16000, 16000, key="u1", path="segs")
    with pytest.raises(DataError, match="0 <= start < end"):
        segment_to_samples(0.7, 0.5, 16000, 16000, key="u1", path="segs")


@needs_sox
def test_pipe_input(write_wav):
    path = write_wav("p.wav", seconds=0.5, sample_rate=22050, channels=2)
    wav = load_audio(f"sox {path} -t wav - |", 16000, key="u1", scp="wav.scp")
    assert wav.shape == (8000,)
    # Through two pipe stages as well.
    wav2 = load_audio(f"cat {path} | sox -t wav - -t wav - |", 16000)
    np.testing.assert_array_equal(wav, wav2)


def test_failing_pipe_names_key_scp_and_stderr(tmp_path):
    with pytest.raises(DataError) as err:
        load_audio(f"sox {tmp_path}/missing.wav -t wav - |", 16000, key="utt7",
                   scp="data/wav.scp")
    message = str(err.value)
    assert message.startswith("data/wav.scp: key 'utt7': pipe command failed with exit status")
    assert "missing.wav" in message and "stderr:" in message


def test_failing_first_stage_of_pipeline_is_caught(write_wav):
    # `false | cat` exits 0 in plain sh; pipefail makes the failure visible.
    with pytest.raises(DataError, match="exit status 1"):
        load_audio("false | cat |", 16000, key="u", scp="wav.scp")


def test_pipe_without_output():
    with pytest.raises(DataError, match=r"wav.scp: key 'u': pipe command wrote no audio"):
        load_audio("true |", 16000, key="u", scp="wav.scp")


def test_missing_file(tmp_path):
    with pytest.raises(DataError) as err:
        load_audio(str(tmp_path / "nope.wav"), 16000, key="u1", scp="d/wav.scp")
    assert str(err.value) == f"d/wav.scp: key 'u1': audio file '{tmp_path}/nope.wav' not found"


def test_error_names_audio_file_without_scp(tmp_path):
    with pytest.raises(DataError, match=rf"^{tmp_path}/nope.wav: key 'u1': .* not found"):
        load_audio(str(tmp_path / "nope.wav"), 16000, key="u1")


def test_directory_is_not_audio(tmp_path):
    with pytest.raises(DataError, match=r"key 'u1': audio file .* is not a regular file"):
        read_audio(str(tmp_path), key="u1", scp="wav.scp")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(write_wav):
    path = write_wav("locked.wav")
    path.chmod(0)
    try:
        with pytest.raises(DataError, match=r"key 'u1': .* not readable"):
            read_audio(str(path), key="u1", scp="wav.scp")
    finally:
        path.chmod(0o644)


def test_corrupt_audio(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 4)
    with pytest.raises(DataError, match=rf"wav.scp: key 'u1': cannot decode audio file '{bad}'"):
        read_audio(str(bad), key="u1", scp="wav.scp")


def test_zero_byte_file(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.touch()
    with pytest.raises(DataError, match=r"key 'u1': audio file .* is empty \(0 bytes\)"):
        read_audio(str(empty), key="u1", scp="wav.scp")


def test_audio_without_samples(tmp_path):
    path = tmp_path / "nosamples.wav"
    sf.write(str(path), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(DataError, match=r"key 'u1': audio file .* has no samples"):
        read_audio(str(path), key="u1", scp="wav.scp")


def test_non_finite_samples(tmp_path):
    path = tmp_path / "nan.wav"
    wav = np.zeros(100, dtype=np.float32)
    wav[42] = np.nan
    sf.write(str(path), wav, 16000, subtype="FLOAT")
    with pytest.raises(DataError, match=r"key 'u1': .* non-finite samples .* first at sample 42"):
        load_audio(str(path), 16000, key="u1", scp="wav.scp")


def test_save_audio_round_trip_and_clipping(tmp_path):
    path = tmp_path / "out" / "x.flac"
    wav = np.array([0.0, 0.5, -0.5, 1.7, -3.0], dtype=np.float32)
    save_audio(path, wav, 16000)
    back, sr = sf.read(str(path), dtype="float32")
    assert sr == 16000 and sf.info(str(path)).subtype == "PCM_16"
    np.testing.assert_allclose(back, np.clip(wav, -1, 1), atol=1 / 32768 + 1e-6)
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.flac"]


def test_save_audio_refuses_bad_input_and_leaves_nothing(tmp_path):
    path = tmp_path / "y.wav"
    with pytest.raises(ValueError, match="non-finite"):
        save_audio(path, np.array([0.0, np.inf], dtype=np.float32), 16000)
    with pytest.raises(ValueError, match="non-empty"):
        save_audio(path, np.zeros(0, dtype=np.float32), 16000)
    assert list(tmp_path.iterdir()) == []


def test_save_audio_failure_keeps_old_file(tmp_path):
    path = tmp_path / "z.wav"
    save_audio(path, np.full(10, 0.25, dtype=np.float32), 16000)
    with pytest.raises(Exception):
        save_audio(path, np.full(10, 0.5, dtype=np.float32), 16000, subtype="NOT_A_SUBTYPE")
    back, _ = sf.read(str(path), dtype="float32")
    np.testing.assert_allclose(back, 0.25, atol=1e-4)
    assert [p.name for p in tmp_path.iterdir()] == ["z.wav"]
