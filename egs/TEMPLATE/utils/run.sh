#!/usr/bin/env bash
# Local job backend (Kaldi's run.pl):
#   utils/run.sh [--max_jobs_run N] [--num_threads N] [JOB=1:NJ] LOG program args ...
# runs the NJ jobs on this machine, at most --max_jobs_run (default: number of CPUs) at once.
# See sptok/bin/launch.py for the whole interface.
exec python -m sptok.bin.launch --backend local "$@"
