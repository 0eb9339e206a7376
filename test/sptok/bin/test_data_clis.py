"""The data-layer command line tools, in process and as ``python -m sptok.bin.<name>``."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np
import pytest
import soundfile as sf

from sptok.bin import (combine_data, filter_scp, fix_data_dir, format_wav_scp, split_scp,
                       validate_data_dir)

needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")


def write_lines(path: Path, lines) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def read_table(path: Path) -> dict:
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def write_wav(path: Path, seconds: float, sample_rate: int, channels: int = 1) -> Path:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    wav = 0.3 * np.sin(2 * np.pi * 300 * t)
    if channels > 1:
        wav = np.stack([wav] * channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wav, sample_rate, subtype="PCM_16")
    return path


def run_module(name: str, args: List[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"sptok.bin.{name}", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def make_data_dir(d: Path, audio: Path, utts: dict) -> Path:
    """utts: utt -> (speaker, seconds); 16 kHz mono files."""
    wavs = {u: write_wav(audio / f"{u}.wav", sec, 16000) for u, (_, sec) in utts.items()}
    write_lines(d / "wav.scp", [f"{u} {p}" for u, p in sorted(wavs.items())])
    write_lines(d / "text", [f"{u} SOME WORDS" for u in sorted(utts)])
    write_lines(d / "utt2spk", [f"{u} {spk}" for u, (spk, _) in sorted(utts.items())])
    spk2utt: dict = {}
    for u, (spk, _) in sorted(utts.items()):
        spk2utt.setdefault(spk, []).append(u)
    write_lines(d / "spk2utt", [f"{s} {' '.join(us)}" for s, us in sorted(spk2utt.items())])
    return d


UTTS = {"s1-a": ("s1", 0.5), "s1-b": ("s1", 0.25), "s2-a": ("s2", 0.5)}


# ---------------------------------------------------------------------------- validate / fix

def test_validate_cli(tmp_path, capsys):
    d = make_data_dir(tmp_path / "d", tmp_path / "audio", UTTS)
    assert validate_data_dir.main([str(d), "--check_audio"]) == 0
    assert "3 utterances, 2 speakers" in capsys.readouterr().out
    (d / "text").unlink()
    assert validate_data_dir.main([str(d)]) == 1
    assert f"validate_data_dir: error: {d}/text: file not found" in capsys.readouterr().err
    assert validate_data_dir.main([str(d), "--no_text"]) == 0


def test_validate_cli_subprocess_exit_status(tmp_path, venv_env):
    d = make_data_dir(tmp_path / "d", tmp_path / "audio", UTTS)
    write_lines(d / "utt2spk", ["s1-b s1", "s1-a s1", "s2-a s2"])
    proc = run_module("validate_data_dir", [str(d)], venv_env, tmp_path)
    assert proc.returncode == 1
    assert f"{d}/utt2spk:2: key 's1-a': keys are not sorted in C locale" in proc.stderr


def test_usage_errors_name_the_option(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        validate_data_dir.main([str(tmp_path), "--fs", "0"])
    assert exit_info.value.code == 2
    assert "argument --fs: must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        format_wav_scp.main(["--fs", "16k", "wav.scp", "out"])
    assert "argument --fs: invalid int value: '16k'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        format_wav_scp.main(["--fs", "16000", "--audio_format", "mp3", "wav.scp", "out"])
    assert "argument --audio_format: invalid choice: 'mp3'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        filter_scp.main(["in", "out"])
    assert "the following arguments are required: --keys" in capsys.readouterr().err


def test_fix_cli(tmp_path, capsys):
    d = make_data_dir(tmp_path / "d", tmp_path / "audio", UTTS)
    write_lines(d / "text", ["s2-a X", "s1-a Y"])
    assert fix_data_dir.main([str(d)]) == 0
    out = capsys.readouterr().out
    assert "kept 2 utterances" in out and "dropped utterance 's1-b': not in text" in out
    assert list(read_table(d / "utt2spk")) == ["s1-a", "s2-a"]
    assert (d / ".backup" / "text").read_text() == "s2-a X\ns1-a Y\n"
    assert validate_data_dir.main([str(d)]) == 0


# ------------------------------------------------------------------------ split / filter / combine

def test_split_and_filter_cli(tmp_path, capsys):
    scp = write_lines(tmp_path / "wav.scp", [f"u{i} x" for i in range(5)])
    outs = [str(tmp_path / f"wav.{j}.scp") for j in (1, 2)]
    assert split_scp.main([str(scp), *outs]) == 0
    assert [len(Path(o).read_text().splitlines()) for o in outs] == [3, 2]
    assert split_scp.main([str(scp), *[str(tmp_path / f"p{j}") for j in range(6)]]) == 1
    assert "cannot split 5 lines into 6 parts" in capsys.readouterr().err
    assert not (tmp_path / "p0").exists()

    utt2spk = write_lines(tmp_path / "utt2spk", ["u0 A", "u1 A", "u2 A", "u3 B", "u4 B"])
    assert split_scp.main([str(scp), *outs, "--utt2spk", str(utt2spk)]) == 0
    assert [len(Path(o).read_text().splitlines()) for o in outs] == [3, 2]

    keys = write_lines(tmp_path / "keys", ["u1", "u3"])
    assert filter_scp.main(["--keys", str(keys), str(scp), str(tmp_path / "f")]) == 0
    assert list(read_table(tmp_path / "f")) == ["u1", "u3"]
    assert filter_scp.main(["--keys", str(keys), "--exclude", str(scp), str(tmp_path / "g")]) == 0
    assert list(read_table(tmp_path / "g")) == ["u0", "u2", "u4"]


def test_combine_cli(tmp_path, capsys):
    a = make_data_dir(tmp_path / "a", tmp_path / "audio", UTTS)
    b = make_data_dir(tmp_path / "b", tmp_path / "audio", {"s3-a": ("s3", 0.5)})
    assert combine_data.main([str(tmp_path / "ab"), str(a), str(b)]) == 0
    assert "4 utterances, 3 speakers" in capsys.readouterr().out
    assert combine_data.main([str(tmp_path / "aa"), str(a), str(a)]) == 1
    assert f"{a}/wav.scp: key 's1-a': duplicate utterance key" in capsys.readouterr().err
    assert not (tmp_path / "aa").exists()


# ---------------------------------------------------------------------------- format_wav_scp

@needs_sox
def test_format_wav_scp_mixed_inputs(tmp_path):
    audio = tmp_path / "audio"
    stereo = write_wav(audio / "st.wav", 0.5, 44100, channels=2)
    narrow = write_wav(audio / "nb.wav", 0.25, 8000)
    flac = write_wav(audio / "fl.flac", 0.5, 16000)
    piped = write_wav(audio / "pp.wav", 0.5, 22050)
    scp = write_lines(tmp_path / "wav.scp", [
        f"u-stereo {stereo}", f"u-narrow {narrow}", f"u-flac {flac}",
        f"u-pipe sox {piped} -t wav - |"])
    out = tmp_path / "out"
    assert format_wav_scp.main(["--fs", "16000", str(scp), str(out)]) == 0

    wav_scp = read_table(out / "wav.scp")
    assert list(wav_scp) == ["u-flac", "u-narrow", "u-pipe", "u-stereo"]  # C-sorted
    expected = {"u-stereo": 8000, "u-narrow": 4000, "u-flac": 8000, "u-pipe": 8000}
    assert {u: int(n) for u, n in read_table(out / "utt2num_samples").items()} == expected
    for utt, path in wav_scp.items():
        assert path == str(out / "data" / f"{utt}.wav")
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == \
            (16000, 1, expected[utt], "PCM_16")
    assert sorted(p.name for p in (out / "data").iterdir()) == \
        sorted(f"{u}.wav" for u in expected)  # no temporary files left


def test_format_wav_scp_failure_then_resume(tmp_path, capsys):
    audio = tmp_path / "audio"
    good = write_wav(audio / "g.wav", 0.5, 8000)
    scp = write_lines(tmp_path / "wav.scp", [f"a {good}", f"b {audio}/missing.wav",
                                             "c echo decoder exploded >&2; false |"])
    out = tmp_path / "out"
    assert format_wav_scp.main(["--fs", "16000", str(scp), str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{scp}: key 'b': audio file '{audio}/missing.wav' not found" in err
    # What was done is complete; nothing half-written; no index files for a failed job.
    assert [p.name for p in (out / "data").iterdir()] == ["a.wav"]
    assert not (out / "wav.scp").exists() and not (out / "utt2num_samples").exists()
    done = (out / "data" / "a.wav").stat().st_mtime_ns

    write_wav(audio / "missing.wav", 0.25, 16000)
    assert format_wav_scp.main(["--fs", "16000", str(scp), str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{scp}: key 'c': pipe command failed" in err and "decoder exploded" in err

    write_lines(scp, [f"a {good}", f"b {audio}/missing.wav", f"c {good}"])
    # A stale output at the wrong rate is redone, a good one is kept.
    write_wav(out / "data" / "c.wav", 0.5, 8000)
    assert format_wav_scp.main(["--fs", "16000", str(scp), str(out)]) == 0
    assert "(1 written, 2 already done)" in capsys.readouterr().err
    assert (out / "data" / "a.wav").stat().st_mtime_ns == done
    assert sf.info(str(out / "data" / "c.wav")).samplerate == 16000
    assert read_table(out / "utt2num_samples") == {"a": "8000", "b": "4000", "c": "8000"}


def test_format_wav_scp_segments_flac(tmp_path):
    rec = write_wav(tmp_path / "audio" / "rec.wav", 2.0, 8000)
    scp = write_lines(tmp_path / "wav.scp", [f"rec1 {rec}"])
    segments = write_lines(tmp_path / "segments", ["u1 rec1 0.00 0.50", "u2 rec1 0.50 1.75",
                                                   "u3 rec1 1.75 2.20"])  # overshoot is cut
    out = tmp_path / "out"
    assert format_wav_scp.main(["--fs", "16000", "--segments", str(segments),
                                "--audio_format", "flac", str(scp), str(out)]) == 0
    assert read_table(out / "utt2num_samples") == {"u1": "8000", "u2": "20000", "u3": "4000"}
    assert read_table(out / "wav.scp")["u2"] == str(out / "data" / "u2.flac")
    assert sf.info(str(out / "data" / "u2.flac")).format == "FLAC"

    write_lines(segments, ["u1 rec9 0 1"])
    assert format_wav_scp.main(["--fs", "16000", "--segments", str(segments), str(scp),
                                str(tmp_path / "out2")]) == 1


@needs_sox
def test_recipe_stage_parallel_format_flow(tmp_path, venv_env):
    """Stage 2 of a recipe: split wav.scp, format each part in parallel, concatenate, validate."""
    audio = tmp_path / "audio"
    utts = {f"spk{s}-utt{i}": (f"spk{s}", 0.25 + 0.05 * i) for s in range(3) for i in range(3)}
    src = tmp_path / "data" / "train"
    wav_scp = {}
    for utt, (_, sec) in utts.items():
        rate, channels = (44100, 2) if utt.endswith("0") else (8000, 1)
        path = write_wav(audio / f"{utt}.wav", sec, rate, channels)
        wav_scp[utt] = f"sox {path} -t wav - |" if utt.endswith("2") else str(path)
    write_lines(src / "wav.scp", [f"{u} {wav_scp[u]}" for u in sorted(utts)])
    write_lines(src / "utt2spk", [f"{u} {utts[u][0]}" for u in sorted(utts)])

    logdir = tmp_path / "dump" / "logdir"
    nj = 2
    parts = [str(logdir / f"wav.{j}.scp") for j in range(1, nj + 1)]
    assert run_module("split_scp", [str(src / "wav.scp"), *parts], venv_env, tmp_path
                      ).returncode == 0
    jobs = [subprocess.Popen([sys.executable, "-m", "sptok.bin.format_wav_scp", "--fs", "16000",
                              parts[j - 1], f"dump/raw/train/format.{j}"], cwd=tmp_path,
                             env=venv_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for j in range(1, nj + 1)]
    for job in jobs:
        _, err = job.communicate(timeout=120)
        assert job.returncode == 0, err
    dump = tmp_path / "dump" / "raw" / "train"
    for name in ("wav.scp", "utt2num_samples"):
        subprocess.run(f"cat {dump}/format.*/{name} | LC_ALL=C sort > {dump}/{name}", shell=True,
                       check=True)
    for name in ("utt2spk",):
        shutil.copy(src / name, dump / name)
    subprocess.run(f"python -m sptok.bin.fix_data_dir {dump}", shell=True, check=True,
                   cwd=tmp_path, env=venv_env, capture_output=True)
    proc = run_module("validate_data_dir", [str(dump.relative_to(tmp_path)), "--no_text",
                                            "--check_audio", "--fs", "16000"], venv_env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "9 utterances, 3 speakers" in proc.stdout and "16000 Hz" in proc.stdout
    num = read_table(dump / "utt2num_samples")
    assert num["spk1-utt2"] == str(int(round(0.35 * 16000)))
    assert read_table(dump / "wav.scp")["spk0-utt0"] == "dump/raw/train/format.1/data/spk0-utt0.wav"
