"""The launcher's command line (sptok.bin.launch): help, exit codes and messages of main; the
package sptok.launch is tested in test/sptok/launch/."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

from sptok.bin.launch import main
from sptok.launch.logs import read_exit_code


def test_help_prints_the_interface(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage (the interface every backend shares)" in out.lower()
    assert "--backend local|slurm" in out and "JOB=1:NJ" in out


def test_local_usage_error_exit_code(tmp_path):
    res = subprocess.run([sys.executable, "-m", "sptok.bin.launch", "--backend", "pbs",
                          "log/x.log", "true"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
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
