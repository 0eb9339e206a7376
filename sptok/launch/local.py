"""The local backend: runs the jobs on this machine (a distributed training as this node's
torchrun), spreading GPU jobs over the GPUs."""
from __future__ import annotations

import os
import socket

from sptok.launch.ddp import DDPRequest, pop_ddp_request
from sptok.launch.errors import LaunchError
from sptok.launch.gpus import gpu_groups_for, visible_gpus
from sptok.launch.job_array import JobArray
from sptok.launch.logs import report_failures
from sptok.launch.rendezvous import (check_endpoint, default_rdzv_id, endpoint_host,
                                     is_this_host, node_log)
from sptok.launch.request import Request, int_option
from sptok.launch.runner import run_jobs, thread_env


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def launch_local(request: Request) -> int:
    """Run the jobs here; 0 when all succeed, else 1 with a failure report on stderr. Jobs
    asking ``--gpu N`` get N GPUs of their own each (CUDA_VISIBLE_DEVICES), so that an array of
    GPU jobs spreads over the GPUs, as many at once as there are groups of N."""
    options = dict(request.options)
    jobs = request.jobs
    ddp = pop_ddp_request(options, jobs)
    max_jobs_run = int_option(options, "max_jobs_run", cpu_count())
    threads = int_option(options, "num_threads", 1) if "num_threads" in options else None
    env = dict(os.environ, **thread_env(threads))
    gpu_groups = None
    if ddp is not None:
        jobs = local_ddp_jobs(ddp, jobs)
        max_jobs_run = 1
    elif options.get("gpu", "0") != "0":
        if not options["gpu"].isdigit():
            raise LaunchError(f"--gpu takes an integer, got {options['gpu']!r}")
        gpu_groups = gpu_groups_for(int(options["gpu"]), visible_gpus())
    codes = run_jobs(jobs, max_jobs_run, env=env, gpu_groups=gpu_groups)
    return report_failures(jobs, codes)


def local_ddp_jobs(ddp: DDPRequest, jobs: JobArray) -> JobArray:
    """This node's torchrun as a single job: standalone on one node; on several, this node's
    share of a c10d rendezvous (the endpoint from --rdzv_endpoint or SPTOK_RDZV_ENDPOINT), logged
    to LOG on the rendezvous host and to ``<LOG without .log>.<host>.log`` on the others."""
    if ddp.num_nodes == 1:
        return JobArray(log=jobs.log_for(jobs.start).as_posix(),
                        command=tuple(ddp.torchrun(None, None)))
    endpoint = ddp.rdzv_endpoint or os.environ.get("SPTOK_RDZV_ENDPOINT") or None
    if endpoint is None:
        raise LaunchError(f"--num_nodes {ddp.num_nodes} with the local backend: give the "
                          "rendezvous --rdzv_endpoint HOST:PORT (or SPTOK_RDZV_ENDPOINT), the "
                          "same on every node, and start the command on every node")
    check_endpoint(endpoint, "--rdzv_endpoint" if ddp.rdzv_endpoint else "SPTOK_RDZV_ENDPOINT")
    log = jobs.log_for(jobs.start).as_posix()
    if not is_this_host(endpoint_host(endpoint)):
        log = node_log(log, socket.gethostname().split(".")[0])
    rdzv_id = ddp.rdzv_id or default_rdzv_id(jobs.log_for(jobs.start).as_posix())
    return JobArray(log=log, command=tuple(ddp.torchrun(endpoint, rdzv_id)))
