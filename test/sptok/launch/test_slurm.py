"""The Slurm backend end to end through fake sbatch / srun / scontrol (see conftest.py): job
arrays, failures, config files, srun mode, and the script of a multi-node training."""
from __future__ import annotations

import os


def test_slurm_array_through_fake_sbatch(fake_slurm, run_launch):
    work, env, calls = fake_slurm
    res = run_launch(["--backend", "slurm", "--gpu", "1", "--mem", "2G", "--max_jobs_run", "2",
                      "JOB=1:3", "exp/log/a.JOB.log", "bash", "-c", "echo done JOB"], work, env)
    assert res.returncode == 0, res.stderr
    for j in (1, 2, 3):
        assert "done %d" % j in (work / f"exp/log/a.{j}.log").read_text()
    assert calls.read_text().split()[:3] == ["--export=ALL", "--parsable", "--wait"]
    script = (work / "exp/log/q/a.sh").read_text()
    assert "#SBATCH --array=1-3%2" in script and "#SBATCH --gpus-per-node 1" in script
    assert "#SBATCH --mem 2G" in script


def test_slurm_failed_task_is_reported(fake_slurm, run_launch):
    work, env, _ = fake_slurm
    res = run_launch(["--backend", "slurm", "JOB=1:3", "exp/log/b.JOB.log", "bash", "-c",
                      'echo "bad input JOB" >&2; [ JOB -ne 3 ]'], work, env)
    assert res.returncode == 1
    assert "1 of 3 jobs failed" in res.stderr
    assert "job 3 (exit code 1): log exp/log/b.3.log" in res.stderr
    assert "bad input 3" in res.stderr and "slurm job 4242" in res.stderr


def test_slurm_sbatch_override_and_config_file(fake_slurm, run_launch, tmp_path):
    work, env, calls = fake_slurm
    (work / "slurm.conf").write_text("command sbatch --export=PATH\noption gpu=* -p gpu "
                                     "--gres=gpu:$0\ndefault gpu=0\noption gpu=0 -p cpu\n")
    env = dict(env, SPTOK_SBATCH=str(tmp_path / "fakebin" / "sbatch"),
               PATH=os.environ["PATH"])  # not on PATH: only the override finds it
    res = run_launch(["--backend", "slurm", "--config", "slurm.conf", "log/c.log", "echo", "x"],
                     work, env)
    assert res.returncode == 0, res.stderr
    assert "#SBATCH -p cpu" in (work / "log/q/c.sh").read_text()
    assert calls.read_text().startswith("--export=PATH --parsable --wait")
    res = run_launch(["--backend", "slurm", "--config", "slurm.conf", "--mem", "1G", "log/c.log",
                      "echo"], work, env)
    assert res.returncode == 2 and "--mem 1G: the slurm config maps no such option" in res.stderr


def test_slurm_srun_mode(fake_slurm, run_launch):
    work, env, calls = fake_slurm
    res = run_launch(["--backend", "slurm", "--srun", "true", "--num_threads", "2", "JOB=1:2",
                      "log/s.JOB.log", "bash", "-c", "echo srun JOB"], work, env)
    assert res.returncode == 0, res.stderr
    assert "srun 2" in (work / "log/s.2.log").read_text()
    recorded = calls.read_text()
    assert "--ntasks=1 --job-name=s --cpus-per-task 2 bash -c" in recorded


# Stands for python: prints the torchrun command line it was given.
FAKE_PYTHON = "#!/usr/bin/env bash\necho \"torchrun: $*\"\n"


def test_slurm_multi_node_script_through_fakes(fake_slurm, run_launch, tmp_path):
    work, env, calls = fake_slurm
    python = tmp_path / "fakebin" / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    # A 2-node job is only checked for its text; one "node" runs it.
    env = dict(env, FAKE_SLURM_JOB_ID="731", SLURM_JOB_NODELIST="fake[1-2]")
    res = run_launch(["--backend", "slurm", "--ddp", "true", "--gpu", "4", "--num_nodes", "2",
                      "--num_threads", "3", "exp/train.log", "python", "-m", "sptok.bin.train",
                      "--config", "a b.yaml"], work, env, timeout=120)
    log = (work / "exp/train.log").read_text()
    assert res.returncode == 0, res.stderr + log
    script = (work / "exp/q/train.sh").read_text()
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=1", "#SBATCH --gpus-per-node 4",
                 "#SBATCH --cpus-per-task 12", "export OMP_NUM_THREADS=3"):
        assert line in script.splitlines(), line
    assert "srun --ntasks-per-node=1 --kill-on-bad-exit=1 --cpus-per-task=12 bash -c" in \
        calls.read_text()
    # The first node of the allocation hosts the rendezvous, on a port from the job id.
    assert ("torchrun: -m torch.distributed.run --nnodes 2 --nproc_per_node 4 --rdzv_backend "
            "c10d --rdzv_endpoint fake1:20731 --rdzv_id sptok-731 -m sptok.bin.train --config "
            "a b.yaml") in log
