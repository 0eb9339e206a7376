"""SIGINT / SIGTERM while jobs run: turned into an exception in the main thread, so the launcher
can stop what it started before it exits."""
from __future__ import annotations

import signal
import subprocess
import threading
import time
from typing import Sequence


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class signals_raise:
    """Within the block, SIGINT and SIGTERM raise Interrupted in the main thread."""

    def __enter__(self) -> "signals_raise":
        self._old = {}
        # signal.signal works only in the main thread; elsewhere the caller's handlers stay.
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._raise)
        return self

    @staticmethod
    def _raise(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)


def terminate(procs: Sequence[subprocess.Popen], grace_s: float = 5.0) -> None:
    """SIGTERM to every process, then SIGKILL to those still there after ``grace_s``."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
