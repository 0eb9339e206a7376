#!/usr/bin/env bash
# Slurm job backend (Kaldi's slurm.pl):
#   utils/slurm.sh [--config conf/slurm.conf] [--gpu N] [--mem M] [--num_threads N]
#       [--max_jobs_run N] [--srun true|false] [JOB=1:NJ] LOG program args ...
# submits one `sbatch --wait` job array (or runs each job through srun with --srun true).
# Distributed training (one job):
#   utils/slurm.sh --ddp true --gpu 8 --num_nodes 4 LOG python -m sptok.bin.train ...
# allocates 4 nodes and starts one torchrun per node through srun (8 processes each, c10d
# rendezvous on the first node). See sptok/bin/launch.py for the whole interface.
exec python -m sptok.bin.launch --backend slurm "$@"
