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
