#!/usr/bin/env bash
# Local job backend (Kaldi's run.pl):
#   utils/run.sh [--max_jobs_run N] [--num_threads N] [JOB=1:NJ] LOG program args ...
# runs the NJ jobs on this machine, at most --max_jobs_run (default: number of CPUs) at once.
# Distributed training (one job):
#   utils/run.sh --ddp true --gpu 8 LOG python -m sptok.bin.train ...
# runs it under torchrun, one process per GPU (--nproc_per_node N for CPU processes); across
# nodes without a scheduler, start the same command on every node with --num_nodes M and
# --rdzv_endpoint HOST:PORT (or SPTOK_RDZV_ENDPOINT=HOST:PORT). See sptok/bin/launch.py.
exec python -m sptok.bin.launch --backend local "$@"
