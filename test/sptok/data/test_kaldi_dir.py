"""Kaldi data directories: reading, validation of every kind of bad input, repair, combination."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import (Segment, combine_data_dirs, fix_data_dir, read_kv_file,
                                  read_segments, read_spk2utt, spk2utt_from_utt2spk,
                                  validate_data_dir, write_kv_file)


def write_lines(path: Path, lines) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def snapshot(d: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


# ---------------------------------------------------------------------------- reading and writing

def test_write_kv_file_sorts_in_c_locale(tmp_path):
    path = tmp_path / "t"
    write_kv_file(path, {"b": "1", "B": "2", "a_1": "3", "a-1": "4", "é": "5"})
    assert [line.split()[0] for line in path.read_text().splitlines()] == \
        ["B", "a-1", "a_1", "b", "é"]


def test_read_segments_and_spk2utt(tmp_path):
    write_lines(tmp_path / "segments", ["u1 rec 0 1.5", "u2 rec 1.5 3"])
    assert read_segments(tmp_path / "segments") == {"u1": Segment("rec", 0.0, 1.5),
                                                    "u2": Segment("rec", 1.5, 3.0)}
    write_lines(tmp_path / "spk2utt", ["A u1 u2", "B u2"])
    with pytest.raises(DataError, match=r"spk2utt:2: key 'B': utterance 'u2' listed twice"):
        read_spk2utt(tmp_path / "spk2utt")


def test_spk2utt_from_utt2spk():
    assert spk2utt_from_utt2spk({"b-2": "b", "a-1": "a", "b-1": "b"}) == \
        {"a": ["a-1"], "b": ["b-1", "b-2"]}


# ---------------------------------------------------------------------------- validation: good dirs

def test_valid_dir_summary(make_data_dir):
    d = make_data_dir()
    summary = validate_data_dir(d)
    assert (summary.num_utts, summary.num_speakers, summary.num_recordings) == (3, 2, 3)
    assert summary.has_text and not summary.has_segments and not summary.audio_checked
    # Duration from utt2num_samples, rate from the first file's header.
    assert summary.sample_rate == 16000
    assert summary.total_seconds == pytest.approx(1.25)
    assert "3 utterances" in str(summary) and "16000 Hz" in str(summary)


def test_valid_dir_with_audio_check(make_data_dir):
    summary = validate_data_dir(make_data_dir(), check_audio=True, fs=16000)
    assert summary.audio_checked and summary.total_seconds == pytest.approx(1.25)


def test_valid_dir_with_segments(make_data_dir):
    d = make_data_dir(with_segments=True)
    summary = validate_data_dir(d, check_audio=True)
    assert (summary.num_utts, summary.num_recordings) == (3, 1)
    assert summary.has_segments and summary.total_seconds == pytest.approx(1.25)
    assert validate_data_dir(d).total_seconds == pytest.approx(1.25)


def test_text_optional(make_data_dir):
    d = make_data_dir()
    (d / "text").unlink()
    with pytest.raises(DataError, match=r"/text: file not found"):
        validate_data_dir(d)
    assert not validate_data_dir(d, require_text=False).has_text


# ---------------------------------------------------------------------------- validation: bad dirs

def test_missing_required_file(make_data_dir):
    d = make_data_dir()
    (d / "utt2spk").unlink()
    with pytest.raises(DataError, match=rf"^{d}/utt2spk: file not found"):
        validate_data_dir(d)


def test_malformed_line(make_data_dir):
    d = make_data_dir()
    write_lines(d / "text", ["A-1 HELLO", "A-2", "B-1 WORLD"])
    with pytest.raises(DataError) as err:
        validate_data_dir(d)
    assert str(err.value) == f"{d}/text:2: key 'A-2': malformed line: a key with no value"


def test_empty_line(make_data_dir):
    d = make_data_dir()
    write_lines(d / "utt2spk", ["A-1 A", "", "A-2 A", "B-1 B"])
    with pytest.raises(DataError, match=rf"{d}/utt2spk:2: empty line"):
        validate_data_dir(d)


def test_duplicate_line(make_data_dir):
    d = make_data_dir()
    write_lines(d / "utt2spk", ["A-1 A", "A-2 A", "A-2 A", "B-1 B"])
    with pytest.raises(DataError, match=rf"{d}/utt2spk:3: key 'A-2': duplicate key"):
        validate_data_dir(d)


def test_unsorted_keys(make_data_dir):
    d = make_data_dir()
    write_lines(d / "text", ["A-2 X", "A-1 Y", "B-1 Z"])
    with pytest.raises(DataError) as err:
        validate_data_dir(d)
    assert str(err.value).startswith(f"{d}/text:2: key 'A-1': keys are not sorted in C locale")


def test_keys_differ_between_files(make_data_dir):
    d = make_data_dir()
    write_lines(d / "text", ["A-1 X", "B-1 Z"])
    with pytest.raises(DataError) as err:
        validate_data_dir(d)
    assert str(err.value).startswith(f"{d}/text: key 'A-2': key is in utt2spk but not in text")


def test_extra_key_in_utt2num_samples(make_data_dir):
    d = make_data_dir()
    write_lines(d / "utt2num_samples", ["A-1 8000", "A-2 4000", "B-1 8000", "C-1 10"])
    with pytest.raises(DataError, match=r"utt2num_samples: key 'C-1': key is in utt2num_samples "
                                        r"but not in utt2spk"):
        validate_data_dir(d)


def test_bad_num_samples(make_data_dir):
    d = make_data_dir()
    write_lines(d / "utt2num_samples", ["A-1 8000", "A-2 -4", "B-1 8000"])
    with pytest.raises(DataError, match=r"utt2num_samples:2: key 'A-2': expected a positive"):
        validate_data_dir(d)


def test_spk2utt_inconsistent(make_data_dir):
    d = make_data_dir()
    write_lines(d / "spk2utt", ["A A-1", "B B-1 A-2"])
    with pytest.raises(DataError) as err:
        validate_data_dir(d)
    message = str(err.value)
    assert "2 problems" in message
    assert f"{d}/spk2utt: key 'A': utterance list differs from utt2spk" in message
    assert f"{d}/spk2utt: key 'B': utterance list differs from utt2spk" in message


def test_every_problem_is_reported(make_data_dir):
    d = make_data_dir()
    write_lines(d / "text", ["B-1 X", "A-1 Y"])
    write_lines(d / "utt2num_samples", ["A-1 8000", "A-2 4000"])
    with pytest.raises(DataError) as err:
        validate_data_dir(d)
    message = str(err.value)
    assert f"{d}/text:2: key 'A-1': keys are not sorted" in message
    assert f"{d}/text: key 'A-2': key is in utt2spk but not in text" in message
    assert f"{d}/utt2num_samples: key 'B-1': key is in utt2spk" in message


@pytest.mark.parametrize("line,expected", [
    ("A-1 rec1 0.5", r"segments:1: key 'A-1': malformed segment"),
    ("A-1 rec1 x 1.0", r"segments:1: key 'A-1': malformed segment .* must be numbers"),
    ("A-1 rec1 1.0 0.5", r"segments:1: key 'A-1': segment times must satisfy 0 <= start < end"),
    ("A-1 rec1 -0.1 0.5", r"segments:1: key 'A-1': segment times must satisfy"),
    ("A-1 recX 0.0 0.5", r"segments:1: key 'A-1': recording 'recX' is not in wav.scp"),
])
def test_bad_segments(make_data_dir, line, expected):
    d = make_data_dir(with_segments=True)
    lines = (d / "segments").read_text().splitlines()
    write_lines(d / "segments", [line] + lines[1:])
    with pytest.raises(DataError, match=expected):
        validate_data_dir(d)


def test_segment_beyond_recording_found_by_audio_check(make_data_dir):
    d = make_data_dir(with_segments=True)
    lines = (d / "segments").read_text().splitlines()
    write_lines(d / "segments", lines[:2] + ["B-1 rec1 1.00 3.00"])
    validate_data_dir(d)  # times alone are fine
    with pytest.raises(DataError, match=r"segments: key 'B-1': segment ends at 3.0 s, more than"):
        validate_data_dir(d, check_audio=True)


# ---------------------------------------------------------------------------- validation: audio

def point_wav(d: Path, utt: str, spec: str) -> None:
    table = read_kv_file(d / "wav.scp")
    table[utt] = spec
    write_kv_file(d / "wav.scp", table)


def test_audio_missing_file(make_data_dir, tmp_path):
    d = make_data_dir()
    point_wav(d, "A-2", str(tmp_path / "gone.wav"))
    validate_data_dir(d)  # not read without check_audio
    with pytest.raises(DataError) as err:
        validate_data_dir(d, check_audio=True)
    assert str(err.value) == (f"{d}/wav.scp: key 'A-2': audio file '{tmp_path}/gone.wav' "
                              "not found")


def test_audio_corrupt_empty_nonfinite_all_reported(make_data_dir, tmp_path):
    d = make_data_dir()
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"not audio at all" * 10)
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, dtype=np.float32), 16000)
    nan = tmp_path / "nan.wav"
    sf.write(str(nan), np.array([0.0, np.inf, 0.0], dtype=np.float32), 16000, subtype="FLOAT")
    point_wav(d, "A-1", str(corrupt))
    point_wav(d, "A-2", str(empty))
    point_wav(d, "B-1", str(nan))
    with pytest.raises(DataError) as err:
        validate_data_dir(d, check_audio=True)
    message = str(err.value)
    assert f"{d}/wav.scp: key 'A-1': cannot decode audio file '{corrupt}'" in message
    assert f"{d}/wav.scp: key 'A-2': audio file '{empty}' has no samples" in message
    assert f"{d}/wav.scp: key 'B-1': audio file '{nan}' holds non-finite samples" in message


def test_audio_failing_pipe(make_data_dir):
    d = make_data_dir()
    point_wav(d, "B-1", "echo broken-decoder >&2; exit 3 |")
    with pytest.raises(DataError, match=rf"{d}/wav.scp: key 'B-1': pipe command failed with exit "
                                        r"status 3: .*stderr: broken-decoder"):
        validate_data_dir(d, check_audio=True)


def test_audio_wrong_rate_and_num_samples(make_data_dir, write_wav):
    d = make_data_dir()
    point_wav(d, "B-1", str(write_wav("b8k.wav", seconds=0.5, sample_rate=8000)))
    with pytest.raises(DataError) as err:
        validate_data_dir(d, check_audio=True, fs=16000)
    message = str(err.value)
    assert f"{d}/wav.scp: key 'B-1': audio '" in message and "at 8000 Hz, expected 16000" in message
    assert f"{d}/utt2num_samples: key 'B-1': 8000 samples listed, but the audio has 4000" \
        in message


# ---------------------------------------------------------------------------- repair

def test_fix_data_dir_repairs_and_backs_up(make_data_dir):
    d = make_data_dir()
    before = snapshot(d)
    write_lines(d / "text", ["B-1 Z", "A-1 X", "A-1 X", "A-2 Y", "", "C-9 ORPHAN"])
    write_lines(d / "utt2num_samples", ["A-1 8000", "A-2 oops", "B-1 8000"])
    (d / "spk2utt").unlink()
    originals = snapshot(d)

    report = fix_data_dir(d)

    assert report.num_kept == 2
    assert report.dropped_utts["A-2"] == "bad line in utt2num_samples"
    assert report.dropped_utts["C-9"].startswith("not in utt2spk")
    assert any("text:3: key 'A-1': duplicate line removed" in p for p in report.line_problems)
    assert any("text:5: empty line removed" in p for p in report.line_problems)
    assert f"{d}/utt2num_samples:2: key 'A-2': expected a positive integer number of samples, " \
        "got 'oops'; key dropped" in report.line_problems
    assert "text" in report.resorted
    assert read_kv_file(d / "text") == {"A-1": "X", "B-1": "Z"}
    assert list(read_kv_file(d / "wav.scp")) == ["A-1", "B-1"]
    assert read_spk2utt(d / "spk2utt") == {"A": ["A-1"], "B": ["B-1"]}
    assert report.summary is not None and report.summary.num_utts == 2
    assert snapshot(d / ".backup") == originals
    assert "spk2utt" not in originals and "wav.scp" in before
    validate_data_dir(d)


def test_fix_conflicting_duplicates_and_segments(make_data_dir):
    d = make_data_dir(with_segments=True)
    write_lines(d / "utt2spk", ["A-1 A", "A-2 A", "A-2 B", "B-1 B"])
    lines = (d / "segments").read_text().splitlines()
    write_lines(d / "segments", [lines[0], lines[1], "B-1 rec9 0 1"])
    with open(d / "wav.scp", "a") as f:
        f.write("rec2 /unused.wav\n")

    report = fix_data_dir(d)

    assert report.dropped_utts == {"A-2": "bad line in utt2spk",
                                   "B-1": "recording 'rec9' is not in wav.scp"}
    assert report.dropped_recordings == ["rec2"]
    assert list(read_kv_file(d / "segments")) == ["A-1"]
    assert list(read_kv_file(d / "wav.scp")) == ["rec1"]
    validate_data_dir(d)


def test_fix_refuses_to_empty_a_dir(make_data_dir):
    d = make_data_dir()
    write_lines(d / "text", ["Z-1 nothing in common"])
    before = snapshot(d)
    with pytest.raises(DataError, match="no utterance is present in every file"):
        fix_data_dir(d)
    assert snapshot(d) == before and not (d / ".backup").exists()


def test_fix_needs_wav_scp(make_data_dir):
    d = make_data_dir()
    (d / "wav.scp").unlink()
    with pytest.raises(DataError, match=rf"{d}/wav.scp: file not found"):
        fix_data_dir(d)


# ---------------------------------------------------------------------------- combination

def test_combine(make_data_dir, tmp_path):
    a = make_data_dir("a", prefix="a_")
    b = make_data_dir("b", prefix="b_")
    (b / "utt2num_samples").unlink()
    summary = combine_data_dirs(tmp_path / "ab", [a, b])
    assert (summary.num_utts, summary.num_speakers) == (6, 2)
    out = tmp_path / "ab"
    assert not (out / "utt2num_samples").exists()  # only in one input
    assert read_spk2utt(out / "spk2utt")["A"] == ["a_A-1", "a_A-2", "b_A-1", "b_A-2"]
    validate_data_dir(out, check_audio=True)


def test_combine_duplicate_key_writes_nothing(make_data_dir, tmp_path):
    a = make_data_dir("a")
    b = make_data_dir("b")
    with pytest.raises(DataError) as err:
        combine_data_dirs(tmp_path / "out", [a, b])
    assert str(err.value) == f"{b}/wav.scp: key 'A-1': duplicate utterance key: also in {a}/wav.scp"
    assert not (tmp_path / "out").exists()


def test_combine_segments_share_recording(make_data_dir, tmp_path):
    a = make_data_dir("a", with_segments=True, prefix="a_")
    b = make_data_dir("b", with_segments=True, prefix="b_")
    # b cuts other utterances from a's recording: the identical wav.scp line is merged.
    (b / "wav.scp").write_bytes((a / "wav.scp").read_bytes())
    write_lines(b / "segments", [line.replace("b_rec1", "a_rec1")
                                 for line in (b / "segments").read_text().splitlines()])
    summary = combine_data_dirs(tmp_path / "out", [a, b])
    assert (summary.num_utts, summary.num_recordings) == (6, 1)
    # The same recording key with other audio is a conflict.
    write_lines(b / "wav.scp", ["a_rec1 /elsewhere.wav"])
    with pytest.raises(DataError, match=rf"{b}/wav.scp: key 'a_rec1': duplicate recording key"):
        combine_data_dirs(tmp_path / "out3", [a, b])
    c = make_data_dir("c")
    with pytest.raises(DataError, match=rf"^{c}: has no segments file"):
        combine_data_dirs(tmp_path / "out2", [a, c])


def test_combine_rejects_invalid_input(make_data_dir, tmp_path):
    a = make_data_dir("a", prefix="a_")
    b = make_data_dir("b", prefix="b_")
    write_lines(b / "utt2spk", ["b_B-1 B", "b_A-1 A", "b_A-2 A"])
    with pytest.raises(DataError, match=rf"{b}/utt2spk:2: key 'b_A-1': keys are not sorted"):
        combine_data_dirs(tmp_path / "out", [a, b])
