#!/usr/bin/env bash
# Command-line options for recipe scripts (Kaldi/ESPnet style). Source it, do not run it:
#
#   stage=1            # first stage to run
#   use_gpu=false      # run on a GPU
#   . utils/parse_options.sh
#
# Every lower-case, not exported shell variable defined before this line is an option:
# `--name value` (or `--name=value`) sets it; dashes in the name count as underscores
# (`--stop-stage` sets stop_stage). An option whose current value is true or false only accepts
# true or false. An unknown name is an error that names it and prints the help. Parsing stops at
# the first argument that does not start with `--`; what is left stays in "$@" for the script.
#
# --help (-h) prints ${help_message} when the script sets it, then the options: every top-level
# `name=default  # comment` line above the line that sources this file, with the `# ...` comment
# lines among them as section titles.

# Prints the options block of script $1: the top-level assignments above the line that sources
# parse_options.sh, rendered as `--name default  # comment`.
_parse_options_list() {
    awk '
        /^[[:space:]]*(\.|source)[[:space:]].*parse_options\.sh/ { exit }
        /^help_message=/ { pending = ""; next }
        /^#/ && !/^#!/ && !/^# *shellcheck/ { pending = pending "  " $0 "\n"; next }
        /^[a-z_][a-z0-9_]*=/ {
            printf "%s", pending; pending = ""
            eq = index($0, "=")
            printf "  --%s %s\n", substr($0, 1, eq - 1), substr($0, eq + 1)
            next
        }
        { pending = "" }
    ' "$1"
}

_parse_options_help() {
    local script=${BASH_SOURCE[2]:-$0}
    if [ -n "${help_message:-}" ]; then
        printf '%s\n' "${help_message}"
    else
        echo "Usage: $0 [options]"
    fi
    echo "Options (defaults as written in ${script##*/}; --name value or --name=value):"
    _parse_options_list "${script}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help)
            _parse_options_help
            exit 0
            ;;
        --?*=*)
            _po_name=${1%%=*}
            _po_value=${1#*=}
            shift
            ;;
        --?*)
            if [ $# -lt 2 ]; then
                echo "$0: option $1 needs a value" >&2
                exit 1
            fi
            _po_name=$1
            _po_value=$2
            shift 2
            ;;
        *)
            break
            ;;
    esac
    _po_var=${_po_name#--}
    _po_var=${_po_var//-/_}
    # Only the script's own variables are options: not undefined names, not upper-case or
    # exported ones (PATH, HOME, http_proxy).
    if ! [[ ${_po_var} =~ ^[a-z_][a-z0-9_]*$ ]] || [ -z "${!_po_var+set}" ] \
        || [[ $(declare -p "${_po_var}") =~ ^declare\ -[a-zA-Z]*x ]]; then
        {
            echo "$0: unknown option ${_po_name}"
            _parse_options_help
            echo "$0: unknown option ${_po_name} (the list of options is above)"
        } >&2
        exit 1
    fi
    _po_old=${!_po_var}
    if { [ "${_po_old}" = true ] || [ "${_po_old}" = false ]; } \
        && [ "${_po_value}" != true ] && [ "${_po_value}" != false ]; then
        echo "$0: option ${_po_name} takes true or false, got '${_po_value}'" >&2
        exit 1
    fi
    printf -v "${_po_var}" '%s' "${_po_value}"
done
unset _po_name _po_value _po_var _po_old
true
