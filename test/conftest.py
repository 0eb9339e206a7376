"""Shared pytest fixtures."""
from __future__ import annotations

import os
import sys
from pathlib import Path

# Tests use tiny models, for which one thread per process is fastest, and the suite and its
# subprocesses must not oversubscribe a 2-core machine (measured: 2 threads made tiny-model
# steps 3-30x slower under load). Set before torch is imported by any test module.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def venv_env() -> dict:
    """Environment for subprocesses (shell recipes) that must find the venv's python first."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env
