"""The Slurm backend: one ``sbatch --wait`` job array, or ``srun`` per job from here
(``--srun true``); a distributed training as one task per node running that node's torchrun."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Sequence

from sptok.launch.ddp import DDPRequest, pop_ddp_request
from sptok.launch.interrupt import Interrupted, signals_raise, terminate
from sptok.launch.job_array import JobArray
from sptok.launch.logs import read_exit_code, report_failures
from sptok.launch.request import Request, bool_option, int_option
from sptok.launch.runner import run_jobs, thread_env
from sptok.launch.sbatch_script import job_name, sbatch_script
from sptok.launch.slurm_config import SlurmConfig, load_slurm_config, slurm_arguments
from sptok.launch.slurm_ddp import slurm_ddp_text


def launch_slurm(request: Request) -> int:
    """Run the jobs through Slurm (one sbatch array, or srun per job with --srun true); 0 when
    all succeed, else 1 with a failure report on stderr."""
    options = dict(request.options)
    use_srun = bool_option(options, "srun", False)
    options.pop("srun", None)
    jobs = request.jobs
    ddp = pop_ddp_request(options, jobs)
    max_jobs_run = int_option(options, "max_jobs_run", len(jobs.ids))
    options.pop("max_jobs_run", None)
    threads = int_option(options, "num_threads", 1) if "num_threads" in options else None
    env = thread_env(threads)
    placement: List[str] = []
    if ddp is not None:
        # One task per node holds the node's torchrun and the CPUs of all its processes.
        options["num_threads"] = str(ddp.nproc_per_node * (threads or 1))
        placement = [f"--nodes={ddp.num_nodes}", "--ntasks-per-node=1"]
    config = load_slurm_config(options)
    scheduler_args = placement + slurm_arguments(config, options)
    srun = os.environ.get("SPTOK_SRUN", "srun")
    if ddp is not None:
        jobs = _node_task(ddp, jobs, srun, options["num_threads"], in_allocation=not use_srun)
    if use_srun:
        return _run_with_srun(jobs, srun, scheduler_args, max_jobs_run, env,
                              distributed=ddp is not None, named="name" in options)
    return _submit_array(jobs, config, scheduler_args, max_jobs_run, env)


def _node_task(ddp: DDPRequest, jobs: JobArray, srun: str, cpus: str,
               in_allocation: bool) -> JobArray:
    """The one job of a distributed training: each node's torchrun, started on every node by
    ``srun`` (inside the sbatch allocation) or as the command of the caller's ``srun``."""
    inner = slurm_ddp_text(ddp, os.environ.get("SPTOK_SCONTROL", "scontrol"))
    log = jobs.log_for(jobs.start).as_posix()
    if not in_allocation:
        return JobArray(log=log, command=("bash", "-c", inner))
    # srun inside the allocation: one task per node, each with the job's CPUs (srun
    # does not inherit sbatch's --cpus-per-task since Slurm 22.05).
    return JobArray(log=log, command=(srun, "--ntasks-per-node=1", "--kill-on-bad-exit=1",
                                      f"--cpus-per-task={cpus}", "bash", "-c", inner))


def _run_with_srun(jobs: JobArray, srun: str, scheduler_args: Sequence[str], max_jobs_run: int,
                   env: Mapping[str, str], distributed: bool, named: bool) -> int:
    """Every job through its own ``srun`` from here, at most ``max_jobs_run`` at once."""
    tasks = ["--kill-on-bad-exit=1"] if distributed else ["--ntasks=1"]  # ddp: --nodes placement
    prefix = [srun, *tasks, *([] if named else [f"--job-name={job_name(jobs)}"]),
              *scheduler_args]
    codes = run_jobs(jobs, max_jobs_run, prefix=prefix, env=dict(os.environ, **env),
                     where=f"{socket.gethostname()} via srun")
    return report_failures(jobs, codes)


def _submit_array(jobs: JobArray, config: SlurmConfig, scheduler_args: Sequence[str],
                  max_jobs_run: int, env: Dict[str, str]) -> int:
    """The jobs as one ``sbatch --wait`` array whose script is written to LOGDIR/q/; the job is
    cancelled when the launcher is interrupted."""
    qdir = Path(jobs.log).parent / "q"
    qdir.mkdir(parents=True, exist_ok=True)
    name = job_name(jobs)
    script_path = qdir / f"{name}.sh"
    output = os.path.abspath(qdir / (f"{name}.%a.out" if jobs.var else f"{name}.out"))
    script = sbatch_script(jobs, scheduler_args, os.getcwd(), output,
                           max_jobs_run if max_jobs_run < len(jobs.ids) else None, env=env)
    script_path.write_text(script, encoding="utf-8")
    for j in jobs.ids:  # a stale log from an earlier run must not count as this run's result
        jobs.log_for(j).unlink(missing_ok=True)

    sbatch = [os.environ.get("SPTOK_SBATCH", config.command[0]), *config.command[1:],
              "--parsable", "--wait", str(script_path)]
    proc = subprocess.Popen(sbatch, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    job_id = ""
    try:
        with signals_raise():
            assert proc.stdout is not None
            job_id = proc.stdout.readline().strip().split(";")[0]
            _, err = proc.communicate()
    except Interrupted:
        if job_id:
            subprocess.run([os.environ.get("SPTOK_SCANCEL", "scancel"), job_id], check=False)
        terminate([proc])
        raise
    if not job_id:
        print(f"launch: {' '.join(sbatch)} submitted nothing (exit code {proc.returncode}):\n"
              f"{err.strip()}", file=sys.stderr)
        return 1
    codes = {j: read_exit_code(jobs.log_for(j)) for j in jobs.ids}
    outs = {j: Path(output.replace("%a", str(j))) for j in jobs.ids}
    return report_failures(jobs, codes, outs,
                           note=f"\n  (slurm job {job_id}, script {script_path})")
