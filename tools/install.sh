#!/usr/bin/env bash
# Idempotent installer: brings what a fresh machine lacks and does nothing when all is there.
#   1. Debian packages the recipes call (sox, TTS engines, shellcheck)      [--apt true|false]
#   2. a virtual environment inside the repo: tools/venv                     [--venv DIR]
#   3. pinned pip packages (tools/requirements*.txt) and sptok itself (editable)
# torch: 2.13.0 (a CPU build where pip's configuration offers one, as on our CPU machines; PyPI's
# default CUDA build elsewhere). torchaudio: every wheel offered is a CUDA build pinned to another
# torch, so it is installed with --no-deps; beside a CPU torch its native libraries cannot load and
# are deleted, which leaves the pure-Python parts we use (transforms, resample, HuBERT models).
set -euo pipefail

log() { echo "[install $(date '+%H:%M:%S')] $*" >&2; }
die() { echo "[install] ERROR: $*" >&2; exit 1; }

tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname "${tools_dir}")
use_apt=true
venv_dir=${tools_dir}/venv
extras="test,eval"   # comma list of: test, eval
python=${PYTHON:-python3}

while [ $# -gt 0 ]; do
    case "$1" in
        --apt) use_apt=$2; shift 2 ;;
        --venv) venv_dir=$2; shift 2 ;;
        --extras) extras=$2; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) die "unknown option '$1' (known: --apt true|false, --venv DIR, --extras test,eval)" ;;
    esac
done
case "${use_apt}" in true|false) ;; *) die "--apt takes true or false, got '${use_apt}'" ;; esac

# ---- 1. Debian packages --------------------------------------------------------------------
# chromium: the SLMTokBench report test opens the HTML page headless. slurm-wlm, munge: the
# Slurm test (test/egs/test_slurm.py) starts its own one-node cluster from them.
apt_pkgs=(sox libsox-fmt-all espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k
          festvox-us-slt-hts shellcheck chromium slurm-wlm munge)
missing=()
for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "${use_apt}" = false ]; then
        log "skipping Debian packages (--apt false); missing: ${missing[*]}"
    else
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then
            command -v sudo > /dev/null || die "Debian packages missing (${missing[*]}) and not root, no sudo: install them, or rerun with --apt false"
            sudo=sudo
        fi
        log "installing Debian packages: ${missing[*]}"
        ${sudo} apt-get update -qq || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null \
            || die "apt-get install ${missing[*]} failed"
    fi
else
    log "Debian packages present"
fi

# ---- 2. virtual environment ----------------------------------------------------------------
if [ ! -x "${venv_dir}/bin/python" ]; then
    log "creating virtual environment ${venv_dir}"
    "${python}" -m venv "${venv_dir}" || die "python -m venv ${venv_dir} failed (Debian: apt-get install python3-venv)"
fi
vpy=${venv_dir}/bin/python

# ---- 3. pip packages -----------------------------------------------------------------------
req_files=("${tools_dir}/requirements.txt")
IFS=, read -r -a extra_list <<< "${extras}"
for e in "${extra_list[@]}"; do
    [ -z "$e" ] && continue
    [ -f "${tools_dir}/requirements-${e}.txt" ] || die "--extras: no tools/requirements-${e}.txt"
    req_files+=("${tools_dir}/requirements-${e}.txt")
done
stamp=${venv_dir}/.sptok-installed
want=$(cat "$0" "${req_files[@]}" "${repo_dir}/setup.py" "${tools_dir}"/requirements*-nodeps.txt 2>/dev/null | sha1sum | cut -d' ' -f1)
if [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${want}" ]; then
    log "virtual environment up to date (${venv_dir})"
    exit 0
fi

pip=("${vpy}" -m pip install --quiet --disable-pip-version-check)
log "installing torch==2.13.0"
"${pip[@]}" torch==2.13.0 || die "pip install torch==2.13.0 failed"
log "installing torchaudio==2.11.0 (--no-deps)"
"${pip[@]}" --no-deps torchaudio==2.11.0 || die "pip install torchaudio==2.11.0 failed"
if [ "$("${vpy}" -c 'import torch; print(torch.version.cuda is None)')" = True ]; then
    ta_lib=$("${vpy}" -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("torchaudio").origin), "lib"))')
    if compgen -G "${ta_lib}/*.so" > /dev/null; then
        log "CPU torch: removing torchaudio's CUDA-only native libraries (${ta_lib}/*.so)"
        rm -f "${ta_lib}"/*.so
    fi
fi
for f in "${req_files[@]}"; do
    log "installing $(basename "$f")"
    "${pip[@]}" -r "$f" || die "pip install -r $f failed"
    # Packages whose declared dependencies would replace our torch or pull unused stacks (e.g. the
    # official speechtokenizer package, used only to check checkpoint compatibility).
    nodeps=${f%.txt}-nodeps.txt
    if [ -f "${nodeps}" ]; then
        log "installing $(basename "${nodeps}") (--no-deps)"
        "${pip[@]}" --no-deps -r "${nodeps}" || die "pip install --no-deps -r ${nodeps} failed"
    fi
done
log "installing sptok (editable)"
"${pip[@]}" --no-deps -e "${repo_dir}" || die "pip install -e ${repo_dir} failed"
"${vpy}" -c 'import torch, torchaudio, soundfile, kaldiio, sentencepiece, yaml, sptok' \
    || die "the environment does not import (torch, torchaudio, soundfile, kaldiio, sentencepiece, yaml, sptok)"
echo "${want}" > "${stamp}"
log "done: $("${vpy}" -c 'import torch, torchaudio; print("torch", torch.__version__, "torchaudio", torchaudio.__version__)')"
