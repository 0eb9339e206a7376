#!/usr/bin/env bash
# Data preparation of the mini_synth recipe: synthesise the embedded multi-speaker English corpus
# (Debian's flite, festival and espeak-ng voices, sox pitch/tempo pseudo-speakers, seeded template
# sentences; nothing is downloaded) and write the Kaldi data directories
# data/{train,dev,test,test_unseen} plus data/mini_synth_stats.txt.
#
#   local/data.sh [--hours 2.5] [--seed 1] [--nj 2] [--mbrola false]
#
# Run from the recipe directory (stage 1 of sptok.sh does, with --local_data_opts). A re-run keeps
# the wav files already made with the same recipe, so an interrupted run resumes and a finished
# one only rewrites the data directories. No db.sh entry: nothing is downloaded.
# Sourced files: followed by `shellcheck -x` (paths from the recipe directory), else skipped.
# shellcheck source-path=SCRIPTDIR/.. disable=SC1091
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    printf '%s (%s:%s:%s) %s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "${fname}" "${BASH_LINENO[0]}" \
        "${FUNCNAME[1]:-main}" "$*" >&2
}
SECONDS=0

hours=2.5                    # target corpus length in hours (each set keeps a minimum size)
seed=1                       # fixes the sentences and which speaker says what
nj=2                         # utterances synthesised at once (about one per CPU core)
mbrola=false                 # add mbrola voices (non-free; needs Debian contrib packages)
data_dir=data                # Kaldi data directories go to DATA_DIR/<set>
wav_dir=downloads/mini_synth # wav files go to WAV_DIR/<speaker>/
python=python                # python interpreter with sptok installed

help_message="Usage: $0 [options]"

log "$0 $*"
. ./path.sh
. utils/parse_options.sh

if [ $# -ne 0 ]; then
    log "Error: no positional arguments are required (got: $*)"
    printf '%s\n' "${help_message}" >&2
    exit 2
fi

log "Synthesising mini_synth: ${hours} h, seed ${seed}, ${nj} jobs, mbrola ${mbrola}" \
    "-> ${data_dir}, audio in ${wav_dir}"
"${python}" -m sptok.bin.make_mini_synth \
    --out_dir "${data_dir}" \
    --wav_dir "${wav_dir}" \
    --hours "${hours}" \
    --seed "${seed}" \
    --nj "${nj}" \
    --mbrola "${mbrola}"

log "Successfully finished. [elapsed=${SECONDS}s]"
