"""Runs the jobs of a :class:`~sptok.launch.job_array.JobArray` as local processes, a few at a
time, each writing its log; the local backend, and Slurm's ``--srun true`` mode (the same with an
``srun`` prefix)."""
from __future__ import annotations

import concurrent.futures
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Sequence

from sptok.launch.interrupt import Interrupted, signals_raise, terminate
from sptok.launch.job_array import JobArray
from sptok.launch.logs import log_footer, log_header
from sptok.launch.progress import JobProgress


def thread_env(threads: Optional[int]) -> Dict[str, str]:
    """Environment limiting each process to ``threads`` CPU threads (nothing for None)."""
    return {} if threads is None else {"OMP_NUM_THREADS": str(threads),
                                       "MKL_NUM_THREADS": str(threads)}


@dataclass
class _Running:
    """The processes running now; once ``stopping`` is set no job starts any more."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    procs: Dict[int, subprocess.Popen] = field(default_factory=dict)
    stopping: bool = False


def run_jobs(jobs: JobArray, max_jobs_run: int, prefix: Sequence[str] = (),
             env: Optional[Mapping[str, str]] = None, where: str = "",
             gpu_groups: Optional[Sequence[str]] = None) -> Dict[int, int]:
    """Run every job of ``jobs`` (``prefix + bash -c COMMAND``), at most ``max_jobs_run`` at once,
    each writing header, output and footer to its log. Returns job -> exit code.

    With ``gpu_groups`` (CUDA_VISIBLE_DEVICES values, e.g. ``["0", "1"]``) each running job
    holds one group of its own, and at most ``len(gpu_groups)`` jobs run at once.

    Raises:
        Interrupted: on SIGINT/SIGTERM, after killing the running jobs (their logs get a footer
            with the signal's negative code) and starting no more.
    """
    state = _Running()
    where = where or socket.gethostname()
    progress = JobProgress(len(jobs.ids))
    free_gpus: "queue.Queue[str]" = queue.Queue()
    for group in gpu_groups or ():
        free_gpus.put(group)
    if gpu_groups:
        max_jobs_run = min(max_jobs_run, len(gpu_groups))

    def run_one(job: int) -> int:
        if not gpu_groups:
            return run_on(job, None)
        group = free_gpus.get()
        try:
            return run_on(job, group)
        finally:
            free_gpus.put(group)

    def run_on(job: int, gpus: Optional[str]) -> int:
        log = jobs.log_for(job)
        log.parent.mkdir(parents=True, exist_ok=True)
        command = jobs.command_for(job)
        job_env = None if env is None and gpus is None else dict(env or os.environ)
        if gpus is not None:
            job_env["CUDA_VISIBLE_DEVICES"] = gpus
        with open(log, "w", encoding="utf-8") as f:
            f.write(log_header(command, where + (f", GPUs {gpus}" if gpus is not None else "")))
            f.flush()
            start = time.monotonic()
            # Checked and started under the lock, so an interrupt either sees this process or
            # stops it from starting.
            with state.lock:
                if state.stopping:
                    code = -signal.SIGTERM
                    f.write(log_footer(code, 0.0))
                    return code
                proc = subprocess.Popen([*prefix, "bash", "-c", command], stdout=f,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=job_env)
                state.procs[job] = proc
            code = proc.wait()
            with state.lock:
                state.procs.pop(job, None)
            f.write(log_footer(code, time.monotonic() - start))
        progress.done(code)
        return code

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, max_jobs_run))
    futures = {pool.submit(run_one, j): j for j in jobs.ids}
    codes: Dict[int, int] = {}
    try:
        with signals_raise():
            pending = set(futures)
            while pending:
                finished, pending = concurrent.futures.wait(pending, timeout=0.5)
                for fut in finished:
                    codes[futures[fut]] = fut.result()
    except Interrupted:
        with state.lock:
            state.stopping = True
            running = list(state.procs.values())
        terminate(running)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    progress.finish()
    return codes
