"""Distributed training through the job launcher (``--ddp true``): the torchrun command lines,
2-process CPU (gloo) groups run for real by the local backend on one and on two "nodes", and the
Slurm script of a multi-node training checked through a fake sbatch / srun / scontrol."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sptok.bin.launch import (JobArray, LaunchError, node_log, pop_ddp_request, read_exit_code,
                              slurm_ddp_text)

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


def run_launch(args, cwd: Path, env=None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sptok.bin.launch", *args], cwd=cwd,
                          env=env or dict(os.environ), capture_output=True, text=True,
                          timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ddp(options: dict, command=("python", "-m", "sptok.bin.train", "--config", "c.yaml"),
        log="exp/train.log"):
    opts = dict(options)
    return pop_ddp_request(opts, JobArray(log=log, command=tuple(command))), opts


# ---- options and command lines -----------------------------------------------------------------

def test_torchrun_command_one_node_and_several():
    request, left = ddp({"ddp": "true", "gpu": "4", "num_threads": "2", "mem": "8G"})
    assert left == {"gpu": "4", "num_threads": "2", "mem": "8G"}  # for the scheduler
    assert (request.nproc_per_node, request.num_nodes) == (4, 1)
    assert request.torchrun(None, None) == [
        "python", "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "4",
        "--standalone", "-m", "sptok.bin.train", "--config", "c.yaml"]
    request, left = ddp({"ddp": "true", "nproc_per_node": "2", "num_nodes": "3",
                         "rdzv_endpoint": "node1:29400"}, command=("python3", "train.py", "x"))
    assert "num_nodes" not in left  # the launcher places the nodes itself
    assert request.torchrun(request.rdzv_endpoint, "job7") == [
        "python3", "-m", "torch.distributed.run", "--nnodes", "3", "--nproc_per_node", "2",
        "--rdzv_backend", "c10d", "--rdzv_endpoint", "node1:29400", "--rdzv_id", "job7",
        "train.py", "x"]
    assert ddp({"gpu": "1"}) == (None, {"gpu": "1"})  # not distributed


@pytest.mark.parametrize("options, command, message", [
    ({"nproc_per_node": "2"}, ("python", "t.py"), "add --ddp true"),
    ({"ddp": "yes"}, ("python", "t.py"), "takes true or false"),
    ({"ddp": "true"}, ("bash", "-c", "python t.py"), "PYTHON -m MODULE"),
    ({"ddp": "true"}, ("python", "-c", "print(1)"), "PYTHON -m MODULE"),
    ({"ddp": "true"}, ("python", "t.py", "|", "tee", "x"), "without shell operators"),
    ({"ddp": "true", "num_nodes": "0"}, ("python", "t.py"), "at least 1"),
    ({"ddp": "true", "gpu": "all"}, ("python", "t.py"), "--gpu takes an integer"),
    ({"ddp": "true", "rdzv_endpoint": "a b:1"}, ("python", "t.py"), "HOST:PORT"),
])
def test_ddp_option_errors(options, command, message):
    with pytest.raises(LaunchError, match=message):
        ddp(options, command)


def test_ddp_refuses_a_job_range():
    with pytest.raises(LaunchError, match="not a job range"):
        pop_ddp_request({"ddp": "true"}, JobArray(log="l.JOB.log", command=("python", "t.py"),
                                                  var="JOB", start=1, end=2))


def test_node_log_names():
    assert node_log("exp/st/train.log", "gpu07") == "exp/st/train.gpu07.log"
    assert node_log("exp/st/train", "gpu07") == "exp/st/train.gpu07.log"


def test_local_multi_node_needs_an_endpoint(tmp_path, monkeypatch):
    monkeypatch.delenv("SPTOK_RDZV_ENDPOINT", raising=False)
    res = run_launch(["--ddp", "true", "--num_nodes", "2", "log/t.log", sys.executable, "t.py"],
                     tmp_path, env={k: v for k, v in os.environ.items()
                                    if k != "SPTOK_RDZV_ENDPOINT"})
    assert res.returncode == 2
    assert "--rdzv_endpoint HOST:PORT (or SPTOK_RDZV_ENDPOINT)" in res.stderr


# ---- local backend, for real -------------------------------------------------------------------

def test_local_two_cpu_processes(tmp_path):
    (tmp_path / "reduce.py").write_text(ALL_REDUCE)
    res = run_launch(["--ddp", "true", "--nproc_per_node", "2", "--num_threads", "1",
                      "log/train.log", sys.executable, "reduce.py"], tmp_path)
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


# ---- slurm: the script of a multi-node training ------------------------------------------------

FAKE_SBATCH = textwrap.dedent("""\
    #!/usr/bin/env bash
    # Fake sbatch: records its arguments, prints a job id, runs the script once (a 2-node job is
    # only checked for its text; one "node" runs it).
    echo "$*" >> "${FAKE_SLURM_CALLS}"
    echo 731
    SLURM_JOB_ID=731 SLURM_JOB_NODELIST="fake[1-2]" bash "${@: -1}"
    """)
FAKE_SRUN = textwrap.dedent("""\
    #!/usr/bin/env bash
    echo "srun $*" >> "${FAKE_SLURM_CALLS}"
    while [ "${1#-}" != "$1" ]; do shift; done
    exec "$@"
    """)
FAKE_SCONTROL = textwrap.dedent("""\
    #!/usr/bin/env bash
    [ "$1 $2 $3" = "show hostnames fake[1-2]" ] && printf 'fake1\\nfake2\\n'
    """)
# Stands for python: prints the torchrun command line it was given.
FAKE_PYTHON = "#!/usr/bin/env bash\necho \"torchrun: $*\"\n"


def test_slurm_multi_node_script_through_fakes(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", FAKE_SRUN), ("scontrol", FAKE_SCONTROL),
                       ("python", FAKE_PYTHON)):
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    calls = tmp_path / "calls.txt"
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
               FAKE_SLURM_CALLS=str(calls))
    res = run_launch(["--backend", "slurm", "--ddp", "true", "--gpu", "4", "--num_nodes", "2",
                      "--num_threads", "3", "exp/train.log", "python", "-m", "sptok.bin.train",
                      "--config", "a b.yaml"], tmp_path, env)
    log = (tmp_path / "exp/train.log").read_text()
    assert res.returncode == 0, res.stderr + log
    script = (tmp_path / "exp/q/train.sh").read_text()
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=1", "#SBATCH --gpus-per-node 4",
                 "#SBATCH --cpus-per-task 12", "export OMP_NUM_THREADS=3"):
        assert line in script.splitlines(), line
    assert "srun --ntasks-per-node=1 --kill-on-bad-exit=1 --cpus-per-task=12 bash -c" in \
        calls.read_text()
    # The first node of the allocation hosts the rendezvous, on a port from the job id.
    assert ("torchrun: -m torch.distributed.run --nnodes 2 --nproc_per_node 4 --rdzv_backend "
            "c10d --rdzv_endpoint fake1:20731 --rdzv_id sptok-731 -m sptok.bin.train --config "
            "a b.yaml") in log


def test_slurm_ddp_text_with_a_given_endpoint():
    request, _ = ddp({"ddp": "true", "num_nodes": "2", "rdzv_endpoint": "head:29400",
                      "rdzv_id": "run1"})
    text = slurm_ddp_text(request, "scontrol")
    assert "scontrol" not in text and "rdzv_endpoint=head:29400;" in text
    assert "--rdzv_endpoint \"${rdzv_endpoint}\" --rdzv_id run1 -m sptok.bin.train" in text


# ---- local backend: GPU jobs spread over the GPUs ----------------------------------------------

# Each job records the GPUs it got and how many jobs ran beside it.
GPU_JOB = ('mkdir -p run; touch run/JOB; sleep 0.4; echo "$CUDA_VISIBLE_DEVICES $(ls run | wc -l)"'
           ' > gpu.JOB; rm run/JOB')


def test_local_gpu_jobs_get_gpus_of_their_own(tmp_path):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="3,5,7")
    res = run_launch(["--gpu", "1", "JOB=1:6", "log/g.JOB.log", "bash", "-c", GPU_JOB],
                     tmp_path, env)
    assert res.returncode == 0, res.stderr
    seen = [(tmp_path / f"gpu.{j}").read_text().split() for j in range(1, 7)]
    assert {gpu for gpu, _ in seen} <= {"3", "5", "7"}
    assert max(int(running) for _, running in seen) <= 3  # one job per GPU at a time
    assert ", GPUs " in (tmp_path / "log/g.1.log").read_text()
    res = run_launch(["--gpu", "2", "JOB=1:2", "log/h.JOB.log", "bash", "-c", GPU_JOB],
                     tmp_path, env)
    assert res.returncode == 0, res.stderr
    assert [(tmp_path / f"gpu.{j}").read_text().split()[0] for j in (1, 2)] == ["3,5", "3,5"]
    res = run_launch(["--gpu", "4", "log/i.log", "true"], tmp_path, env)
    assert res.returncode == 2 and "--gpu 4: only 3 GPU(s) here (3,5,7)" in res.stderr


def test_local_gpus_from_nvidia_smi_or_none(tmp_path):
    smi = tmp_path / "smi"
    smi.write_text("#!/usr/bin/env bash\necho 'GPU 0: NVIDIA H100 (UUID: a)'\n"
                   "echo 'GPU 1: NVIDIA H100 (UUID: b)'\n")
    smi.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    res = run_launch(["--gpu", "1", "JOB=1:2", "log/g.JOB.log", "bash", "-c", GPU_JOB],
                     tmp_path, dict(env, SPTOK_NVIDIA_SMI=str(smi)))
    assert res.returncode == 0, res.stderr
    assert {(tmp_path / f"gpu.{j}").read_text().split()[0] for j in (1, 2)} <= {"0", "1"}
    # No GPU on this machine: --gpu is ignored (the job runs, nothing is set).
    res = run_launch(["--gpu", "1", "log/n.log", "bash", "-c",
                      'echo "[${CUDA_VISIBLE_DEVICES-unset}]"'],
                     tmp_path, dict(env, SPTOK_NVIDIA_SMI=str(tmp_path / "missing")))
    assert res.returncode == 0, res.stderr
    assert "[unset]" in (tmp_path / "log/n.log").read_text()
