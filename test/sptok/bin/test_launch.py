"""Job launcher (sptok.bin.launch): local backend for real, slurm through its pure script
generation and a fake sbatch / srun."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sptok.bin import launch
from sptok.bin.launch import (JobArray, LaunchError, parse_request, parse_slurm_config,
                              read_exit_code, sbatch_script, slurm_arguments)


def run_launch(args, cwd: Path, env=None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sptok.bin.launch", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


# ---- command line ------------------------------------------------------------------------------

def test_parse_request_options_range_log_command():
    req = parse_request(["--gpu", "1", "--max-jobs-run=3", "JOB=2:5", "log/a.JOB.log", "prog",
                         "--x", "JOB"])
    assert req.options == {"gpu": "1", "max_jobs_run": "3"}
    assert (req.jobs.var, req.jobs.start, req.jobs.end) == ("JOB", 2, 5)
    assert req.jobs.log == "log/a.JOB.log"
    assert req.jobs.command == ("prog", "--x", "JOB")
    single = parse_request(["log/b.log", "echo", "hi"])
    assert single.jobs.var is None and list(single.jobs.ids) == [1]


@pytest.mark.parametrize("argv, message", [
    (["JOB=1:3", "log/a.log", "prog"], "must contain JOB"),
    (["JOB=3:1", "log/a.JOB.log", "prog"], "is empty"),
    (["log/a.log"], "expected a log file and a command"),
    (["--gpu"], "needs a value"),
])
def test_parse_request_errors(argv, message):
    with pytest.raises(LaunchError, match=message):
        parse_request(argv)


def test_command_quoting_keeps_arguments_and_operators():
    jobs = JobArray(log="l.JOB.log", command=("printf", "%s|", "a b", "it's $HOME", "JOB", "|",
                                              "tr", "a", "A"), var="JOB", start=1, end=2)
    out = subprocess.run(["bash", "-c", jobs.command_for(2)], capture_output=True, text=True)
    assert out.stdout == "A b|it's $HOME|2|"


# ---- local backend -----------------------------------------------------------------------------

def test_local_jobs_run_in_parallel_with_job_substituted(tmp_path):
    # Each job waits until all 3 have started: this only finishes if they run at the same time.
    script = ('touch started.JOB; for i in $(seq 200); do '
              '[ "$(ls started.* | wc -l)" -ge 3 ] && break; sleep 0.05; done; '
              '[ "$(ls started.* | wc -l)" -ge 3 ] && echo "job JOB of 3" > out.JOB')
    res = run_launch(["--backend", "local", "--max_jobs_run", "3", "JOB=1:3", "log/p.JOB.log",
                      "bash", "-c", script], tmp_path)
    assert res.returncode == 0, res.stderr
    for j in (1, 2, 3):
        assert (tmp_path / f"out.{j}").read_text() == f"job {j} of 3\n"
        log = (tmp_path / f"log/p.{j}.log").read_text()
        assert log.startswith(f"# bash -c 'touch started.{j};")
        assert "# Started at " in log
        assert read_exit_code(tmp_path / f"log/p.{j}.log") == 0


def test_local_max_jobs_run_limits_concurrency(tmp_path):
    script = ('mkdir -p run; touch run/JOB; sleep 0.3; ls run | wc -l > count.JOB; rm run/JOB')
    res = run_launch(["--max_jobs_run", "2", "JOB=1:5", "log/c.JOB.log", "bash", "-c", script],
                     tmp_path)
    assert res.returncode == 0, res.stderr
    counts = [int((tmp_path / f"count.{j}").read_text()) for j in range(1, 6)]
    assert max(counts) <= 2


def test_local_failing_job_reports_log_and_tail(tmp_path):
    res = run_launch(["JOB=1:3", "exp/log/f.JOB.log", "bash", "-c",
                      'echo "line one of JOB"; echo "trouble in JOB" >&2; [ JOB -ne 2 ]'],
                     tmp_path)
    assert res.returncode == 1
    assert "1 of 3 jobs failed" in res.stderr
    assert "job 2 (exit code 1): log exp/log/f.2.log" in res.stderr
    assert "trouble in 2" in res.stderr and "trouble in 1" not in res.stderr
    log2 = (tmp_path / "exp/log/f.2.log").read_text()
    assert "line one of 2" in log2 and "# Ended (code 1)" in log2
    assert read_exit_code(tmp_path / "exp/log/f.1.log") == 0  # the others ran to the end
    assert read_exit_code(tmp_path / "exp/log/f.3.log") == 0


def test_local_single_job_and_num_threads(tmp_path):
    res = run_launch(["--num_threads", "3", "--gpu", "1", "--time", "1:00:00", "log/one.log",
                      "bash", "-c", "echo threads=$OMP_NUM_THREADS"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "threads=3" in (tmp_path / "log/one.log").read_text()


def test_local_usage_error_exit_code(tmp_path):
    res = run_launch(["--backend", "pbs", "log/x.log", "true"], tmp_path)
    assert res.returncode == 2 and "--backend must be local or slurm" in res.stderr


def test_local_interrupt_stops_running_jobs(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "sptok.bin.launch", "JOB=1:2", "log/s.JOB.log",
                             "bash", "-c", "touch up.JOB; exec sleep 60"], cwd=tmp_path,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not ((tmp_path / "up.1").exists() and (tmp_path / "up.2").exists()):
        assert time.monotonic() < deadline, "jobs did not start"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "interrupted by SIGTERM" in err
    for j in (1, 2):
        assert read_exit_code(tmp_path / f"log/s.{j}.log") == -signal.SIGTERM


# ---- slurm: config and script generation -------------------------------------------------------

def test_slurm_config_maps_options():
    config = parse_slurm_config(launch.DEFAULT_SLURM_CONFIG)
    assert config.command == ["sbatch", "--export=ALL"]
    assert slurm_arguments(config, {}) == []  # default gpu=0 maps to nothing
    args = slurm_arguments(config, {"gpu": "2", "mem": "8G", "num_threads": "4", "time": "2:00:00"})
    assert args == ["--gpus-per-node", "2", "--mem", "8G", "--cpus-per-task", "4", "--time",
                    "2:00:00"]
    custom = parse_slurm_config("option gpu=0 -p cpu\noption gpu=* -p gpu --gres=gpu:$0\n"
                                "default gpu=0\n", "custom.conf")
    assert slurm_arguments(custom, {}) == ["-p", "cpu"]
    assert slurm_arguments(custom, {"gpu": "1"}) == ["-p", "gpu", "--gres=gpu:1"]
    with pytest.raises(LaunchError, match=r"--qos high: the slurm config maps no such option"):
        slurm_arguments(config, {"qos": "high"})
    with pytest.raises(LaunchError, match="bad.conf:1"):
        parse_slurm_config("optoin gpu=* --gpus $0\n", "bad.conf")


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


# ---- slurm: end to end with a fake sbatch / srun -----------------------------------------------

FAKE_SBATCH = textwrap.dedent("""\
    #!{python}
    # Fake sbatch: records its arguments, prints a job id (--parsable), runs every array task of
    # the script like slurm would, exits with the highest task exit code (--wait).
    import os, re, subprocess, sys
    args = sys.argv[1:]
    with open(os.environ["FAKE_SLURM_CALLS"], "a") as f:
        f.write(" ".join(args) + "\\n")
    script = args[-1]
    assert "--wait" in args and "--parsable" in args
    text = open(script).read()
    m = re.search(r"^#SBATCH --array=(\\d+)-(\\d+)", text, re.M)
    tasks = range(int(m.group(1)), int(m.group(2)) + 1) if m else [None]
    print("4242", flush=True)
    code = 0
    for t in tasks:
        env = dict(os.environ, SLURM_JOB_ID="4242")
        if t is not None:
            env["SLURM_ARRAY_TASK_ID"] = str(t)
        code = max(code, subprocess.run(["bash", script], env=env).returncode)
    sys.exit(code)
    """)

FAKE_SRUN = textwrap.dedent("""\
    #!/usr/bin/env bash
    # Fake srun: records its options, runs the command after them.
    echo "$*" >> "${FAKE_SLURM_CALLS}"
    while [ "${1#-}" != "$1" ]; do
        case "$1" in --*=*) shift ;; *) shift 2 ;; esac
    done
    exec "$@"
    """)


@pytest.fixture
def fake_slurm(tmp_path):
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    (bindir / "sbatch").write_text(FAKE_SBATCH.format(python=sys.executable))
    (bindir / "srun").write_text(FAKE_SRUN)
    for f in bindir.iterdir():
        f.chmod(0o755)
    calls = tmp_path / "calls.txt"
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
               FAKE_SLURM_CALLS=str(calls))
    work = tmp_path / "work"
    work.mkdir()
    return work, env, calls


def test_slurm_array_through_fake_sbatch(fake_slurm):
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


def test_slurm_failed_task_is_reported(fake_slurm):
    work, env, _ = fake_slurm
    res = run_launch(["--backend", "slurm", "JOB=1:3", "exp/log/b.JOB.log", "bash", "-c",
                      'echo "bad input JOB" >&2; [ JOB -ne 3 ]'], work, env)
    assert res.returncode == 1
    assert "1 of 3 jobs failed" in res.stderr
    assert "job 3 (exit code 1): log exp/log/b.3.log" in res.stderr
    assert "bad input 3" in res.stderr and "slurm job 4242" in res.stderr


def test_slurm_sbatch_override_and_config_file(fake_slurm, tmp_path):
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


def test_slurm_srun_mode(fake_slurm):
    work, env, calls = fake_slurm
    res = run_launch(["--backend", "slurm", "--srun", "true", "--num_threads", "2", "JOB=1:2",
                      "log/s.JOB.log", "bash", "-c", "echo srun JOB"], work, env)
    assert res.returncode == 0, res.stderr
    assert "srun 2" in (work / "log/s.2.log").read_text()
    recorded = calls.read_text()
    assert "--ntasks=1 --job-name=s --cpus-per-task 2 bash -c" in recorded
