#!/usr/bin/env bash
# Format the audio of a Kaldi data directory: resample to --fs, cut segments out of their
# recordings, write one --audio_format file per utterance; the new wav.scp and utt2num_samples
# go to DST with copies of text, utt2spk and spk2utt.
#
#   scripts/audio/format_data_dir.sh [options] SRC_DATA_DIR DST_DATA_DIR
#
# The audio is written by --nj jobs (through --cmd) under DST/data/format.N/. DST/.done records
# the options and input checksums: a re-run with the same ones does nothing; after an
# interruption only the missing audio is made; changed options or inputs start DST afresh.
# shellcheck source-path=SCRIPTDIR/../..
set -euo pipefail

. scripts/utils/lib.sh

cmd=utils/run.sh     # job launcher ($train_cmd)
nj=32                # number of jobs (at most one per utterance)
fs=16000             # sampling rate of the output (Hz)
audio_format=wav     # output file format
logdir=              # job logs (default: DST/log)
python=python        # python interpreter with sptok installed

help_message="Usage: $0 [options] SRC_DATA_DIR DST_DATA_DIR"

. utils/parse_options.sh

if [ $# -ne 2 ]; then
    printf '%s\n' "${help_message}" >&2
    exit 2
fi
src=$1
dst=$2
logdir=${logdir:-${dst}/log}
check_positive_int nj "${nj}"
[ -f "${src}/wav.scp" ] || die "${src}/wav.scp: no such file (is ${src} a data directory?)"

# Utterances are the keys of segments when it exists (one recording, many utterances).
keys_file=${src}/wav.scp
if [ -f "${src}/segments" ]; then
    keys_file=${src}/segments
fi
num_utts=$(wc -l < "${keys_file}")
[ "${num_utts}" -ge 1 ] || die "${keys_file} is empty"
nj=$(min "${nj}" "${num_utts}")
signature="fs=${fs} audio_format=${audio_format} nj=${nj}
$(checksums "${src}"/{wav.scp,segments,text,utt2spk,spk2utt})"
if is_done "${dst}/.done" "${signature}"; then
    log "${dst} is up to date (${dst}/.done)"
    exit 0
fi

text_opt=()
if [ ! -f "${src}/text" ]; then
    text_opt=(--no_text)
fi
"${python}" -m sptok.bin.validate_data_dir "${text_opt[@]}" "${src}"
# DST/.signature names the work under way: an interrupted run with the same options and inputs
# keeps the audio already written (format_wav_scp skips existing files); anything else starts
# afresh.
if is_done "${dst}/.signature" "${signature}"; then
    log "resuming ${dst}: audio written by the interrupted run is kept"
    rm -rf "${dst}/split" "${dst}/.done"
    rm -f "${dst}"/*.tmp
    # temporary files of audio writes that were killed (sptok.utils.fileio names them .*.tmp*)
    if [ -d "${dst}/data" ]; then
        find "${dst}/data" -name '.*.tmp*' -type f -delete
    fi
else
    rm -rf "${dst}"
    mkdir -p "${dst}"
    mark_done "${dst}/.signature" "${signature}"
fi
log "formatting ${src} -> ${dst}: ${num_utts} utterances, ${nj} jobs, ${fs} Hz ${audio_format}" \
    "(logs: ${logdir}/format.*.log)"
mkdir -p "${dst}/split" "${logdir}"
split_files=()
for n in $(seq "${nj}"); do
    split_files+=("${dst}/split/${keys_file##*/}.${n}")
done
"${python}" -m sptok.bin.split_scp "${keys_file}" "${split_files[@]}"

read -r -a cmd_args <<< "${cmd}"
if [ -f "${src}/segments" ]; then
    "${cmd_args[@]}" JOB=1:"${nj}" "${logdir}/format.JOB.log" \
        "${python}" -m sptok.bin.format_wav_scp --fs "${fs}" --audio_format "${audio_format}" \
            --segments "${dst}/split/segments.JOB" "${src}/wav.scp" "${dst}/data/format.JOB"
else
    "${cmd_args[@]}" JOB=1:"${nj}" "${logdir}/format.JOB.log" \
        "${python}" -m sptok.bin.format_wav_scp --fs "${fs}" --audio_format "${audio_format}" \
            "${dst}/split/wav.scp.JOB" "${dst}/data/format.JOB"
fi

for f in wav.scp utt2num_samples; do
    for n in $(seq "${nj}"); do
        cat "${dst}/data/format.${n}/${f}"
    done | LC_ALL=C sort > "${dst}/${f}.tmp"
    mv "${dst}/${f}.tmp" "${dst}/${f}"
done
num_out=$(wc -l < "${dst}/wav.scp")
[ "${num_out}" -eq "${num_utts}" ] \
    || die "${dst}/wav.scp has ${num_out} utterances, ${keys_file} ${num_utts} (see ${logdir}/format.*.log)"
for f in text utt2spk spk2utt; do
    if [ -f "${src}/${f}" ]; then
        cp "${src}/${f}" "${dst}/${f}.tmp"
        mv "${dst}/${f}.tmp" "${dst}/${f}"
    fi
done
rm -rf "${dst}/split"
"${python}" -m sptok.bin.validate_data_dir "${text_opt[@]}" --fs "${fs}" "${dst}"
mark_done "${dst}/.done" "${signature}"
rm -f "${dst}/.signature"
log "wrote ${dst} (${num_out} utterances)"
