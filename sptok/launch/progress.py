"""Progress lines of a long job array."""
from __future__ import annotations

import sys
import threading
import time


class JobProgress:
    """One line to stderr at most every ``every_s`` seconds while jobs finish, so a long array
    shows it is moving without a line per job."""

    def __init__(self, total: int, every_s: float = 30.0):
        self.total, self.every_s = total, every_s
        self.ok = self.failed = 0
        self.start = self.last = time.monotonic()
        self.lock = threading.Lock()

    def done(self, code: int) -> None:
        """Count one finished job (exit code ``code``); called from the jobs' threads."""
        with self.lock:
            if code == 0:
                self.ok += 1
            else:
                self.failed += 1
            now = time.monotonic()
            finished = self.ok + self.failed
            if self.total > 1 and now - self.last >= self.every_s and finished < self.total:
                self.last = now
                print(f"launch: {finished}/{self.total} jobs done"
                      f"{f', {self.failed} failed' if self.failed else ''} "
                      f"({now - self.start:.0f} s)", file=sys.stderr, flush=True)

    def finish(self) -> None:
        elapsed = time.monotonic() - self.start
        if self.total > 1 and elapsed >= self.every_s:
            print(f"launch: {self.total} jobs finished in {elapsed:.0f} s", file=sys.stderr,
                  flush=True)
