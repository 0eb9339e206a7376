#!/usr/bin/env bash
# Data preparation of the LibriSpeech recipe: Kaldi data directories from a local copy of
# LibriSpeech (LIBRISPEECH in db.sh), or of LibriTTS with --corpus libritts (LIBRITTS):
#   data/<subset>     for each of --train_subsets and --eval_subsets (train-clean-100 ->
#                     data/train_clean_100), with wav.scp (the .flac/.wav files themselves),
#                     text, utt2spk, spk2utt and spk2gender
#   data/<train_set>  the training subsets combined (unless --train_set is the only one's name)
#
#   local/data.sh [--train_set train_960] [--train_subsets a,b,c] [--eval_subsets a,b]
#       [--corpus librispeech|libritts] [--speaker reader|chapter]
#
# Stage 1 of sptok.sh runs it from the recipe directory with --local_data_opts. Lists are comma
# separated (sptok.sh splits --local_data_opts on spaces). Nothing is downloaded: a missing or
# malformed corpus is an error that names the file and says where to get the corpus.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    printf '%s (%s:%s:%s) %s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "${fname}" "${BASH_LINENO[0]}" \
        "${FUNCNAME[1]:-main}" "$*" >&2
}
SECONDS=0

corpus=librispeech     # librispeech (LIBRISPEECH in db.sh) or libritts (LIBRITTS)
train_set=train_960    # data/<train_set>: the training subsets combined
train_subsets=train-clean-100,train-clean-360,train-other-500  # subsets of the training set
eval_subsets=dev-clean,dev-other,test-clean,test-other         # subsets prepared on their own
speaker=reader         # speaker id: reader (the person), or chapter (reader-chapter, as Kaldi)
libritts_text=normalized  # LibriTTS transcript: normalized or original
data_dir=data          # the data directories go to DATA_DIR/<set>
python=python          # python interpreter with sptok installed

help_message="Usage: $0 [options]"

log "$0 $*"
. ./db.sh
. ./path.sh
. utils/parse_options.sh

if [ $# -ne 0 ]; then
    log "Error: no positional arguments are accepted (got: $*)"
    exit 2
fi
case "${corpus}" in
    librispeech) root=${LIBRISPEECH} ;;
    libritts) root=${LIBRITTS} ;;
    *) log "Error: --corpus takes librispeech or libritts, got '${corpus}'"; exit 2 ;;
esac
[ -n "${train_subsets}" ] || { log "Error: --train_subsets is empty"; exit 2; }

subsets=${train_subsets}${eval_subsets:+,${eval_subsets}}
combine_args=()
# A single training subset under its own name needs no combined copy.
if [ "${train_set}" != "${train_subsets//-/_}" ]; then
    combine_args=(--combine "${train_set}=${train_subsets}")
fi

log "Preparing ${corpus} subsets ${subsets} from ${root} -> ${data_dir}/<set>" \
    "(training set ${data_dir}/${train_set})"
"${python}" local/prepare_libri.py --corpus "${corpus}" --root "${root}" --subsets "${subsets}" \
    --data_dir "${data_dir}" --speaker "${speaker}" --libritts_text "${libritts_text}" \
    "${combine_args[@]}"

log "Successfully finished. [elapsed=${SECONDS}s]"
