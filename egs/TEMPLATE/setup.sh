#!/usr/bin/env bash
# Start a new corpus recipe from this template:
#
#   egs/TEMPLATE/setup.sh egs/<corpus>
#
# makes the directory with symlinks sptok.sh, utils, scripts -> the template's; copies of cmd.sh,
# path.sh, db.sh and conf/; a run.sh to adjust (data set names, sampling rate, configs); and a
# local/data.sh skeleton saying what to write (it fails until written). An existing directory is
# never touched.
set -euo pipefail

if [ $# -ne 1 ] || [ "${1#-}" != "$1" ]; then
    echo "Usage: $0 NEW_RECIPE_DIR   (e.g. $0 egs/librispeech)" >&2
    exit 2
fi
new_dir=${1%/}
template=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
if [ -e "${new_dir}" ] || [ -L "${new_dir}" ]; then
    echo "$0: ${new_dir} already exists; choose a new directory" >&2
    exit 1
fi
name=$(basename "${new_dir}")

# Built under a temporary name beside the target, renamed when complete.
tmp_dir=$(dirname "${new_dir}")/.${name}.setup.tmp
rm -rf "${tmp_dir}"
mkdir -p "${tmp_dir}/local"
trap 'rm -rf "${tmp_dir}"' EXIT

rel=$(realpath --relative-to="$(cd "${tmp_dir}" && pwd)" "${template}")
for f in sptok.sh utils scripts; do
    ln -s "${rel}/${f}" "${tmp_dir}/${f}"
done
cp "${template}"/{cmd.sh,path.sh,db.sh} "${tmp_dir}/"
cp -r "${template}/conf" "${tmp_dir}/conf"

cat > "${tmp_dir}/run.sh" << EOF
#!/usr/bin/env bash
# ${name} recipe. Stages and options: ./sptok.sh --help; every option given here passes through,
# e.g. \`run.sh --stage 2 --stop_stage 2\`.
set -euo pipefail
cd "\$(dirname "\${BASH_SOURCE[0]}")"   # callable from anywhere

train_set=train      # data/<set> directories that local/data.sh makes
valid_set=dev
test_sets="test"     # space separated

./sptok.sh \\
    --train_set "\${train_set}" \\
    --valid_set "\${valid_set}" \\
    --test_sets "\${test_sets}" \\
    --fs 16000 \\
    "\$@"
EOF

cat > "${tmp_dir}/local/data.sh" << 'EOF'
#!/usr/bin/env bash
# Data preparation of this recipe: stage 1 of sptok.sh runs it with the recipe's
# --local_data_opts, from the recipe directory.
#
# What to write here: for every set named in run.sh (train_set, valid_set, test_sets) make the
# Kaldi data directory data/<set>/ with
#   wav.scp    <utt> <audio file>   or   <utt> <command writing audio to stdout> |
#              (with segments: <recording> <audio file> instead)
#   text       <utt> <transcript>
#   utt2spk    <utt> <speaker>
#   spk2utt    <speaker> <utt> <utt> ...   (`python -m sptok.bin.fix_data_dir data/<set>` makes it)
#   segments   <utt> <recording> <start s> <end s>   (only when utterances are cut from recordings)
# every file sorted by key in C locale (LC_ALL=C sort), then check each directory with
# `python -m sptok.bin.validate_data_dir data/<set>`. Corpus locations come from db.sh; options
# are variables with commented defaults above the parse_options.sh line (--name value sets them).
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    printf '%s (%s:%s:%s) %s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "${fname}" "${BASH_LINENO[0]}" \
        "${FUNCNAME[1]:-main}" "$*" >&2
}

help_message="Usage: $0 [options]"

. ./db.sh
. ./path.sh
. utils/parse_options.sh

log "local/data.sh is still the template's skeleton: write this corpus's data preparation" \
    "(what to write is at the top of $(pwd)/local/data.sh)"
exit 1
EOF
chmod +x "${tmp_dir}/run.sh" "${tmp_dir}/local/data.sh"

mv -T "${tmp_dir}" "${new_dir}"
trap - EXIT
echo "Made ${new_dir}: write ${new_dir}/local/data.sh, adjust ${new_dir}/run.sh, then run it."
