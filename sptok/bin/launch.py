"""Job launcher behind cmd.sh's ``$train_cmd`` / ``$cuda_cmd`` / ``$decode_cmd`` (Kaldi's run.pl and
slurm.pl, in Python).

Usage (the interface every backend shares)::

    python -m sptok.bin.launch --backend local|slurm [--gpu N] [--mem M] [--num_threads N]
        [--max_jobs_run N] [--config conf/slurm.conf] [--srun true|false]
        [--ddp true [--num_nodes M] [--nproc_per_node N] [--rdzv_endpoint HOST:PORT]
         [--rdzv_id ID]] [JOB=1:NJ] LOG program args ...

``JOB=1:NJ`` runs NJ jobs; the name left of ``=`` (here JOB) is replaced by the job number in the
log name and in every argument. Without it one job runs. Options come before the job range and
the log; ``--name value`` and ``--name=value`` both work, dashes count as underscores.

The command is run by ``bash -c``. Each argument reaches the program exactly as given (it is
shell-quoted), except arguments that are a shell operator by themselves (``|``, ``>``, ``2>&1``,
``&&``, ``;`` ...), which stay operators: ``$cmd log/x.log prog a "|" gzip ">" out.gz``.

Every job log gets a header (the command, start time, host) and a footer
``# Ended (code N) at ..., elapsed S s``. When jobs fail the launcher exits 1 and names each
failed job with its log and the log's last lines.

Distributed training (``--ddp true``, one job): the command is one training process, ``PYTHON -m
MODULE args`` or ``PYTHON SCRIPT.py args``; the launcher runs it under torchrun
(``PYTHON -m torch.distributed.run``) as ``--nproc_per_node`` processes (default: ``--gpu``, at
least 1; CPU training uses gloo) on each of ``--num_nodes`` nodes:

* one node: ``torchrun --standalone``;
* several nodes: a c10d rendezvous at ``--rdzv_endpoint HOST:PORT`` with id ``--rdzv_id``.
  The local backend runs this node's share: start the same command on every node (the endpoint
  may also come from SPTOK_RDZV_ENDPOINT); the rendezvous host writes LOG, the others
  ``<LOG without .log>.<host>.log``. Slurm allocates the nodes (``--nodes M
  --ntasks-per-node 1``) and ``srun`` starts one torchrun per node; the rendezvous is on the
  first node of the allocation, at a port derived from the job id, with the job id as its id.

``--num_threads`` is per process (Slurm gets ``--cpus-per-task`` = nproc_per_node x
num_threads), ``--gpu`` per node.

Backends:
    local: runs the jobs on this machine, at most --max_jobs_run at once (default: the number of
        CPUs). --num_threads N sets OMP_NUM_THREADS / MKL_NUM_THREADS for the jobs. --gpu N
        gives each running job N GPUs of its own (CUDA_VISIBLE_DEVICES; the GPUs are those of
        CUDA_VISIBLE_DEVICES, else of ``nvidia-smi -L``), so at most (GPUs / N) jobs run at
        once; without a GPU it is ignored. --mem and options only a scheduler understands
        (--time ...) are accepted and ignored, so one $cmd line works with every backend.
    slurm: one ``sbatch --wait`` job array (``--array=1-NJ%max_jobs_run``) whose script is written
        to LOGDIR/q/; options are mapped to sbatch options by a config file in ESPnet's format
        (see DEFAULT_SLURM_CONFIG in sptok/launch/slurm_config.py); an option the config does
        not map is an error. With --srun true each job runs through ``srun`` from here instead.
        Environment variables SPTOK_SBATCH, SPTOK_SRUN, SPTOK_SCANCEL and SPTOK_SCONTROL
        override the programs. Jobs get OMP_NUM_THREADS / MKL_NUM_THREADS from --num_threads
        here too.

The implementation is the package sptok.launch (one module per part).
"""
from __future__ import annotations

import sys
from typing import Optional, Sequence

from sptok.launch import LaunchError, parse_request
from sptok.launch.interrupt import Interrupted
from sptok.launch.local import launch_local
from sptok.launch.slurm import launch_slurm


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line ``argv`` (default: sys.argv[1:]); returns the exit status: 0, 1 when
    jobs failed, 2 for a usage error, 128 + N when signal N interrupted the launcher."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    try:
        request = parse_request(args)
        backend = request.options.pop("backend", "local")
        if backend == "local":
            return launch_local(request)
        if backend == "slurm":
            return launch_slurm(request)
        raise LaunchError(f"--backend must be local or slurm, got {backend!r}")
    except LaunchError as e:
        print(f"launch: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(f"launch: interrupted by {e}; running jobs were stopped", file=sys.stderr)
        return 128 + e.signum


if __name__ == "__main__":
    sys.exit(main())
