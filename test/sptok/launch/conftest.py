"""Fixtures of the launcher tests: the launcher's command line run as a subprocess, and fake
Slurm programs (sbatch, srun, scontrol) that record their calls and run what they are given."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable, Tuple

import pytest

FAKE_SBATCH = textwrap.dedent("""\
    #!{python}
    # Fake sbatch: records its arguments, prints a job id (--parsable; FAKE_SLURM_JOB_ID or 4242),
    # runs every array task of the script like slurm would, exits with the highest task exit
    # code (--wait). A job without --array runs once, as on the first node of its allocation.
    import os, re, subprocess, sys
    args = sys.argv[1:]
    with open(os.environ["FAKE_SLURM_CALLS"], "a") as f:
        f.write(" ".join(args) + "\\n")
    script = args[-1]
    assert "--wait" in args and "--parsable" in args
    text = open(script).read()
    m = re.search(r"^#SBATCH --array=(\\d+)-(\\d+)", text, re.M)
    tasks = range(int(m.group(1)), int(m.group(2)) + 1) if m else [None]
    job_id = os.environ.get("FAKE_SLURM_JOB_ID", "4242")
    print(job_id, flush=True)
    code = 0
    for t in tasks:
        env = dict(os.environ, SLURM_JOB_ID=job_id)
        if t is not None:
            env["SLURM_ARRAY_TASK_ID"] = str(t)
        code = max(code, subprocess.run(["bash", script], env=env).returncode)
    sys.exit(code)
    """)

FAKE_SRUN = textwrap.dedent("""\
    #!/usr/bin/env bash
    # Fake srun: records "srun OPTIONS...", runs the command after the options.
    echo "srun $*" >> "${FAKE_SLURM_CALLS}"
    while [ "${1#-}" != "$1" ]; do
        case "$1" in --*=*) shift ;; *) shift 2 ;; esac
    done
    exec "$@"
    """)

# The nodes of every fake allocation: SLURM_JOB_NODELIST="fake[1-2]".
FAKE_SCONTROL = textwrap.dedent("""\
    #!/usr/bin/env bash
    [ "$1 $2 $3" = "show hostnames fake[1-2]" ] && printf 'fake1\\nfake2\\n'
    """)


@pytest.fixture
def run_launch() -> Callable[..., subprocess.CompletedProcess]:
    """``run_launch(args, cwd, env=None, timeout=60)``: ``python -m sptok.bin.launch ARGS``."""

    def run(args, cwd: Path, env=None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sptok.bin.launch", *args], cwd=cwd,
                              env=env, capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture
def fake_slurm(tmp_path: Path) -> Tuple[Path, dict, Path]:
    """(work directory, environment with the fakes first on PATH, file of recorded calls); the
    fakes are in tmp_path/fakebin."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    (bindir / "sbatch").write_text(FAKE_SBATCH.format(python=sys.executable))
    (bindir / "srun").write_text(FAKE_SRUN)
    (bindir / "scontrol").write_text(FAKE_SCONTROL)
    for f in bindir.iterdir():
        f.chmod(0o755)
    calls = tmp_path / "calls.txt"
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
               FAKE_SLURM_CALLS=str(calls))
    work = tmp_path / "work"
    work.mkdir()
    return work, env, calls
