#!/usr/bin/env bash
# Functions shared by the recipe scripts. Source it: . scripts/utils/lib.sh

# log MESSAGE...: time and place (script:line:function) then the message, on stderr.
log() {
    local fname=${BASH_SOURCE[1]##*/}
    printf '%s (%s:%s:%s) %s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "${fname}" "${BASH_LINENO[0]}" \
        "${FUNCNAME[1]:-main}" "$*" >&2
}

# die MESSAGE...: log the message as an error and exit 1.
die() {
    local fname=${BASH_SOURCE[1]##*/}
    printf '%s (%s:%s:%s) ERROR: %s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "${fname}" \
        "${BASH_LINENO[0]}" "${FUNCNAME[1]:-main}" "$*" >&2
    exit 1
}

# min N...: the smallest of the integers.
min() {
    local m=$1 n
    for n in "$@"; do
        [ "${n}" -lt "${m}" ] && m=${n}
    done
    echo "${m}"
}

# in_list WORD LIST...: true when WORD is one of LIST.
in_list() {
    local word=$1 item
    shift
    for item in "$@"; do
        [ "${item}" != "${word}" ] || return 0
    done
    return 1
}

# Done markers make stages resumable: a step writes MARKER, holding the signature of what it
# was made from (options, checksums of its inputs), as its last act. A re-run skips the step when
# MARKER holds the same signature, and redoes it when the marker is missing (the step was
# interrupted) or differs (options or inputs changed).

# is_done MARKER SIGNATURE: true when MARKER exists and holds SIGNATURE.
is_done() {
    [ -f "$1" ] && [ "$(cat "$1")" = "$(printf '%s\n' "$2")" ]
}

# mark_done MARKER SIGNATURE: write SIGNATURE to MARKER (through a temporary name).
mark_done() {
    printf '%s\n' "$2" > "$1.tmp"
    mv "$1.tmp" "$1"
}

# checksums FILE...: one `cksum` line per existing file (a signature of inputs).
checksums() {
    local f
    for f in "$@"; do
        if [ -f "${f}" ]; then
            cksum < "${f}" | sed "s|\$| ${f##*/}|"
        fi
    done
}

# check_positive_int NAME VALUE: exit with an error unless VALUE is an integer >= 1.
check_positive_int() {
    if ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ]; then
        die "--$1 takes an integer >= 1, got '$2'"
    fi
}

# begin_step DIR SIGNATURE: false when DIR is complete (DIR/.done holds SIGNATURE). Otherwise
# true, with DIR ready for the step: a run interrupted with the same SIGNATURE (DIR/.signature)
# leaves DIR as it was, so that jobs can skip the parts they finished; anything else starts with
# an empty DIR. Finish the step with end_step DIR SIGNATURE.
begin_step() {
    if is_done "$1/.done" "$2"; then
        return 1
    fi
    if is_done "$1/.signature" "$2"; then
        log "resuming $1: work of the interrupted run is kept"
        rm -f "$1/.done"
    else
        rm -rf "$1"
        mkdir -p "$1"
        mark_done "$1/.signature" "$2"
    fi
}

# end_step DIR SIGNATURE: mark DIR complete (see begin_step).
end_step() {
    mark_done "$1/.done" "$2"
    rm -f "$1/.signature"
}

# conf_words FILE: the words of an options file (one "--name value" per line, # comments), one
# per line, for `mapfile -t args < <(conf_words FILE)`. Values cannot hold spaces.
conf_words() {
    [ -f "$1" ] || die "$1: no such options file"
    sed -e 's/#.*//' "$1" | tr -s '[:blank:]' '\n' | sed '/^$/d'
}

# split_for_jobs PYTHON TABLE N OUT_PREFIX: split TABLE into N contiguous parts OUT_PREFIX.1 ...
# OUT_PREFIX.N, one per job (Kaldi's split_scp.pl; N at most the number of lines).
split_for_jobs() {
    local python=$1 table=$2 num_parts=$3 prefix=$4 n
    local parts=()
    for n in $(seq "${num_parts}"); do
        parts+=("${prefix}.${n}")
    done
    mkdir -p "$(dirname "${prefix}")"
    "${python}" -m sptok.bin.split_scp "${table}" "${parts[@]}"
}

# merge_parts OUT PREFIX SUFFIX N: the lines of the N job outputs PREFIX<n>SUFFIX (n = 1..N),
# sorted by key (C locale), into OUT (through a temporary name).
merge_parts() {
    local out=$1 prefix=$2 suffix=$3 num_parts=$4 n
    for n in $(seq "${num_parts}"); do
        cat "${prefix}${n}${suffix}"
    done | LC_ALL=C sort > "${out}.tmp"
    mv "${out}.tmp" "${out}"
}

# file_stamps PATH: name, size and modification time of PATH (a file, or the files directly in a
# directory): a cheap signature of model weights.
file_stamps() {
    find "$1" -maxdepth 1 -type f -printf '%f %s %T@\n' | LC_ALL=C sort
}
