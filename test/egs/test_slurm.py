"""A real single-node Slurm cluster on this machine (Debian's slurm-wlm and munge, which
tools/install.sh installs): a recipe's parallel stage runs as sbatch job arrays through cmd.sh's
slurm backend, and a 2-process CPU DDP training runs through utils/slurm.sh --ddp true (srun
starting torchrun inside the allocation, c10d rendezvous). Skipped, with the reason, where the
daemons are not installed or the test does not run as root (slurmd must)."""
from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import torch
import yaml

from sptok.data.kaldi_dir import read_kv_file

SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "sinfo", "scontrol", "scancel")


def find_program(name: str) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    return shutil.which(name, path=path)


def skip_reason() -> str | None:
    missing = [p for p in DAEMONS + CLIENTS if find_program(p) is None]
    if missing:
        return (f"Slurm / munge programs not installed: {', '.join(missing)} "
                "(Debian: apt-get install slurm-wlm munge; tools/install.sh does)")
    if os.geteuid() != 0:
        return "a test cluster's slurmd must run as root"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(skip_reason() is not None,
                                                    reason=skip_reason() or "")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SLURM_CONF = """\
ClusterName=sptoktest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
NodeName=localhost NodeHostname={host} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


class Cluster:
    """munged, slurmctld and slurmd of a one-node cluster, all under one directory."""

    def __init__(self, root: Path):
        self.root = root
        self.procs: List[subprocess.Popen] = []
        self.conf = root / "slurm.conf"
        self.env: Dict[str, str] = dict(os.environ, SLURM_CONF=str(self.conf))

    def start(self, timeout_s: float = 60.0) -> None:
        for sub in ("munge/key", "munge/run", "state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "munge/key").chmod(0o700)
        key = self.root / "munge/key/munge.key"
        key.write_bytes(os.urandom(128))
        key.chmod(0o400)
        socket_path = self.root / "munge/run/munge.socket"
        self.conf.write_text(SLURM_CONF.format(
            host=socket.gethostname().split(".")[0], ctld_port=free_port(), d_port=free_port(),
            munge_socket=socket_path, dir=self.root))
        # --force: munged refuses to run as root otherwise.
        self._spawn([find_program("munged"), "--foreground", "--force", f"--key-file={key}",
                     f"--socket={socket_path}", f"--pid-file={self.root}/munge/run/munged.pid",
                     f"--seed-file={self.root}/munge/run/seed",
                     f"--log-file={self.root}/log/munged.log"], "munged")
        self._wait(lambda: socket_path.exists(), "munged's socket", timeout_s)
        self._spawn([find_program("slurmctld"), "-D", "-i", "-f", str(self.conf)], "slurmctld")
        self._spawn([find_program("slurmd"), "-D", "-N", "localhost", "-f", str(self.conf)],
                    "slurmd")
        self._wait(self._idle, "the node to be idle in sinfo", timeout_s)

    def _spawn(self, argv: List[str], name: str) -> None:
        log = open(self.root / "log" / f"{name}.out", "wb")
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, env=self.env))
        log.close()

    def _idle(self) -> bool:
        res = subprocess.run(["sinfo", "-h", "-n", "localhost", "-o", "%t"], env=self.env,
                             capture_output=True, text=True)
        return res.returncode == 0 and res.stdout.strip() == "idle"

    def _wait(self, ready, what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            dead = [p for p in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead[0].args[0]} exited (code {dead[0].returncode}) "
                                   f"while waiting for {what}:\n{self.logs()}")
            if ready():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what}:\n{self.logs()}")

    def logs(self) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            text = path.read_text(errors="replace").splitlines()[-15:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def stop(self) -> None:
        """Daemons in reverse order: SIGTERM, then SIGKILL to any still there after 10 s."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def make_toy_recipe(root: Path, repo_root: Path, env: Dict[str, str]) -> Path:
    """The toy recipe of test/egs/conftest.py, made once per module (as the cluster is)."""
    spec = importlib.util.spec_from_file_location("egs_conftest_for_slurm",
                                                  repo_root / "test/egs/conftest.py")
    toy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toy)
    recipe = root / "egs" / "toy"
    subprocess.run([str(repo_root / "egs/TEMPLATE/setup.sh"), str(recipe)], check=True, env=env,
                   capture_output=True)
    (recipe / "local/data.sh").write_text(
        toy.TOY_DATA_SH.replace("TOY_SETS_REPR", toy._shell_single_quoted(repr(toy.TOY_SETS))))
    (recipe / "run.sh").write_text(toy.TOY_RUN_SH)
    return recipe


@pytest.fixture(scope="module")
def recipe_on_slurm(cluster, tmp_path_factory, repo_root, venv_env):
    """The toy recipe's stages 1-2 with SPTOK_CMD_BACKEND=slurm (stage 2: sbatch arrays)."""
    recipe = make_toy_recipe(tmp_path_factory.mktemp("toy"), repo_root, venv_env)
    env = dict(venv_env, SLURM_CONF=str(cluster.conf), SPTOK_CMD_BACKEND="slurm")
    proc = subprocess.run([str(recipe / "run.sh"), "--stop_stage", "2"], cwd=recipe, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:] + cluster.logs()
    return recipe, env


def test_parallel_stage_runs_as_slurm_job_arrays(recipe_on_slurm):
    recipe, _ = recipe_on_slurm
    logs = sorted((recipe / "exp/format/train/log").glob("format.*.log"))
    assert [p.name for p in logs] == ["format.1.log", "format.2.log"]
    for n, log in enumerate(logs, 1):
        text = log.read_text()
        assert f"task {n}" in text and "slurm job " in text and "# Ended (code 0)" in text
    script = (recipe / "exp/format/train/log/q/format.sh").read_text()
    assert "#SBATCH --array=1-2" in script
    # The arrays' work is the stage's output: every utterance formatted.
    for name in ("train", "dev", "test"):
        wav_scp = read_kv_file(recipe / "dump/raw" / name / "wav.scp")
        assert wav_scp and all((recipe / p).is_file() for p in wav_scp.values())


def test_two_process_cpu_training_through_srun(recipe_on_slurm, repo_root):
    recipe, env = recipe_on_slurm
    # The recipe's tiny tokenizer without its teacher (the toy recipe has no teacher features).
    config = yaml.safe_load(
        (repo_root / "egs/librispeech/conf/tuning/train_speechtokenizer_tiny.yaml").read_text())
    config.update(teacher="none", distill_loss="none")
    del config["teacher_conf"]
    (recipe / "conf/train_tiny.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        ["utils/slurm.sh", "--config", "conf/slurm.conf", "--ddp", "true", "--nproc_per_node",
         "2", "--num_threads", "1", "exp/ddp/train.log",
         "python", "-m", "sptok.bin.train", "--config", "conf/train_tiny.yaml", "--output_dir",
         "exp/ddp",
         "--train_data_dir", "dump/raw/train", "--valid_data_dir", "dump/raw/dev",
         "--batch_size", "1",
         "--valid_batch_size", "1", "--device", "cpu"],
        cwd=recipe, env=env, capture_output=True, text=True, timeout=300)
    log = (recipe / "exp/ddp/train.log").read_text() if (recipe / "exp/ddp/train.log").exists() \
        else "(no log)"
    assert proc.returncode == 0, proc.stderr[-3000:] + log[-3000:]
    assert "--rdzv_backend c10d" in log and "slurm job " in log
    assert "training finished at step 2" in log and "# Ended (code 0)" in log
    checkpoint = torch.load(recipe / "exp/ddp/checkpoint.pt", map_location="cpu",
                            weights_only=False)
    assert checkpoint["world_size"] == 2
    script = (recipe / "exp/ddp/q/train.sh").read_text()
    assert "#SBATCH --nodes=1" in script and "#SBATCH --cpus-per-task 2" in script
