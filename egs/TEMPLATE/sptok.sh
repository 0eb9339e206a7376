#!/usr/bin/env bash
# sptok task script: speech tokenizer recipes (SpeechTokenizer, SLMTokBench, USLM) in ESPnet egs2
# style. A corpus recipe's run.sh calls it (./sptok.sh -> ../TEMPLATE/sptok.sh) with its data sets
# and configs; run it from the recipe directory. `./sptok.sh --help` lists the options.
#
# Stages:
#   1  data preparation: local/data.sh makes the Kaldi data dirs data/<set>
#   2  format: resample to --fs and write one audio file per utterance (dump/raw/<set>), then
#      keep the train/valid utterances of --min_wav_duration..--max_wav_duration seconds
#
# A finished step leaves a .done marker holding the options and input checksums it was made
# with; a re-run skips it when they match and redoes it when it was interrupted or they changed.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

if [ ! -f scripts/utils/lib.sh ] || [ ! -f utils/parse_options.sh ]; then
    echo "$0: run me from a recipe directory (egs/<corpus>, with its scripts and utils links)," \
        "not from $(pwd)" >&2
    exit 1
fi
. scripts/utils/lib.sh

SECONDS=0

# General configuration
stage=1               # first stage to run
stop_stage=10000      # last stage to run
skip_install=false    # skip tools/install.sh (which brings the environment up to date first)
install_opts=         # options of tools/install.sh, e.g. "--apt false"
nj=32                 # number of parallel jobs
dumpdir=dump          # formatted audio and features
expdir=exp            # experiments and logs
python=python         # python interpreter with sptok installed
quick=false           # a quick pass over every stage at tiny sizes (smoke test of a recipe)

# Data preparation (stage 1)
local_data_opts=      # options of local/data.sh
quick_data_opts=      # options added to local_data_opts with --quick true (what makes the corpus tiny)

# Audio formatting (stage 2)
fs=16000              # sampling rate of the formatted audio (Hz; "16k" also works)
audio_format=wav      # file format of the formatted audio
min_wav_duration=0.1  # train/valid utterances shorter than this (seconds) are dropped
max_wav_duration=20   # train/valid utterances longer than this (seconds) are dropped

# Data sets: local/data.sh makes data/<set> for each
train_set=            # training set
valid_set=            # validation set
test_sets=            # evaluation sets, space separated

help_message="Usage: $0 [options]   (from a recipe directory, usually through its run.sh)"

log "$0 $(printf "%q " "$@")"
. utils/parse_options.sh

[ $# -eq 0 ] || die "unexpected arguments: $* (options are --name value; see --help)"
for f in path.sh cmd.sh; do
    [ -e "${f}" ] || die "no ${f} here ($(pwd)): run $0 from a recipe directory (egs/<corpus>)"
done
check_positive_int nj "${nj}"
[ -n "${train_set}" ] || die "--train_set is required"
[ -n "${valid_set}" ] || die "--valid_set is required"
read -r -a test_set_list <<< "${test_sets}"

# Sampling rate in Hz: "16k" -> 16000.
fs_hz=$(awk -v f="${fs}" 'BEGIN {
    m = 1
    if (f ~ /[kK]$/) { m = 1000; sub(/[kK]$/, "", f) }
    if (f !~ /^[0-9]+([.][0-9]+)?$/ || f * m != int(f * m) || f * m <= 0) exit 1
    printf "%d", f * m
}') || die "--fs takes a sampling rate in Hz (16000) or kHz (16k), got '${fs}'"

# local/data.sh's options, split into words (their spacing does not matter).
read -r -a data_args <<< "${local_data_opts}"
if "${quick}"; then
    read -r -a quick_args <<< "${quick_data_opts}"
    data_args+=("${quick_args[@]}")
    log "quick mode: a pass over every stage at tiny sizes (local/data.sh ${data_args[*]})"
fi

if ! "${skip_install}"; then
    main_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
    read -r -a install_args <<< "${install_opts}"
    "${main_root}/tools/install.sh" "${install_args[@]}"
fi
. ./path.sh
. ./cmd.sh


if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    log "Stage 1: data preparation: local/data.sh ${data_args[*]}" \
        "-> data/<set> for ${train_set} ${valid_set} ${test_set_list[*]}"
    # Redone when its options or the script change, or a data dir is missing.
    signature="local/data.sh ${data_args[*]}
$(checksums local/data.sh)"
    data_dirs_present=true
    for dset in "${train_set}" "${valid_set}" "${test_set_list[@]}"; do
        [ -f "data/${dset}/wav.scp" ] || data_dirs_present=false
    done
    [ -x local/data.sh ] || die "local/data.sh: missing or not executable"
    if "${data_dirs_present}" && is_done data/.done "${signature}"; then
        log "Stage 1: data/ is up to date (data/.done)"
    else
        rm -f data/.done
        mkdir -p "${expdir}/data_prep/log"
        log "Stage 1: log in ${expdir}/data_prep/log/data.log"
        local/data.sh "${data_args[@]}" 2>&1 | tee "${expdir}/data_prep/log/data.log" >&2 \
            || die "local/data.sh failed (log: ${expdir}/data_prep/log/data.log)"
        for dset in "${train_set}" "${valid_set}" "${test_set_list[@]}"; do
            [ -f "data/${dset}/wav.scp" ] \
                || die "local/data.sh did not make data/${dset}/wav.scp (see ${expdir}/data_prep/log/data.log)"
        done
        mark_done data/.done "${signature}"
    fi
fi


if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: format data/<set> -> ${dumpdir}/raw/<set> (${fs_hz} Hz ${audio_format});" \
        "train/valid keep ${min_wav_duration}-${max_wav_duration} s"
    for dset in "${train_set}" "${valid_set}" "${test_set_list[@]}"; do
        [ -f "data/${dset}/wav.scp" ] || die "data/${dset}/wav.scp: no such file (run stage 1)"
        if [ "${dset}" = "${train_set}" ] || [ "${dset}" = "${valid_set}" ]; then
            formatted=${dumpdir}/raw/org/${dset}
        else
            formatted=${dumpdir}/raw/${dset}
        fi
        scripts/audio/format_data_dir.sh --cmd "${train_cmd}" --nj "${nj}" --fs "${fs_hz}" \
            --audio_format "${audio_format}" --logdir "${expdir}/format/${dset}/log" \
            --python "${python}" "data/${dset}" "${formatted}"
        if [ "${dset}" = "${train_set}" ] || [ "${dset}" = "${valid_set}" ]; then
            scripts/audio/filter_by_duration.sh --fs "${fs_hz}" \
                --min_wav_duration "${min_wav_duration}" --max_wav_duration "${max_wav_duration}" \
                --python "${python}" "${formatted}" "${dumpdir}/raw/${dset}"
        fi
    done
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
