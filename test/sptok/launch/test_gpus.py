"""GPU assignment of the local backend: GPU jobs spread over the GPUs, one group each."""
from __future__ import annotations

import os

import pytest

from sptok.launch.errors import LaunchError
from sptok.launch.gpus import gpu_groups_for

# Each job records the GPUs it got and how many jobs ran beside it.
GPU_JOB = ('mkdir -p run; touch run/JOB; sleep 0.4; echo "$CUDA_VISIBLE_DEVICES $(ls run | wc -l)"'
           ' > gpu.JOB; rm run/JOB')


def test_gpu_groups_are_disjoint():
    assert gpu_groups_for(1, ["3", "5", "7"]) == ["3", "5", "7"]
    assert gpu_groups_for(2, ["0", "1", "2", "3", "4"]) == ["0,1", "2,3"]
    assert gpu_groups_for(1, []) is None and gpu_groups_for(0, ["0"]) is None
    with pytest.raises(LaunchError, match=r"--gpu 3: only 2 GPU\(s\) here \(0,1\)"):
        gpu_groups_for(3, ["0", "1"])


def test_local_gpu_jobs_get_gpus_of_their_own(tmp_path, run_launch):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="3,5,7")
    res = run_launch(["--gpu", "1", "JOB=1:6", "log/g.JOB.log", "bash", "-c", GPU_JOB],
                     tmp_path, env, timeout=120)
    assert res.returncode == 0, res.stderr
    seen = [(tmp_path / f"gpu.{j}").read_text().split() for j in range(1, 7)]
    assert {gpu for gpu, _ in seen} <= {"3", "5", "7"}
    assert max(int(running) for _, running in seen) <= 3  # one job per GPU at a time
    assert ", GPUs " in (tmp_path / "log/g.1.log").read_text()
    res = run_launch(["--gpu", "2", "JOB=1:2", "log/h.JOB.log", "bash", "-c", GPU_JOB],
                     tmp_path, env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert [(tmp_path / f"gpu.{j}").read_text().split()[0] for j in (1, 2)] == ["3,5", "3,5"]
    res = run_launch(["--gpu", "4", "log/i.log", "true"], tmp_path, env, timeout=120)
    assert res.returncode == 2 and "--gpu 4: only 3 GPU(s) here (3,5,7)" in res.stderr


def test_local_gpus_from_nvidia_smi_or_none(tmp_path, run_launch):
    smi = tmp_path / "smi"
    smi.write_text("#!/usr/bin/env bash\necho 'GPU 0: NVIDIA H100 (UUID: a)'\n"
                   "echo 'GPU 1: NVIDIA H100 (UUID: b)'\n")
    smi.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    res = run_launch(["--gpu", "1", "JOB=1:2", "log/g.JOB.log", "bash", "-c", GPU_JOB],
                     tmp_path, dict(env, SPTOK_NVIDIA_SMI=str(smi)), timeout=120)
    assert res.returncode == 0, res.stderr
    assert {(tmp_path / f"gpu.{j}").read_text().split()[0] for j in (1, 2)} <= {"0", "1"}
    # No GPU on this machine: --gpu is ignored (the job runs, nothing is set).
    res = run_launch(["--gpu", "1", "log/n.log", "bash", "-c",
                      'echo "[${CUDA_VISIBLE_DEVICES-unset}]"'],
                     tmp_path, dict(env, SPTOK_NVIDIA_SMI=str(tmp_path / "missing")), timeout=120)
    assert res.returncode == 0, res.stderr
    assert "[unset]" in (tmp_path / "log/n.log").read_text()
