"""The local backend, run for real: job arrays in parallel, failures, threads, and distributed
training as 2-process CPU (gloo) groups on one and on two "nodes"."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

from sptok.launch.logs import read_exit_code

# Each rank adds rank + 1 across the group and prints what it sees.
ALL_REDUCE = textwrap.dedent("""\
    import os
    import torch
    import torch.distributed as dist
    dist.init_process_group("gloo")
    total = torch.tensor([float(dist.get_rank() + 1)])
    dist.all_reduce(total)
    print(f"rank {dist.get_rank()} of {dist.get_world_size()} sum {total.item():g} "
          f"threads {os.environ.get('OMP_NUM_THREADS')}", flush=True)
    dist.destroy_process_group()
    """)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- job arrays --------------------------------------------------------------------------------

def test_local_jobs_run_in_parallel_with_job_substituted(tmp_path, run_launch):
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


def test_local_max_jobs_run_limits_concurrency(tmp_path, run_launch):
    script = ('mkdir -p run; touch run/JOB; sleep 0.3; ls run | wc -l > count.JOB; rm run/JOB')
    res = run_launch(["--max_jobs_run", "2", "JOB=1:5", "log/c.JOB.log", "bash", "-c", script],
                     tmp_path)
    assert res.returncode == 0, res.stderr
    counts = [int((tmp_path / f"count.{j}").read_text()) for j in range(1, 6)]
    assert max(counts) <= 2


def test_local_failing_job_reports_log_and_tail(tmp_path, run_launch):
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


def test_local_single_job_and_num_threads(tmp_path, run_launch):
    res = run_launch(["--num_threads", "3", "--gpu", "1", "--time", "1:00:00", "log/one.log",
                      "bash", "-c", "echo threads=$OMP_NUM_THREADS"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "threads=3" in (tmp_path / "log/one.log").read_text()


# ---- distributed training ----------------------------------------------------------------------

def test_local_multi_node_needs_an_endpoint(tmp_path, run_launch, monkeypatch):
    monkeypatch.delenv("SPTOK_RDZV_ENDPOINT", raising=False)
    res = run_launch(["--ddp", "true", "--num_nodes", "2", "log/t.log", sys.executable, "t.py"],
                     tmp_path, env={k: v for k, v in os.environ.items()
                                    if k != "SPTOK_RDZV_ENDPOINT"}, timeout=120)
    assert res.returncode == 2
    assert "--rdzv_endpoint HOST:PORT (or SPTOK_RDZV_ENDPOINT)" in res.stderr


def test_local_two_cpu_processes(tmp_path, run_launch):
    (tmp_path / "reduce.py").write_text(ALL_REDUCE)
    res = run_launch(["--ddp", "true", "--nproc_per_node", "2", "--num_threads", "1",
                      "log/train.log", sys.executable, "reduce.py"], tmp_path, timeout=120)
    log = (tmp_path / "log/train.log").read_text()
    assert res.returncode == 0, res.stderr + log
    assert "torch.distributed.run --nnodes 1 --nproc_per_node 2 --standalone reduce.py" in log
    assert "rank 0 of 2 sum 3 threads 1" in log and "rank 1 of 2 sum 3 threads 1" in log
    assert read_exit_code(tmp_path / "log/train.log") == 0


def test_local_two_nodes_meet_at_the_rendezvous(tmp_path):
    """Two launchers, as on two nodes, one process each: a group of 2 through c10d."""
    (tmp_path / "reduce.py").write_text(ALL_REDUCE)
    endpoint = f"127.0.0.1:{free_port()}"
    procs = [subprocess.Popen([sys.executable, "-m", "sptok.bin.launch", "--ddp", "true",
                               "--num_nodes", "2", "--rdzv_id", "t2", f"log/node{n}.log",
                               sys.executable, "reduce.py"], cwd=tmp_path, text=True,
                              env=dict(os.environ, SPTOK_RDZV_ENDPOINT=endpoint),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for n in (1, 2)]
    outs = [p.communicate(timeout=180) for p in procs]
    logs = [(tmp_path / f"log/node{n}.log").read_text() for n in (1, 2)]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all(f"--rdzv_backend c10d --rdzv_endpoint {endpoint} --rdzv_id t2" in log
               for log in logs)
    ranks = sorted(line for log in logs for line in log.splitlines() if line.startswith("rank"))
    assert [r.split(" threads")[0] for r in ranks] == ["rank 0 of 2 sum 3", "rank 1 of 2 sum 3"]
