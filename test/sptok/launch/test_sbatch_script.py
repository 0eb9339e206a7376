"""The sbatch script of a job array: its text, and one task of it run as slurm would."""
from __future__ import annotations

import os
import subprocess

from sptok.launch.job_array import JobArray
from sptok.launch.logs import read_exit_code
from sptok.launch.sbatch_script import sbatch_script


def test_sbatch_script_text():
    jobs = JobArray(log="exp/log/fmt.JOB.log", command=("python", "-m", "x", "in.JOB", "a b"),
                    var="JOB", start=1, end=4)
    text = sbatch_script(jobs, ["--gpus", "1", "--mem", "4G", "--cpus-per-task", "2", "-p", "gpu"],
                         "/work/dir", "/work/dir/exp/log/q/fmt.%a.out", max_jobs_run=2)
    lines = text.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "#SBATCH --job-name=fmt" in lines
    assert "#SBATCH --array=1-4%2" in lines
    assert "#SBATCH --output=/work/dir/exp/log/q/fmt.%a.out" in lines
    assert "#SBATCH --gpus 1" in lines and "#SBATCH --mem 4G" in lines
    assert "#SBATCH --cpus-per-task 2" in lines and "#SBATCH -p gpu" in lines
    assert "cd /work/dir || exit 1" in lines
    assert 'log=exp/log/fmt."${SLURM_ARRAY_TASK_ID}".log' in lines
    assert ("( python -m x in.\"${SLURM_ARRAY_TASK_ID}\" 'a b' ) >> \"${log}\" 2>&1" in lines)
    # every #SBATCH line comes before the first command (sbatch stops reading them there)
    first_cmd = next(i for i, l in enumerate(lines) if l.startswith("cd "))
    assert all(not l.startswith("#SBATCH") for l in lines[first_cmd:])
    single = sbatch_script(JobArray(log="l/one.log", command=("true",)), [], "/w", "/w/l/q/one.out")
    assert "--array" not in single and "#SBATCH --job-name=one" in single


def test_sbatch_script_runs_a_task(tmp_path):
    """The generated script, run as slurm would run task 3, writes task 3's log."""
    jobs = JobArray(log="log/t.JOB.log", command=("bash", "-c", "echo 'task JOB' > out.JOB"),
                    var="JOB", start=1, end=3)
    script = tmp_path / "s.sh"
    script.write_text(sbatch_script(jobs, [], str(tmp_path), str(tmp_path / "q.%a.out")))
    env = dict(os.environ, SLURM_ARRAY_TASK_ID="3", SLURM_JOB_ID="77")
    subprocess.run(["bash", str(script)], cwd="/", env=env, check=True)
    assert (tmp_path / "out.3").read_text() == "task 3\n"
    assert read_exit_code(tmp_path / "log/t.3.log") == 0
    assert "slurm job 77 task 3" in (tmp_path / "log/t.3.log").read_text()
