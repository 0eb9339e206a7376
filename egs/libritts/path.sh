# shellcheck shell=bash
# Environment of the recipe scripts (sourced by sptok.sh and local/*.sh from the recipe directory).
# The repository is found through the recipe's utils symlink (-> egs/TEMPLATE/utils), so a
# recipe made by setup.sh outside egs/ works too.
_recipe_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MAIN_ROOT=$(cd "$(readlink -f "${_recipe_dir}/utils")/../../.." && pwd)
export MAIN_ROOT
unset _recipe_dir

# tools/install.sh's environment, where it exists (else the caller's python must have sptok).
if [ -x "${MAIN_ROOT}/tools/venv/bin/python" ]; then
    export PATH=${MAIN_ROOT}/tools/venv/bin:${PATH}
fi
export LC_ALL=C                # Kaldi files sort in byte order
export PYTHONIOENCODING=UTF-8
export OMP_NUM_THREADS=1       # jobs run in parallel; a job wanting more asks --num_threads N
# Progress bars go to log files in batch jobs: redraw them rarely there (tqdm reads TQDM_* defaults).
if [ ! -t 2 ]; then
    export TQDM_MININTERVAL=${TQDM_MININTERVAL:-30}
fi
