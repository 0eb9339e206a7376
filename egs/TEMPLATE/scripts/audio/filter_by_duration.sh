#!/usr/bin/env bash
# Keep the utterances of a formatted data directory whose duration lies in
# [--min_wav_duration, --max_wav_duration] seconds (from utt2num_samples at --fs Hz).
#
#   scripts/audio/filter_by_duration.sh [options] SRC_DATA_DIR DST_DATA_DIR
#
# DST is built under DST.tmp and renamed when complete; its wav.scp points at SRC's audio.
# DST/.done records the limits and SRC's own .done: a re-run with the same ones does nothing.
# shellcheck source-path=SCRIPTDIR/../..
set -euo pipefail

. scripts/utils/lib.sh

fs=16000               # sampling rate of SRC's audio (Hz)
min_wav_duration=0.1   # shortest kept utterance (s)
max_wav_duration=20    # longest kept utterance (s)
python=python          # python interpreter with sptok installed

help_message="Usage: $0 [options] SRC_DATA_DIR DST_DATA_DIR"

. utils/parse_options.sh

if [ $# -ne 2 ]; then
    printf '%s\n' "${help_message}" >&2
    exit 2
fi
src=$1
dst=$2
[ -f "${src}/utt2num_samples" ] || die "${src}/utt2num_samples: no such file (format ${src} first)"
[ -f "${src}/.done" ] || die "${src} is incomplete (no ${src}/.done): format it first"

# The limits in samples; awk also checks that they are numbers.
read -r min_len max_len < <(awk -v fs="${fs}" -v lo="${min_wav_duration}" -v hi="${max_wav_duration}" '
    BEGIN {
        num = "^[0-9]+([.][0-9]*)?$"
        if (fs !~ num || lo !~ num || hi !~ num) exit 1
        printf "%d %d\n", lo * fs + 0.5, hi * fs + 0.5
    }') || die "--fs, --min_wav_duration and --max_wav_duration must be numbers," \
        "got '${fs}', '${min_wav_duration}', '${max_wav_duration}'"
[ "${min_len}" -le "${max_len}" ] \
    || die "--min_wav_duration ${min_wav_duration} exceeds --max_wav_duration ${max_wav_duration}"

signature="fs=${fs} min_wav_duration=${min_wav_duration} max_wav_duration=${max_wav_duration}
$(cat "${src}/.done")"
if is_done "${dst}/.done" "${signature}"; then
    log "${dst} is up to date (${dst}/.done)"
    exit 0
fi

tmp=${dst}.tmp
rm -rf "${tmp}"
mkdir -p "${tmp}"
awk -v lo="${min_len}" -v hi="${max_len}" '$2 >= lo && $2 <= hi' \
    "${src}/utt2num_samples" > "${tmp}/utt2num_samples"
num_in=$(wc -l < "${src}/utt2num_samples")
num_kept=$(wc -l < "${tmp}/utt2num_samples")
[ "${num_kept}" -ge 1 ] || die "no utterance of ${src} lasts ${min_wav_duration}-${max_wav_duration} s"
for f in wav.scp text utt2spk; do
    if [ -f "${src}/${f}" ]; then
        "${python}" -m sptok.bin.filter_scp --keys "${tmp}/utt2num_samples" "${src}/${f}" "${tmp}/${f}"
    fi
done
if [ -f "${src}/spk2utt" ]; then
    cp "${src}/spk2utt" "${tmp}/spk2utt"
fi
# fix_data_dir makes spk2utt (and everything else) agree with the kept utterances.
"${python}" -m sptok.bin.fix_data_dir "${tmp}"
rm -rf "${tmp}/.backup"   # the originals are in SRC
text_opt=()
if [ ! -f "${tmp}/text" ]; then
    text_opt=(--no_text)
fi
"${python}" -m sptok.bin.validate_data_dir "${text_opt[@]}" --fs "${fs}" "${tmp}"
mark_done "${tmp}/.done" "${signature}"
rm -rf "${dst}"
mv "${tmp}" "${dst}"
log "wrote ${dst}: kept ${num_kept} of ${num_in} utterances" \
    "(${min_wav_duration}-${max_wav_duration} s)"
