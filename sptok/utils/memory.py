"""Peak memory of this process on CPU, for benchmarks (Linux: reads ``/proc/self/statm``).

torch's CPU tensors are invisible to ``tracemalloc``, and ``ru_maxrss`` is the peak of the whole
process (usually set by loading the weights), so the peak of one operation is measured from the
resident set size (RSS): a background thread samples it while the operation runs
(:class:`RssSampler`); subtract the RSS taken just before.

    release_free_memory()
    base = rss_bytes()
    with RssSampler() as sampler:
        run()
    peak = sampler.peak - base

The RSS follows the live tensors only when freed memory goes back to the OS: glibc maps large
blocks (128 KiB and more by default, at most 32 MiB once its threshold adapts) on their own and
unmaps them when freed; running with ``MALLOC_MMAP_THRESHOLD_=65536`` makes it do so for every
block of 64 KiB or more. Smaller blocks stay in the heap; :func:`release_free_memory` trims it.
"""
from __future__ import annotations

import ctypes
import gc
import os
import threading
import time
from typing import Optional

__all__ = ["rss_bytes", "release_free_memory", "RssSampler"]


def rss_bytes() -> int:
    """Resident set size of this process, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS, so that an RSS taken next holds
    live data only (a no-op for the heap where libc has no ``malloc_trim``)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class RssSampler:
    """Context manager: the highest RSS (bytes) seen while its block runs, in ``peak``.

    A daemon thread samples :func:`rss_bytes` every ``interval`` seconds; the RSS on entry and
    on exit count too. A peak that lasts less than ``interval`` may be missed. Each ``with``
    starts a new thread, so one sampler can measure several blocks (``peak`` restarts).

    Args:
        interval: seconds between samples (> 0).
    """

    def __init__(self, interval: float = 0.001):
        if not interval > 0:
            raise ValueError(f"RssSampler: interval must be positive, got {interval!r}")
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> "RssSampler":
        if self._thread is not None:
            raise RuntimeError("RssSampler: already sampling (nested 'with' of one sampler)")
        self.peak = rss_bytes()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="RssSampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._thread = None
        self.peak = max(self.peak, rss_bytes())
