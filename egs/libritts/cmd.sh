# shellcheck shell=bash
# Job backend of the recipe scripts (sourced by sptok.sh). Each of $train_cmd, $cuda_cmd and
# $decode_cmd takes
#   $cmd [--gpu N] [--mem M] [--num_threads N] [--max_jobs_run N] JOB=1:NJ log/name.JOB.log \
#       program args ...
# (or `$cmd log/name.log program args ...` for one job); JOB in the log name and the arguments
# becomes the job number. `$cmd --ddp true --gpu N [--num_nodes M] log/train.log python -m ...`
# runs one training under torchrun: N processes per node (one per GPU), on M nodes.
#   local: jobs run on this machine, at most --max_jobs_run (default: number of CPUs) at once;
#          a multi-node training runs this node's share: start it on every node with
#          SPTOK_RDZV_ENDPOINT=<first node>:<port> set.
#   slurm: one sbatch job array per call; conf/slurm.conf maps the options to sbatch options;
#          a multi-node training is one allocation of M nodes with one srun task per node.
# Choose here, or per run with the environment variable SPTOK_CMD_BACKEND=local|slurm.
cmd_backend=${SPTOK_CMD_BACKEND:-local}

case "${cmd_backend}" in
    local)
        export train_cmd="utils/run.sh"
        export cuda_cmd="utils/run.sh"
        export decode_cmd="utils/run.sh"
        ;;
    slurm)
        export train_cmd="utils/slurm.sh --config conf/slurm.conf"
        export cuda_cmd="utils/slurm.sh --config conf/slurm.conf"
        export decode_cmd="utils/slurm.sh --config conf/slurm.conf"
        ;;
    *)
        echo "cmd.sh: unknown cmd_backend '${cmd_backend}' (known: local, slurm)" >&2
        return 1
        ;;
esac
