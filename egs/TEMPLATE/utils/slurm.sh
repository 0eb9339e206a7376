#!/usr/bin/env bash
# Slurm job backend (Kaldi's slurm.pl):
#   utils/slurm.sh [--config conf/slurm.conf] [--gpu N] [--mem M] [--num_threads N]
#       [--max_jobs_run N] [--srun true|false] [JOB=1:NJ] LOG program args ...
# submits one `sbatch --wait` job array (or runs each job through srun with --srun true).
# See sptok/bin/launch.py for the whole interface.
exec python -m sptok.bin.launch --backend slurm "$@"
