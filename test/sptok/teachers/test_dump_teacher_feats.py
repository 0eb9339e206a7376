"""dump_teacher_feats CLI: one ark,scp pair of [T, D] float32 matrices per job."""
from __future__ import annotations

import logging
import os

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch

from sptok.bin import dump_teacher_feats
from sptok.teachers import HubertTeacher, save_wav2vec2

LENGTHS = {"utt_a": 16000, "utt_b": 5200, "utt_c": 9999}


@pytest.fixture
def job(tmp_path, make_tiny_model, make_tiny_params):
    model = make_tiny_model()
    teacher_path = tmp_path / "teacher.pt"
    save_wav2vec2(model, make_tiny_params(), teacher_path, fmt="torchaudio")
    rng = np.random.default_rng(0)
    lines = []
    for key, n in LENGTHS.items():
        path = tmp_path / f"{key}.wav"
        sf.write(path, (0.2 * rng.standard_normal(n)).clip(-1, 1), 16000, subtype="FLOAT")
        lines.append(f"{key} {path}\n")
    # A pipe entry works like a file.
    lines[1] = f"utt_b cat {tmp_path / 'utt_b.wav'} |\n"
    wav_scp = tmp_path / "wav.scp"
    wav_scp.write_text("".join(lines))
    return {"teacher": teacher_path, "model": model, "wav_scp": wav_scp, "out": tmp_path / "out" / "feats.1",
            "dir": tmp_path}


def run(job, *extra):
    return dump_teacher_feats.main(["--teacher", str(job["teacher"]), "--wav_scp", str(job["wav_scp"]),
                                    "--out_prefix", str(job["out"]), "--layer", "avg", *extra])


def test_dump_writes_TxD_matrices_matching_the_teacher(job):
    # A small batch budget forces several batches with padding.
    assert run(job, "--batch_seconds", "1.2") == 0
    feats = dict(kaldiio.load_scp(f"{job['out']}.scp"))
    assert sorted(feats) == sorted(LENGTHS)
    teacher = HubertTeacher(job["model"], layer="avg")
    for key, n in LENGTHS.items():
        assert feats[key].dtype == np.float32
        assert feats[key].shape == ((n - 400) // 320 + 1, 32)
        wav, _ = sf.read(job["dir"] / f"{key}.wav", dtype="float32")
        with torch.no_grad():
            ref, _ = teacher(torch.from_numpy(wav)[None])
        np.testing.assert_allclose(feats[key], ref[0].numpy(), atol=1e-4, rtol=0)
    assert not [p for p in os.listdir(job["out"].parent) if p.endswith(".tmp")]


def test_dump_skips_complete_output_and_redoes_incomplete(job, caplog):
    caplog.set_level(logging.INFO)
    assert run(job) == 0
    scp = f"{job['out']}.scp"
    before = os.stat(scp).st_mtime_ns
    assert run(job) == 0
    assert os.stat(scp).st_mtime_ns == before
    assert "complete output exists" in caplog.text
    # An scp that misses a key is incomplete: the job runs again.
    with open(scp) as f:
        first = f.readline()
    with open(scp, "w") as f:
        f.write(first)
    assert run(job) == 0
    assert len(dict(kaldiio.load_scp(scp))) == 3
    assert run(job, "--overwrite", "true") == 0


def test_dump_rejects_wrong_rate_and_stereo_naming_the_key(job, capsys):
    bad = job["dir"] / "bad.wav"
    sf.write(bad, np.zeros(8000, dtype=np.float32), 8000)
    job["wav_scp"].write_text(job["wav_scp"].read_text() + f"utt_d {bad}\n")
    assert run(job) == 1
    err = capsys.readouterr().err
    assert "key 'utt_d'" in err and "must be 16000 Hz, got 8000 Hz" in err
    sf.write(bad, np.zeros((8000, 2), dtype=np.float32), 16000)
    assert run(job) == 1
    assert "key 'utt_d'" in capsys.readouterr().err
    assert not os.path.exists(f"{job['out']}.scp") and not os.path.exists(f"{job['out']}.ark")


def test_dump_rejects_too_short_audio(job, capsys):
    short = job["dir"] / "short.wav"
    sf.write(short, np.zeros(300, dtype=np.float32), 16000)
    job["wav_scp"].write_text(f"utt_s {short}\n")
    assert run(job) == 1
    assert "shorter than 400 samples" in capsys.readouterr().err
