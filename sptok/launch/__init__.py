"""The job launcher behind the recipes' ``$cmd JOB=1:N log/x.JOB.log program args`` (Kaldi's
run.pl and slurm.pl in Python); command line: ``python -m sptok.bin.launch -h``.

request (options, job range, log) -> job_array (the jobs as bash text) -> a backend: local
(runner: processes here, gpus: one GPU group per running job) or slurm (slurm_config: options to
sbatch options, sbatch_script: the array script) -> logs (header, footer, exit codes, failure
report). A ``--ddp true`` training becomes a torchrun job (ddp; rendezvous and slurm_ddp for
several nodes).
"""
from sptok.launch.ddp import DDPRequest, pop_ddp_request
from sptok.launch.errors import LaunchError
from sptok.launch.interrupt import Interrupted
from sptok.launch.job_array import JobArray, shell_word
from sptok.launch.local import launch_local
from sptok.launch.logs import failure_report, read_exit_code
from sptok.launch.request import USAGE, Request, parse_request
from sptok.launch.runner import run_jobs
from sptok.launch.slurm import launch_slurm
from sptok.launch.slurm_config import DEFAULT_SLURM_CONFIG, parse_slurm_config, slurm_arguments

__all__ = ["DDPRequest", "DEFAULT_SLURM_CONFIG", "Interrupted", "JobArray", "LaunchError",
           "Request", "USAGE", "failure_report", "launch_local", "launch_slurm",
           "parse_request", "parse_slurm_config", "pop_ddp_request", "read_exit_code", "run_jobs",
           "shell_word", "slurm_arguments"]
