#!/usr/bin/env bash
# sptok task script: speech tokenizer recipes (SpeechTokenizer, SLMTokBench, USLM) in ESPnet egs2
# style. A corpus recipe's run.sh calls it (./sptok.sh -> ../TEMPLATE/sptok.sh) with its data sets
# and configs; run it from the recipe directory. `./sptok.sh --help` lists the options.
#
# Stages:
#   1  data preparation: local/data.sh makes the Kaldi data dirs data/<set>
#   2  format: resample to --fs and write one audio file per utterance (dump/raw/<set>), then
#      keep the train/valid utterances of --min_wav_duration..--max_wav_duration seconds
#   3  teacher targets: HuBERT features of the train/valid sets for semantic distillation
#      (dump/teacher_feats/<set>/feats.scp) from --teacher, or from a small HuBERT trained on the
#      train set (exp/mini_hubert) with --train_mini_teacher true
#   4  tokenizer training: each of --tokenizer_configs trains exp/<tag> (tag: the config's file
#      name without .yaml and a leading "train_"); a re-run resumes from exp/<tag>/checkpoint.pt.
#      Each TAG=DIR of --pretrained_tokenizers (trained elsewhere, e.g. by another recipe) is
#      linked into exp/TAG instead, and used by the later stages like a tokenizer trained here
#   5  token dump: codes of the train, valid and test sets (dump/codes/<tag>/<set>/codes.scp)
#   6  resynthesis: the test sets decoded from the levels of --resynth_levels
#      (exp/<tag>/resynth/rvq<levels>/<set>/wav.scp: rvq1-8 for levels 1:8, rvq1 for 1)
#   7  codec scoring: WER, speaker similarity, STOI, PESQ, mel distance of each resynthesis and
#      the ground truth's WER, codebook usage; all collected in exp/codec_results.md
#   8  SLMTokBench (--slmtokbench_config) on --slmtokbench_test_set: text alignment, information
#      preservation and disentanglement (voice conversion, projection) of each tokenizer's tokens
#      and of HuBERT k-means units of the teacher, resynthesised by a unit vocoder trained here
#      (--unit_vocoder_config: exp/unit_vocoder) -> exp/slmtokbench/results.md and
#      exp/slmtokbench/report/report.html
#   9  text tokenisation for the USLM (type and front end from --uslm_config):
#      dump/<token_type>/<set>/text and dump/<token_type>/tokens.txt
#   10 USLM training (--uslm_config): AR and NAR models on the codes of each of --uslm_codec_tags
#      (exp/uslm_<tag>); on a distilled tokenizer's codes that is USLM, on a plain codec's the
#      VALL-E-style comparison
#   11 zero-shot TTS: --tts_test_sets spoken by each USLM with --tts_prompt_seconds prompts cut from
#      other utterances of the same speaker (exp/uslm_<tag>/decode_<set>/wav.scp); WER and speaker
#      similarity to the prompt -> exp/uslm_results.md; a few samples join the SLMTokBench report
# Stage 3 is skipped without a teacher, stages 4-7 without --tokenizer_configs and
# --pretrained_tokenizers, stage 8 without --slmtokbench_config, stages 9-11 without --uslm_config.
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

# Teacher targets (stage 3)
teacher=              # HuBERT teacher: Hugging Face dir, fairseq .pt or torchaudio .pt (empty: see next)
train_mini_teacher=false  # with no --teacher: train a small HuBERT on the train set (exp/mini_hubert)
mini_teacher_conf=    # options file of sptok.bin.train_mini_hubert (one "--name value" per line)
mini_teacher_args=    # more options of sptok.bin.train_mini_hubert (after mini_teacher_conf)
quick_mini_teacher_args="--max_steps 4 --batch_size 2 --crop_seconds 1.0 --warmup_steps 1 --log_interval 2 --save_interval 2 --valid_batches 1 --num_clusters 8 --kmeans_iters 5 --conv_dim 16 --embed_dim 32 --num_layers 1 --num_heads 2 --ff_dim 64 --final_dim 16"  # added with --quick true
teacher_layer=avg     # teacher hidden state used as target: avg (mean of all layers) or an index

# Tokenizer training (stage 4)
tokenizer_configs=    # training YAMLs (task: codec), space separated: one exp/<tag> each
tokenizer_args=       # more options of sptok.bin.train for every config (--key value; no spaces in values)
pretrained_tokenizers=  # tokenizers trained elsewhere, "TAG=EXP_DIR ..." (e.g. speechtokenizer=../librispeech/exp/speechtokenizer): linked into exp/TAG, not trained; their codes, resynthesis and USLMs are made here
quick_tokenizer_args="--max_steps 4 --valid_interval 2 --save_interval 2 --log_interval 1 --batch_size 2 --valid_batch_size 2 --num_workers 0 --segment_seconds 0.5 --valid_segment_seconds 1.0 --encoder_conf.n_filters 4 --encoder_conf.dimension 32 --decoder_conf.n_filters 4 --quantizer_conf.codebook_size 16 --quantizer_conf.kmeans_iters 2 --scheduler_conf.warmup_steps 1 --model_conf.discriminator_warmup_steps 2"  # added with --quick true, before tokenizer_args
ngpu=0                # GPUs per training and node (0: CPU; > 1: one DDP process per GPU through torchrun)
num_nodes=1           # nodes per training (> 1: DDP across nodes, c10d rendezvous; slurm: srun per node; local backend: run on every node with SPTOK_RDZV_ENDPOINT=<first node>:<port>)
num_threads=2         # CPU threads of each training and scoring job (1 with --quick true)

# Token dump and resynthesis (stages 5-6)
inference_nj=32       # parallel jobs per data set of teacher features, token dump and resynthesis
gpu_inference=false   # teacher features, token dump, resynthesis and scoring on a GPU
resynth_levels="1:8 1"  # RVQ levels the test sets are resynthesised from: A:B or A (1-based)

# Codec scoring (stage 7)
score_metrics=wer,spk_sim,stoi,pesq,mel  # metrics of sptok.bin.score_audio
score_asr=whisper_tiny  # ASR of the WER (sptok.bin.score_audio --asr)
score_args=           # more options of sptok.bin.score_audio (stages 7 and 11)

# SLMTokBench (stage 8)
slmtokbench_config=   # benchmark YAML (scorers, probe, report); its sources join the recipe's by name (empty: no stage 8)
slmtokbench_test_set= # evaluation set of the benchmark (empty: the first of --test_sets)
slmtokbench_args=     # more options of sptok.bin.slmtokbench (--key value, e.g. --max_utts 100)
quick_slmtokbench_args="--max_utts 3 --batch_size 4 --text_alignment.hidden_size 8 --text_alignment.embed_dim 8 --text_alignment.num_layers 1 --text_alignment.max_epochs 1 --text_alignment.mi_batch_size 4 --voice_conversion.pairs 2 --voice_conversion.k [2,8] --projection.per_speaker 3 --report.examples 1"  # added with --quick true
unit_vocoder_config=  # training YAML of the hubert_km row's unit vocoder, exp/unit_vocoder (empty: no resynthesis of units)
unit_vocoder_args=    # more options of sptok.bin.train for the unit vocoder
quick_unit_vocoder_args="--max_steps 4 --valid_interval 2 --save_interval 2 --log_interval 1 --batch_size 2 --valid_batch_size 2 --num_workers 0 --segment_seconds 0.5 --valid_segment_seconds 1.0 --decoder_conf.n_filters 4 --scheduler_conf.warmup_steps 1"  # added with --quick true

# Text tokenisation and USLM training (stages 9-10)
uslm_config=          # USLM training YAML (task: uslm; its text options drive stage 9); empty: stages 9-11 skipped
uslm_codec_tags=      # tokenizer tags whose codes train a USLM each, exp/uslm_<tag> (empty: all tokenizer tags)
uslm_args=            # more options of sptok.bin.train for every USLM
quick_uslm_args="--max_steps 4 --valid_interval 2 --save_interval 2 --log_interval 1 --batch_seconds null --batch_size 2 --valid_batch_size 2 --num_workers 0 --ar_conf.d_model 16 --ar_conf.num_heads 2 --ar_conf.num_layers 1 --ar_conf.ffn_dim 32 --nar_conf.d_model 16 --nar_conf.num_heads 2 --nar_conf.num_layers 1 --nar_conf.ffn_dim 32 --scheduler_conf.warmup_steps 1"  # added with --quick true
tokenize_text_args=   # more options of sptok.bin.tokenize_text

# Zero-shot TTS (stage 11)
tts_test_sets=        # sets spoken by zero-shot TTS, space separated (empty: --test_sets)
tts_prompt_seconds=3  # prompt length in seconds (the paper: 3)
tts_args=             # more options of sptok.bin.tts (e.g. --top_k 50 --seed 1)
quick_tts_args="--max_frames 50"  # added with --quick true

# Data sets: local/data.sh makes data/<set> for each
train_set=            # training set
valid_set=            # validation set
test_sets=            # evaluation sets, space separated

help_message="Usage: $0 [options]   (from a recipe directory, usually through its run.sh)
Stages (--stage N --stop_stage M):
  1  data preparation: local/data.sh -> data/<set>
  2  format the audio (dump/raw/<set>); duration filter of the train/valid sets
  3  teacher targets: dump/teacher_feats/<set>/feats.scp (--teacher or --train_mini_teacher true)
  4  tokenizer training: exp/<tag> for each of --tokenizer_configs (and a link to each of
     --pretrained_tokenizers: exp/TAG)
  5  token dump: dump/codes/<tag>/<set>/codes.scp
  6  resynthesis of the test sets: exp/<tag>/resynth/rvq<levels>/<set>/wav.scp
  7  codec scoring: exp/codec_results.md
  8  SLMTokBench (--slmtokbench_config; unit vocoder exp/unit_vocoder with --unit_vocoder_config):
     exp/slmtokbench/results.md and exp/slmtokbench/report/report.html
  9  text tokenisation for the USLM: dump/<token_type>/<set>/text, dump/<token_type>/tokens.txt
  10 USLM training (--uslm_config): exp/uslm_<tag> for each of --uslm_codec_tags
  11 zero-shot TTS of --tts_test_sets and its scoring: exp/uslm_results.md"

log "$0 $(printf "%q " "$@")"
. utils/parse_options.sh

[ $# -eq 0 ] || die "unexpected arguments: $* (options are --name value; see --help)"
for f in path.sh cmd.sh; do
    [ -e "${f}" ] || die "no ${f} here ($(pwd)): run $0 from a recipe directory (egs/<corpus>)"
done
check_positive_int nj "${nj}"
check_positive_int num_threads "${num_threads}"
check_positive_int inference_nj "${inference_nj}"
[[ ${ngpu} =~ ^[0-9]+$ ]] || die "--ngpu takes an integer >= 0, got '${ngpu}'"
check_positive_int num_nodes "${num_nodes}"
[ -n "${train_set}" ] || die "--train_set is required"
[ -n "${valid_set}" ] || die "--valid_set is required"
read -r -a test_set_list <<< "${test_sets}"
read -r -a tokenizer_config_list <<< "${tokenizer_configs}"
read -r -a resynth_level_list <<< "${resynth_levels}"
for levels in "${resynth_level_list[@]}"; do
    [[ ${levels} =~ ^[1-9][0-9]*(:[1-9][0-9]*)?$ ]] \
        || die "--resynth_levels takes level ranges A:B or A (1-based, e.g. \"1:8 1\"), got '${levels}'"
done
for option in mini_teacher_conf slmtokbench_config unit_vocoder_config uslm_config; do
    if [ -n "${!option}" ] && [ ! -f "${!option}" ]; then
        die "--${option} ${!option}: no such file"
    fi
done
if [ -z "${slmtokbench_test_set}" ] && [ ${#test_set_list[@]} -gt 0 ]; then
    slmtokbench_test_set=${test_set_list[0]}
fi
# The sets of stages 8 and 11 are checked when those stages run (a run of other stages may
# narrow --test_sets).
if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ] && [ -n "${slmtokbench_config}" ]; then
    [ -n "${slmtokbench_test_set}" ] || die "--slmtokbench_config needs a test set: give --test_sets"
    in_list "${slmtokbench_test_set}" "${test_set_list[@]}" || die "--slmtokbench_test_set" \
        "${slmtokbench_test_set}: not one of --test_sets (${test_sets})"
fi
read -r -a tts_test_set_list <<< "${tts_test_sets:-${test_sets}}"
if [ "${stage}" -le 11 ] && [ "${stop_stage}" -ge 9 ] && [ -n "${uslm_config}" ]; then
    for dset in "${tts_test_set_list[@]}"; do
        in_list "${dset}" "${test_set_list[@]}" \
            || die "--tts_test_sets: ${dset} is not one of --test_sets (${test_sets})"
    done
fi
awk -v s="${tts_prompt_seconds}" 'BEGIN { exit !(s ~ /^[0-9]*[.]?[0-9]+$/ && s > 0) }' \
    || die "--tts_prompt_seconds takes a number of seconds > 0, got '${tts_prompt_seconds}'"

# tag_of CONFIG: the experiment name of a tokenizer config: conf/train_speechtokenizer.yaml ->
# speechtokenizer.
tag_of() {
    local name=${1##*/}
    name=${name%.yaml}
    name=${name%.yml}
    echo "${name#train_}"
}
tokenizer_tags=()
for config in "${tokenizer_config_list[@]}"; do
    tag=$(tag_of "${config}")
    for seen in "${tokenizer_tags[@]}"; do
        [ "${seen}" != "${tag}" ] || die "--tokenizer_configs: two configs give the tag ${tag}" \
            "(exp/${tag}); rename one of them"
    done
    tokenizer_tags+=("${tag}")
done
# Tokenizers trained elsewhere: their tags follow those of the configs.
pretrained_tags=()
pretrained_dirs=()
read -r -a pretrained_list <<< "${pretrained_tokenizers}"
for entry in "${pretrained_list[@]}"; do
    [[ ${entry} =~ ^([A-Za-z0-9][A-Za-z0-9_.-]*)=(.+)$ ]] || die "--pretrained_tokenizers takes" \
        "TAG=EXP_DIR words (e.g. st=../librispeech/exp/speechtokenizer), got '${entry}'"
    tag=${BASH_REMATCH[1]}
    src=${BASH_REMATCH[2]}
    if in_list "${tag}" "${tokenizer_tags[@]}"; then
        die "--pretrained_tokenizers: the tag ${tag} is given twice (here or by" \
            "--tokenizer_configs); name one of them otherwise"
    fi
    # Checked now, not at stage 4: a missing tokenizer should not wait for stages 1-3 to fail.
    if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ] && [ ! -f "${src}/.done" ]; then
        die "--pretrained_tokenizers ${entry}: ${src} is not a finished tokenizer training" \
            "(no ${src}/.done; relative paths start at $(pwd))"
    fi
    tokenizer_tags+=("${tag}")
    pretrained_tags+=("${tag}")
    pretrained_dirs+=("${src}")
done
read -r -a uslm_tags <<< "${uslm_codec_tags:-${tokenizer_tags[*]}}"
if [ "${stage}" -le 11 ] && [ "${stop_stage}" -ge 10 ] && [ -n "${uslm_config}" ]; then
    [ ${#uslm_tags[@]} -gt 0 ] || die "--uslm_config needs tokenizers: give --tokenizer_configs" \
        "or --pretrained_tokenizers"
    for tag in "${uslm_tags[@]}"; do
        in_list "${tag}" "${tokenizer_tags[@]}" || die "--uslm_codec_tags: ${tag} is not a tag" \
            "of --tokenizer_configs or --pretrained_tokenizers (tags: ${tokenizer_tags[*]:-none})"
    done
fi

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
    # Tiny models: more threads only add synchronisation, which costs a lot on a busy machine.
    num_threads=1
fi
# add_step_args LIST QUICK_ARGS ARGS: append to the array named LIST the words of QUICK_ARGS (with
# --quick true), then those of ARGS: the quick pass's tiny sizes come first, so that options given
# by the user win.
add_step_args() {
    local -n step_list=$1
    local words
    if "${quick}"; then
        read -r -a words <<< "$2"
        step_list+=("${words[@]}")
    fi
    read -r -a words <<< "$3"
    step_list+=("${words[@]}")
}
mini_teacher_arg_list=()
if [ -n "${mini_teacher_conf}" ]; then
    mapfile -t mini_teacher_arg_list < <(conf_words "${mini_teacher_conf}")
fi
tokenizer_arg_list=()
slmtokbench_arg_list=()
unit_vocoder_arg_list=()
uslm_arg_list=()
tts_arg_list=()
add_step_args mini_teacher_arg_list "${quick_mini_teacher_args}" "${mini_teacher_args}"
add_step_args tokenizer_arg_list "${quick_tokenizer_args}" "${tokenizer_args}"
add_step_args slmtokbench_arg_list "${quick_slmtokbench_args}" "${slmtokbench_args}"
add_step_args unit_vocoder_arg_list "${quick_unit_vocoder_args}" "${unit_vocoder_args}"
add_step_args uslm_arg_list "${quick_uslm_args}" "${uslm_args}"
add_step_args tts_arg_list "${quick_tts_args}" "${tts_args}"
read -r -a tokenize_text_arg_list <<< "${tokenize_text_args}"
read -r -a score_arg_list <<< "${score_args}"

if ! "${skip_install}"; then
    main_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
    read -r -a install_args <<< "${install_opts}"
    "${main_root}/tools/install.sh" "${install_args[@]}"
fi
. ./path.sh
. ./cmd.sh
read -r -a train_cmd_args <<< "${train_cmd}"
read -r -a cuda_cmd_args <<< "${cuda_cmd}"
# Jobs of the inference steps (teacher features, tokens, resynthesis, scoring).
if "${gpu_inference}"; then
    read -r -a infer_cmd_args <<< "${cuda_cmd}"
    infer_cmd_args+=(--gpu 1)
    infer_device=cuda
else
    read -r -a infer_cmd_args <<< "${decode_cmd}"
    infer_device=cpu
fi

# The options of every scoring job (stages 7 and 11), part of its signature.
score_option_list=(--device "${infer_device}" --asr "${score_asr}" "${score_arg_list[@]}")
score_options=${score_option_list[*]}

# num_jobs TABLE: the number of inference jobs for TABLE's lines: --inference_nj, at most one
# per line.
num_jobs() {
    local lines
    lines=$(wc -l < "$1")
    [ "${lines}" -ge 1 ] || die "$1 is empty"
    min "${inference_nj}" "${lines}"
}

# require_done DIR WHAT: exit with an error unless DIR is complete (DIR/.done).
require_done() {
    [ -f "$1/.done" ] || die "$1 is missing or incomplete: run $2 first"
}

# Teacher of stage 3: --teacher, else the small HuBERT trained at stage 3.
teacher_path=${teacher}
if [ -z "${teacher_path}" ] && "${train_mini_teacher}"; then
    teacher_path=${expdir}/mini_hubert
fi
# One directory per layer, so that configs distilled from different layers (avg, L9) coexist.
teacher_feats_dir=${dumpdir}/teacher_feats
[ "${teacher_layer}" = avg ] || teacher_feats_dir+=_l${teacher_layer}
# SLMTokBench (stage 8): its output, its unit vocoder and the name of its HuBERT-units source.
bench_dir=${expdir}/slmtokbench
vocoder_dir=${expdir}/unit_vocoder
units_name=hubert_km

# dump_in_jobs STAGE DATA OUT NAME NUM LOG PROGRAM_ARGS...: run `python PROGRAM_ARGS --wav_scp
# <slice> --out_prefix OUT/NAME.JOB` on NUM slices of DATA/wav.scp (logs LOG.JOB.log), merge the
# jobs' OUT/NAME.JOB.scp into OUT/NAME.scp and check it has one line per utterance of DATA. Jobs
# finished by an interrupted run find their output complete and skip (the dump programs check).
dump_in_jobs() {
    local stage_name=$1 data=$2 out=$3 name=$4 num=$5 logs=$6
    shift 6
    log "${stage_name}: ${data} -> ${out}: ${num} jobs (logs: ${logs}.*.log)"
    split_for_jobs "${python}" "${data}/wav.scp" "${num}" "${out}/split/wav.scp"
    "${infer_cmd_args[@]}" JOB=1:"${num}" "${logs}.JOB.log" \
        "${python}" "$@" --wav_scp "${out}/split/wav.scp.JOB" --out_prefix "${out}/${name}.JOB"
    merge_parts "${out}/${name}.scp" "${out}/${name}." .scp "${num}"
    [ "$(wc -l < "${out}/${name}.scp")" -eq "$(wc -l < "${data}/wav.scp")" ] \
        || die "${out}/${name}.scp and ${data}/wav.scp differ in length (see ${logs%/*})"
    rm -rf "${out}/split"
}

# dump_teacher_feats STAGE SET: the teacher's features of ${dumpdir}/raw/SET ->
# ${teacher_feats_dir}/SET/feats.scp, in --inference_nj jobs, unless done.
dump_teacher_feats() {
    local stage_name=$1 dset=$2
    local data=${dumpdir}/raw/${dset} out=${teacher_feats_dir}/${dset} num signature
    require_done "${data}" "stage 2"
    num=$(num_jobs "${data}/wav.scp")
    signature="teacher=${teacher_path} layer=${teacher_layer} nj=${num}
$(file_stamps "${teacher_path}")
$(cat "${data}/.done")"
    if ! begin_step "${out}" "${signature}"; then
        log "${stage_name}: ${out} is up to date (${out}/.done)"
        return 0
    fi
    dump_in_jobs "${stage_name}" "${data}" "${out}" feats "${num}" \
        "${expdir}/teacher_feats/${dset}/log/dump" \
        -m sptok.bin.dump_teacher_feats --teacher "${teacher_path}" \
            --layer "${teacher_layer}" --device "${infer_device}"
    end_step "${out}" "${signature}"
    log "${stage_name}: wrote ${out}/feats.scp"
}

# train_step STAGE DIR SIGNATURE TRAIN_ARGS...: python -m sptok.bin.train TRAIN_ARGS into DIR on
# --ngpu GPUs (DDP through torchrun when > 1) or the CPU, logged to DIR/train.log; skipped when
# DIR/.done holds SIGNATURE. A re-run with other options or data goes on from DIR/checkpoint.pt.
train_step() {
    local stage_name=$1 dir=$2 signature=$3 devices
    shift 3
    if is_done "${dir}/.done" "${signature}"; then
        log "${stage_name}: ${dir} is up to date (${dir}/.done)"
        return 0
    fi
    if [ -f "${dir}/.done" ]; then
        log "${stage_name}: ${dir} was trained with other options or data: training goes on" \
            "from its checkpoint.pt (delete ${dir} to start afresh)"
    fi
    rm -f "${dir}/.done"
    mkdir -p "${dir}"
    if [ "${ngpu}" -ge 1 ]; then
        devices="${ngpu} GPUs"
    else
        devices="CPU, ${num_threads} threads"
    fi
    [ "${num_nodes}" -eq 1 ] || devices+=" on each of ${num_nodes} nodes"
    log "${stage_name}: train -> ${dir} (${devices}; log: ${dir}/train.log)"
    if [ "${ngpu}" -gt 1 ] || [ "${num_nodes}" -gt 1 ]; then
        # DDP: the launcher runs the command under torchrun, one process per GPU on each node
        # (standalone on one node; across nodes a c10d rendezvous, started by srun on Slurm).
        "${cuda_cmd_args[@]}" --ddp true --gpu "${ngpu}" --num_nodes "${num_nodes}" \
            --num_threads "${num_threads}" "${dir}/train.log" \
            "${python}" -m sptok.bin.train "$@"
    elif [ "${ngpu}" -eq 1 ]; then
        "${cuda_cmd_args[@]}" --gpu 1 --num_threads "${num_threads}" "${dir}/train.log" \
            "${python}" -m sptok.bin.train "$@"
    else
        "${train_cmd_args[@]}" --num_threads "${num_threads}" "${dir}/train.log" \
            "${python}" -m sptok.bin.train "$@"
    fi
    mark_done "${dir}/.done" "${signature}"
    log "${stage_name}: finished ${dir}"
}

# train_device: the --device option of sptok.bin.train for --ngpu.
train_device() {
    if [ "${ngpu}" -ge 1 ]; then
        echo cuda
    else
        echo cpu
    fi
}

# link_pretrained STAGE TAG SRC: ${expdir}/TAG made from the tokenizer trained in SRC (an
# experiment dir of sptok.bin.train with its .done): links to SRC's config.yaml and best weights
# (sptok.inference.pretrained's choice), and a .done holding SRC's own, so that the later stages
# redo their work when SRC is trained further. Their outputs (codes logs, resynthesis, codebook
# statistics) go to ${expdir}/TAG: SRC is only read.
link_pretrained() {
    local stage_name=$1 tag=$2 src=$3 dir=${expdir}/$2 src_abs weights name path signature
    require_done "${src}" "the training of ${tag} (stage 4 of the recipe that trained it)"
    src_abs=$(cd "${src}" && pwd -P)
    [ "$("${python}" scripts/utils/yaml_get.py "${src}/config.yaml" task)" = codec ] \
        || die "--pretrained_tokenizers ${tag}=${src}: ${src}/config.yaml is not a tokenizer's" \
            "(task: codec)"
    weights=$("${python}" -c 'import sys
from pathlib import Path
import yaml
from sptok.inference.pretrained import best_weights_file
exp = Path(sys.argv[1])
best = best_weights_file(exp, yaml.safe_load((exp / "config.yaml").read_text()))
print(best.name, best.resolve())' "${src_abs}") \
        || die "--pretrained_tokenizers ${tag}=${src}: no weights found there (see above)"
    read -r name path <<< "${weights}"
    signature="pretrained ${src_abs} ${name} -> ${path}
$(cat "${src}/.done")"
    if is_done "${dir}/.done" "${signature}"; then
        log "${stage_name}: ${dir} is up to date (${dir}/.done)"
        return 0
    fi
    if [ -f "${dir}/config.yaml" ] && [ ! -L "${dir}/config.yaml" ]; then
        die "--pretrained_tokenizers ${tag}=${src}: ${dir} holds a tokenizer trained here;" \
            "remove it or give the pretrained one another tag"
    fi
    log "${stage_name}: ${dir} -> ${src_abs} (${name})"
    rm -f "${dir}/.done"
    mkdir -p "${dir}"
    # Only the links of an earlier run go; the later stages' outputs stay (their .done holds
    # this one's, so they are redone).
    find "${dir}" -maxdepth 1 -type l -delete
    ln -s "${src_abs}/config.yaml" "${dir}/config.yaml"
    ln -s "${path}" "${dir}/${name}"
    mark_done "${dir}/.done" "${signature}"
}

# score_job STAGE DIR SIGNATURE TAG SCORE_AUDIO_ARGS...: one sptok.bin.score_audio job into DIR
# (ASR --score_asr, plus --score_args), unless DIR is done with SIGNATURE.
score_job() {
    local stage_name=$1 dir=$2 signature=$3 tag=$4
    shift 4
    if ! begin_step "${dir}" "${signature}"; then
        log "${stage_name}: ${dir} is up to date (${dir}/.done)"
        return 0
    fi
    log "${stage_name}: scoring ${tag} -> ${dir} (log: ${dir}/log/score.log)"
    "${infer_cmd_args[@]}" --num_threads "${num_threads}" "${dir}/log/score.log" \
        "${python}" -m sptok.bin.score_audio --out_dir "${dir}" --tag "${tag}" \
            "${score_option_list[@]}" "$@"
    end_step "${dir}" "${signature}"
}

# uslm_label TAG: the zero-shot TTS system trained on TAG's codes: USLM on a distilled
# tokenizer's, the VALL-E-style comparison on a plain codec's (teacher: none).
uslm_label() {
    local teacher_kind
    teacher_kind=$("${python}" scripts/utils/yaml_get.py "${expdir}/$1/config.yaml" teacher \
        --default none)
    if [ "${teacher_kind}" = none ]; then
        echo "VALL-E-style ($1 tokens)"
    else
        echo "USLM ($1 tokens)"
    fi
}

# The options of every SLMTokBench run (stages 8 and 11) besides its YAML and steps.
bench_args=(--out_dir "${bench_dir}" --data_dir "${dumpdir}/raw/${slmtokbench_test_set}"
            --train_data_dir "${dumpdir}/raw/${train_set}" --asr "${score_asr}"
            --device "${infer_device}" --scorer_device "${infer_device}"
            --sample_rate "${fs_hz}" --num_threads "${num_threads}" "${slmtokbench_arg_list[@]}")

# tts_report_args: the option --report.extra of SLMTokBench and its value (one per line): a few
# samples of each stage-11 test set whose decodings are all finished; nothing before that. The
# value is JSON (a YAML flow list); labels and paths hold no quotes.
tts_report_args() {
    local dset tag decode section sections="" systems note
    for dset in "${tts_test_set_list[@]}"; do
        systems=""
        for tag in "${uslm_tags[@]}"; do
            decode=${expdir}/uslm_${tag}/decode_${dset}
            [ -f "${decode}/.done" ] || continue 2
            systems+="${systems:+, }{\"label\": \"$(uslm_label "${tag}")\","
            systems+=" \"wav_scp\": \"${decode}/wav.scp\"}"
        done
        [ -n "${systems}" ] || continue
        note="Each text spoken with a ${tts_prompt_seconds} s prompt cut from another utterance"
        note+=" of the same speaker; WER and SIM in ${expdir}/uslm_results.md."
        section="{\"title\": \"Zero-shot TTS samples: ${dset}\", \"note\": \"${note}\","
        section+=" \"text\": \"${expdir}/tts/${dset}/text\","
        section+=" \"prompt_scp\": \"${expdir}/tts/${dset}/prompt.scp\","
        section+=" \"reference_scp\": \"${dumpdir}/raw/${dset}/wav.scp\","
        section+=" \"systems\": [${systems}]}"
        sections+="${sections:+, }${section}"
    done
    if [ -n "${sections}" ]; then
        printf '%s\n' --report.extra "[${sections}]"
    fi
}


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


if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    if [ -z "${teacher_path}" ]; then
        log "Stage 3: skipped: no --teacher and --train_mini_teacher false (configs with" \
            "teacher: offline need one)"
    else
        for dset in "${train_set}" "${valid_set}"; do
            require_done "${dumpdir}/raw/${dset}" "stage 2"
        done
        if [ -z "${teacher}" ]; then
            log "Stage 3: train a small HuBERT teacher on ${dumpdir}/raw/${train_set} -> ${teacher_path}"
            signature="train_mini_hubert ${mini_teacher_arg_list[*]}
$(cat "${dumpdir}/raw/${train_set}/.done")"
            # Other options start afresh: the trainer refuses a checkpoint of another model.
            if begin_step "${teacher_path}" "${signature}"; then
                if [ "${ngpu}" -ge 1 ]; then
                    teacher_cmd=("${cuda_cmd_args[@]}" --gpu 1)
                    teacher_device=cuda
                else
                    teacher_cmd=("${train_cmd_args[@]}")
                    teacher_device=cpu
                fi
                log "Stage 3: log in ${teacher_path}/log/train.log"
                "${teacher_cmd[@]}" --num_threads "${num_threads}" "${teacher_path}/log/train.log" \
                    "${python}" -m sptok.bin.train_mini_hubert \
                        --wav_scp "${dumpdir}/raw/${train_set}/wav.scp" \
                        --out_dir "${teacher_path}" --device "${teacher_device}" \
                        "${mini_teacher_arg_list[@]}"
                end_step "${teacher_path}" "${signature}"
            else
                log "Stage 3: ${teacher_path} is up to date (${teacher_path}/.done)"
            fi
        fi
        [ -e "${teacher_path}" ] || die "--teacher ${teacher_path}: no such file or directory"
        log "Stage 3: teacher features (layer ${teacher_layer}) of ${teacher_path}" \
            "-> ${teacher_feats_dir}/<set>/feats.scp for ${train_set} ${valid_set}"
        for dset in "${train_set}" "${valid_set}"; do
            dump_teacher_feats "Stage 3" "${dset}"
        done
    fi
fi


if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 4 ] && [ ${#tokenizer_tags[@]} -eq 0 ]; then
    log "Stages 4-7: skipped: no --tokenizer_configs (training YAMLs) or --pretrained_tokenizers"
fi
if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ] && [ ${#pretrained_tags[@]} -gt 0 ]; then
    log "Stage 4: tokenizers trained elsewhere -> ${expdir}/<tag> for ${pretrained_tags[*]}"
    for i in "${!pretrained_tags[@]}"; do
        link_pretrained "Stage 4" "${pretrained_tags[${i}]}" "${pretrained_dirs[${i}]}"
    done
fi
if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ] && [ ${#tokenizer_config_list[@]} -gt 0 ]; then
    for dset in "${train_set}" "${valid_set}"; do
        require_done "${dumpdir}/raw/${dset}" "stage 2"
    done
    for i in "${!tokenizer_config_list[@]}"; do
        config=${tokenizer_config_list[${i}]}
        tag=${tokenizer_tags[${i}]}
        dir=${expdir}/${tag}
        [ -f "${config}" ] || die "--tokenizer_configs: ${config}: no such file"
        args=(--config "${config}" --output_dir "${dir}"
              --train_data_dir "${dumpdir}/raw/${train_set}"
              --valid_data_dir "${dumpdir}/raw/${valid_set}")
        inputs="$(cat "${dumpdir}/raw/${train_set}/.done" "${dumpdir}/raw/${valid_set}/.done")"
        teacher_kind=$("${python}" -m sptok.bin.train "${args[@]}" "${tokenizer_arg_list[@]}" \
            --print_config | "${python}" scripts/utils/yaml_get.py - teacher) \
            || die "${config} with options '${tokenizer_arg_list[*]}': not a valid config (see above)"
        if [ "${teacher_kind}" = offline ]; then
            for dset in "${train_set}" "${valid_set}"; do
                [ -f "${teacher_feats_dir}/${dset}/.done" ] \
                    || die "${config} distils from dumped teacher features (teacher: offline):" \
                        "run stage 3 with --teacher or --train_mini_teacher true first"
            done
            # The semantic head's size is the teacher's: taken from the features themselves.
            feature_dim=$("${python}" -c 'import sys
from sptok.data.ark import iter_feats
print(next(iter(iter_feats(sys.argv[1])))[1].shape[1])' "${teacher_feats_dir}/${train_set}/feats.scp")
            log "Stage 4: ${config} distils from ${teacher_feats_dir}/<set>/feats.scp" \
                "(teacher_conf.feature_dim ${feature_dim})"
            args+=(--train_teacher_feats "${teacher_feats_dir}/${train_set}/feats.scp"
                   --valid_teacher_feats "${teacher_feats_dir}/${valid_set}/feats.scp"
                   --teacher_conf.feature_dim "${feature_dim}")
            inputs+="
$(cat "${teacher_feats_dir}/${train_set}/.done" "${teacher_feats_dir}/${valid_set}/.done")"
        fi
        args+=(--device "$(train_device)" "${tokenizer_arg_list[@]}")
        signature="train ${args[*]}
$(checksums "${config}")
${inputs}"
        log "Stage 4: ${config} -> ${dir}"
        train_step "Stage 4" "${dir}" "${signature}" "${args[@]}"
    done
fi


if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ] && [ ${#tokenizer_tags[@]} -gt 0 ]; then
    log "Stage 5: token dump -> ${dumpdir}/codes/<tag>/<set>/codes.scp for ${tokenizer_tags[*]}"
    for tag in "${tokenizer_tags[@]}"; do
        model=${expdir}/${tag}
        require_done "${model}" "stage 4 (training of ${tag})"
        for dset in "${train_set}" "${valid_set}" "${test_set_list[@]}"; do
            data=${dumpdir}/raw/${dset}
            out=${dumpdir}/codes/${tag}/${dset}
            require_done "${data}" "stage 2"
            num=$(num_jobs "${data}/wav.scp")
            signature="model=${model} nj=${num}
$(cat "${model}/.done")
$(cat "${data}/.done")"
            if ! begin_step "${out}" "${signature}"; then
                log "Stage 5: ${out} is up to date (${out}/.done)"
                continue
            fi
            dump_in_jobs "Stage 5" "${data}" "${out}" codes "${num}" \
                "${model}/dump_codes/${dset}/log/dump_codes" \
                -m sptok.bin.dump_codes --model "${model}" --device "${infer_device}"
            end_step "${out}" "${signature}"
        done
    done
fi


if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ] && [ ${#tokenizer_tags[@]} -gt 0 ]; then
    log "Stage 6: resynthesis of ${test_set_list[*]} from levels ${resynth_levels}" \
        "-> ${expdir}/<tag>/resynth/rvq<levels>/<set>/wav.scp"
    for tag in "${tokenizer_tags[@]}"; do
        model=${expdir}/${tag}
        for levels in "${resynth_level_list[@]}"; do
            for dset in "${test_set_list[@]}"; do
                codes=${dumpdir}/codes/${tag}/${dset}
                require_done "${codes}" "stage 5"
                out=${model}/resynth/rvq${levels/:/-}/${dset}
                num=$(num_jobs "${codes}/codes.scp")
                signature="levels=${levels} nj=${num}
$(cat "${codes}/.done")"
                if ! begin_step "${out}" "${signature}"; then
                    log "Stage 6: ${out} is up to date (${out}/.done)"
                    continue
                fi
                log "Stage 6: ${codes} levels ${levels} -> ${out}: ${num} jobs" \
                    "(logs: ${out}/log/resynth.*.log)"
                split_for_jobs "${python}" "${codes}/codes.scp" "${num}" "${out}/split/codes.scp"
                "${infer_cmd_args[@]}" JOB=1:"${num}" "${out}/log/resynth.JOB.log" \
                    "${python}" -m sptok.bin.resynthesize --model "${model}" \
                        --device "${infer_device}" --levels "${levels}" \
                        --utt2num_samples "${dumpdir}/raw/${dset}/utt2num_samples" \
                        --codes_scp "${out}/split/codes.scp.JOB" --out_dir "${out}" \
                        --out_scp "${out}/split/wav.scp.JOB"
                merge_parts "${out}/wav.scp" "${out}/split/wav.scp." "" "${num}"
                [ "$(wc -l < "${out}/wav.scp")" -eq "$(wc -l < "${codes}/codes.scp")" ] \
                    || die "${out}/wav.scp and ${codes}/codes.scp differ in length (see ${out}/log)"
                rm -rf "${out}/split"
                end_step "${out}" "${signature}"
            done
        done
    done
fi


if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ] && [ ${#tokenizer_tags[@]} -gt 0 ]; then
    log "Stage 7: codec scoring (${score_metrics}; ASR ${score_asr}) -> ${expdir}/codec_results.md"
    # The ground truth's text metrics: the ASR on the original audio.
    text_metrics=$(tr ',' '\n' <<< "${score_metrics}" | grep -Ex 'wer|cer' | paste -sd, -) || true
    collect_args=()
    for dset in "${test_set_list[@]}"; do
        data=${dumpdir}/raw/${dset}
        require_done "${data}" "stage 2"
        if [ -n "${text_metrics}" ]; then
            dir=${expdir}/score_ground_truth/${dset}
            score_job "Stage 7" "${dir}" "metrics=${text_metrics} ${score_options}
$(cat "${data}/.done")" "ground truth" \
                --hyp_scp "${data}/wav.scp" --text "${data}/text" --metrics "${text_metrics}"
            collect_args+=(--score "${dset}" "ground truth" "${dir}/summary.yaml")
        fi
        for tag in "${tokenizer_tags[@]}"; do
            for levels in "${resynth_level_list[@]}"; do
                resynth=${expdir}/${tag}/resynth/rvq${levels/:/-}/${dset}
                require_done "${resynth}" "stage 6"
                score_job "Stage 7" "${resynth}/score" "metrics=${score_metrics} ${score_options}
$(cat "${resynth}/.done")
$(cat "${data}/.done")" "${tag} RVQ-${levels}" \
                    --hyp_scp "${resynth}/wav.scp" --ref_scp "${data}/wav.scp" \
                    --text "${data}/text" --metrics "${score_metrics}"
                collect_args+=(--score "${dset}" "${tag} RVQ-${levels}" "${resynth}/score/summary.yaml")
            done
        done
        for tag in "${tokenizer_tags[@]}"; do
            codes=${dumpdir}/codes/${tag}/${dset}
            stats=${expdir}/${tag}/codebook_stats/${dset}
            require_done "${codes}" "stage 5"
            signature=$(cat "${codes}/.done")
            if ! is_done "${stats}.done" "${signature}"; then
                codebook_size=$("${python}" scripts/utils/yaml_get.py \
                    "${expdir}/${tag}/config.yaml" quantizer_conf.codebook_size)
                "${python}" -m sptok.bin.codebook_stats --codes_scp "${codes}/codes.scp" \
                    --codebook_size "${codebook_size}" --out "${stats}" > /dev/null
                mark_done "${stats}.done" "${signature}"
            fi
            collect_args+=(--usage "${dset}" "${tag}" "${stats}.json")
        done
    done
    "${python}" scripts/codec/collect_results.py --out "${expdir}/codec_results.md" \
        "${collect_args[@]}" >&2
    log "Stage 7: wrote ${expdir}/codec_results.md"
fi


if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ] && [ -z "${slmtokbench_config}" ]; then
    log "Stage 8: skipped: no --slmtokbench_config (SLMTokBench YAML)"
fi
if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ] && [ -n "${slmtokbench_config}" ]; then
    log "Stage 8: SLMTokBench of ${tokenizer_tags[*]:-no tokenizer}${teacher_path:+ and ${units_name}}" \
        "on ${dumpdir}/raw/${slmtokbench_test_set} -> ${bench_dir}"
    for dset in "${train_set}" "${slmtokbench_test_set}"; do
        require_done "${dumpdir}/raw/${dset}" "stage 2"
    done
    make_args=(--config "${slmtokbench_config}" --out "${bench_dir}/bench.yaml")
    inputs="$(checksums "${slmtokbench_config}")
$(cat "${dumpdir}/raw/${train_set}/.done" "${dumpdir}/raw/${slmtokbench_test_set}/.done")"
    for tag in "${tokenizer_tags[@]}"; do
        require_done "${expdir}/${tag}" "stage 4 (training of ${tag})"
        make_args+=(--codec "${tag}" "${expdir}/${tag}")
        inputs+="
$(cat "${expdir}/${tag}/.done")"
    done
    vocoder_args=()
    if [ -n "${teacher_path}" ]; then
        # HuBERT units: k-means of the teacher features of stage 3, and of the test set here.
        require_done "${teacher_feats_dir}/${train_set}" "stage 3"
        dump_teacher_feats "Stage 8" "${slmtokbench_test_set}"
        make_args+=(--units "${units_name}" "${teacher_feats_dir}/${train_set}/feats.scp"
                    "${teacher_feats_dir}/${slmtokbench_test_set}/feats.scp"
                    --teacher "${teacher_path}" --layer "${teacher_layer}")
        inputs+="
$(cat "${teacher_feats_dir}/${train_set}/.done" "${teacher_feats_dir}/${slmtokbench_test_set}/.done")"
        if [ -n "${unit_vocoder_config}" ]; then
            require_done "${dumpdir}/raw/${valid_set}" "stage 2"
            make_args+=(--vocoder "${vocoder_dir}")
            # The codec task with the frozen teacher and the benchmark's k-means (a copy in the
            # vocoder's directory) as encoder and quantizer (sptok.slmtokbench.unit_vocoder).
            vocoder_args=(--config "${unit_vocoder_config}" --output_dir "${vocoder_dir}"
                          --train_data_dir "${dumpdir}/raw/${train_set}"
                          --valid_data_dir "${dumpdir}/raw/${valid_set}"
                          --encoder_conf.teacher "${teacher_path}"
                          --encoder_conf.layer "${teacher_layer}"
                          --quantizer_conf.kmeans "${vocoder_dir}/kmeans.pt"
                          --device "$(train_device)" "${unit_vocoder_arg_list[@]}")
            inputs+="
unit vocoder: ${vocoder_args[*]}
$(checksums "${unit_vocoder_config}")
$(cat "${dumpdir}/raw/${valid_set}/.done")"
        fi
    fi
    # Results of other options or inputs are not mixed with these: the benchmark starts afresh.
    signature="slmtokbench ${bench_args[*]}
make_config ${make_args[*]}
${inputs}"
    if begin_step "${bench_dir}" "${signature}"; then
        "${python}" scripts/slmtokbench/make_config.py "${make_args[@]}" \
            || die "--slmtokbench_config ${slmtokbench_config}: see the error above"
        if [ ${#vocoder_args[@]} -gt 0 ]; then
            log "Stage 8: k-means units and tokens (log: ${bench_dir}/log/tokens.log)"
            "${infer_cmd_args[@]}" --num_threads "${num_threads}" "${bench_dir}/log/tokens.log" \
                "${python}" -m sptok.bin.slmtokbench --config "${bench_dir}/bench.yaml" \
                    --steps tokens "${bench_args[@]}"
            # The units by their centroids: a refit of the same k-means writes other file bytes.
            kmeans_sum=$("${python}" -c 'import hashlib, sys
from sptok.slmtokbench.units import load_kmeans
state = load_kmeans(sys.argv[1])[0].state_dict()
print(hashlib.sha1(b"".join(state[k].numpy().tobytes() for k in sorted(state))).hexdigest())' \
                "${bench_dir}/tokens/${units_name}/kmeans.pt")
            vocoder_signature="train ${vocoder_args[*]}
$(checksums "${unit_vocoder_config}")
units ${kmeans_sum}
$(cat "${dumpdir}/raw/${train_set}/.done" "${dumpdir}/raw/${valid_set}/.done")"
            # Its checkpoint holds the units it decodes: other units start afresh.
            if [ -f "${vocoder_dir}/units.sha1" ] \
                && [ "$(cat "${vocoder_dir}/units.sha1")" != "${kmeans_sum}" ]; then
                log "Stage 8: ${vocoder_dir} was trained on other units: starting afresh"
                rm -rf "${vocoder_dir}"
            fi
            if [ ! -f "${vocoder_dir}/units.sha1" ]; then
                mkdir -p "${vocoder_dir}"
                cp "${bench_dir}/tokens/${units_name}/kmeans.pt" "${vocoder_dir}/kmeans.pt"
                echo "${kmeans_sum}" > "${vocoder_dir}/units.sha1"
            fi
            log "Stage 8: unit vocoder ${unit_vocoder_config} -> ${vocoder_dir}"
            train_step "Stage 8" "${vocoder_dir}" "${vocoder_signature}" "${vocoder_args[@]}"
        fi
        mapfile -t report_args < <(tts_report_args)
        log "Stage 8: benchmark (log: ${bench_dir}/log/bench.log)"
        "${infer_cmd_args[@]}" --num_threads "${num_threads}" "${bench_dir}/log/bench.log" \
            "${python}" -m sptok.bin.slmtokbench --config "${bench_dir}/bench.yaml" \
                "${bench_args[@]}" "${report_args[@]}"
        end_step "${bench_dir}" "${signature}"
    else
        log "Stage 8: ${bench_dir} is up to date (${bench_dir}/.done)"
    fi
    log "Stage 8: wrote ${bench_dir}/results.md and ${bench_dir}/report/report.html"
fi


if [ "${stage}" -le 11 ] && [ "${stop_stage}" -ge 9 ] && [ -z "${uslm_config}" ]; then
    log "Stages 9-11: skipped: no --uslm_config (USLM training YAML)"
fi
if [ "${stage}" -le 11 ] && [ "${stop_stage}" -ge 9 ] && [ -n "${uslm_config}" ]; then
    # The text front end of the USLM config (with the options of this run) tokenises stage 9.
    uslm_resolved=$("${python}" -m sptok.bin.train --config "${uslm_config}" \
        "${uslm_arg_list[@]}" --print_config) \
        || die "--uslm_config ${uslm_config} with options '${uslm_arg_list[*]}': not a valid" \
            "config (see above)"
    uslm_get() {
        "${python}" scripts/utils/yaml_get.py - "$1" <<< "${uslm_resolved}"
    }
    [ "$(uslm_get task)" = uslm ] \
        || die "--uslm_config ${uslm_config}: task is '$(uslm_get task)', not uslm"
    token_type=$(uslm_get token_type)
    text_dir=${dumpdir}/${token_type}
    word_sep=$(uslm_get tokenizer_conf.word_sep)
    text_args=(--token_type "${token_type}" --cleaner "$(uslm_get tokenizer_conf.cleaner)"
               --punctuation "$(uslm_get tokenizer_conf.punctuation)"
               --stress "$(uslm_get tokenizer_conf.stress)"
               --word_sep "${word_sep/#null/none}")
    if [ "${token_type}" = bpe ]; then
        bpe_model=$(uslm_get bpe_model)
        if [ "${bpe_model}" = null ] || [ ! -f "${bpe_model}" ]; then
            die "--uslm_config ${uslm_config}: token_type bpe needs bpe_model (a sentencepiece" \
                "model file; got ${bpe_model})"
        fi
        text_args+=(--bpe_model "${bpe_model}")
    fi
    text_args+=("${tokenize_text_arg_list[@]}")
    # Training and validation text, and the text of the TTS test sets (checked against the list).
    text_sets=("${train_set}" "${valid_set}")
    for dset in "${tts_test_set_list[@]}"; do
        in_list "${dset}" "${text_sets[@]}" || text_sets+=("${dset}")
    done
fi


if [ "${stage}" -le 9 ] && [ "${stop_stage}" -ge 9 ] && [ -n "${uslm_config}" ]; then
    log "Stage 9: text tokenisation (${token_type}) -> ${text_dir}/<set>/text for ${text_sets[*]}"
    signature="tokenize_text ${text_args[*]}"
    for dset in "${text_sets[@]}"; do
        require_done "${dumpdir}/raw/${dset}" "stage 2"
        signature+="
$(cat "${dumpdir}/raw/${dset}/.done")"
    done
    if begin_step "${text_dir}" "${signature}"; then
        for dset in "${text_sets[@]}"; do
            # The training set writes the token list, the others are checked against it.
            if [ "${dset}" = "${train_set}" ]; then
                list_args=(--write_token_list "${text_dir}/tokens.txt")
            else
                list_args=(--token_list "${text_dir}/tokens.txt")
            fi
            mkdir -p "${text_dir}/${dset}"
            "${train_cmd_args[@]}" "${expdir}/tokenize_text/log/${dset}.log" \
                "${python}" -m sptok.bin.tokenize_text --in_text "${dumpdir}/raw/${dset}/text" \
                    --out_text "${text_dir}/${dset}/text" "${text_args[@]}" "${list_args[@]}"
        done
        end_step "${text_dir}" "${signature}"
        log "Stage 9: wrote ${text_dir}/tokens.txt ($(wc -l < "${text_dir}/tokens.txt") symbols)"
    else
        log "Stage 9: ${text_dir} is up to date (${text_dir}/.done)"
    fi
fi


if [ "${stage}" -le 10 ] && [ "${stop_stage}" -ge 10 ] && [ -n "${uslm_config}" ]; then
    log "Stage 10: USLM training (${uslm_config}) on the codes of ${uslm_tags[*]}" \
        "-> ${expdir}/uslm_<tag>"
    require_done "${text_dir}" "stage 9"
    for tag in "${uslm_tags[@]}"; do
        dir=${expdir}/uslm_${tag}
        codes=${dumpdir}/codes/${tag}
        inputs="$(cat "${text_dir}/.done")"
        for dset in "${train_set}" "${valid_set}"; do
            require_done "${codes}/${dset}" "stage 5"
            inputs+="
$(cat "${codes}/${dset}/.done")"
        done
        # The models predict the codec's codes: its codebook size and number of levels.
        codec_config=${expdir}/${tag}/config.yaml
        args=(--config "${uslm_config}" --output_dir "${dir}"
              --token_list "${text_dir}/tokens.txt"
              --train_text "${text_dir}/${train_set}/text"
              --valid_text "${text_dir}/${valid_set}/text"
              --train_codes "${codes}/${train_set}/codes.scp"
              --valid_codes "${codes}/${valid_set}/codes.scp"
              --codebook_size "$("${python}" scripts/utils/yaml_get.py "${codec_config}" \
                  quantizer_conf.codebook_size)"
              --n_q "$("${python}" scripts/utils/yaml_get.py "${codec_config}" quantizer_conf.n_q)"
              --device "$(train_device)" "${uslm_arg_list[@]}")
        signature="train ${args[*]}
$(checksums "${uslm_config}")
${inputs}"
        log "Stage 10: $(uslm_label "${tag}"): ${uslm_config} on ${codes} -> ${dir}"
        train_step "Stage 10" "${dir}" "${signature}" "${args[@]}"
    done
fi


if [ "${stage}" -le 11 ] && [ "${stop_stage}" -ge 11 ] && [ -n "${uslm_config}" ]; then
    log "Stage 11: zero-shot TTS of ${tts_test_set_list[*]} by ${uslm_tags[*]/#/uslm_}" \
        "(${tts_prompt_seconds} s prompts) -> ${expdir}/uslm_results.md"
    for tag in "${uslm_tags[@]}"; do
        require_done "${expdir}/${tag}" "stage 4 (training of ${tag})"
        require_done "${expdir}/uslm_${tag}" "stage 10 (USLM training on ${tag})"
    done
    collect_args=()
    for dset in "${tts_test_set_list[@]}"; do
        data=${dumpdir}/raw/${dset}
        list_dir=${expdir}/tts/${dset}
        require_done "${data}" "stage 2"
        # One decode list for every system: the same prompts (another utterance of the
        # speaker, seeded), and the ground truth scored against them.
        signature="prompt_seconds=${tts_prompt_seconds} ${tts_arg_list[*]}
$(cat "${data}/.done")"
        if begin_step "${list_dir}" "${signature}"; then
            log "Stage 11: decode list and ${tts_prompt_seconds} s prompts of ${data} -> ${list_dir}"
            "${train_cmd_args[@]}" "${list_dir}/log/list.log" \
                "${python}" -m sptok.bin.tts --data_dir "${data}" --out_dir "${list_dir}" \
                    --list_only true --sample_rate "${fs_hz}" \
                    --prompt_seconds "${tts_prompt_seconds}" "${tts_arg_list[@]}"
            "${python}" -m sptok.bin.filter_scp --keys "${list_dir}/text" "${data}/wav.scp" \
                "${list_dir}/wav_ground_truth.scp"
            end_step "${list_dir}" "${signature}"
        else
            log "Stage 11: ${list_dir} is up to date (${list_dir}/.done)"
        fi
        score_job "Stage 11" "${list_dir}/score_ground_truth" "metrics=wer,spk_sim ${score_options}
$(cat "${list_dir}/.done")" "ground truth" \
            --hyp_scp "${list_dir}/wav_ground_truth.scp" --text "${list_dir}/text" \
            --spk_ref_scp "${list_dir}/prompt.scp" --metrics wer,spk_sim
        collect_args+=(--score "${dset}" "ground truth" "${list_dir}/score_ground_truth/summary.yaml")

        for tag in "${uslm_tags[@]}"; do
            model=${expdir}/uslm_${tag}
            out=${model}/decode_${dset}
            num=$(num_jobs "${list_dir}/decode_list.tsv")
            signature="tts ${tts_arg_list[*]} nj=${num}
$(cat "${model}/.done")
$(cat "${expdir}/${tag}/.done")
$(cat "${list_dir}/.done")"
            if begin_step "${out}" "${signature}"; then
                log "Stage 11: ${model} + ${expdir}/${tag} speak ${list_dir}/decode_list.tsv" \
                    "-> ${out}: ${num} jobs (logs: ${out}/log/tts.*.log)"
                split_for_jobs "${python}" "${list_dir}/decode_list.tsv" "${num}" \
                    "${out}/split/decode_list.tsv"
                "${infer_cmd_args[@]}" --num_threads "${num_threads}" JOB=1:"${num}" \
                    "${out}/log/tts.JOB.log" \
                    "${python}" -m sptok.bin.tts --uslm_exp "${model}" --codec "${expdir}/${tag}" \
                        --device "${infer_device}" --batch_file "${out}/split/decode_list.tsv.JOB" \
                        --out_dir "${out}" --out_scp "${out}/split/wav.scp.JOB" "${tts_arg_list[@]}"
                merge_parts "${out}/wav.scp" "${out}/split/wav.scp." "" "${num}"
                [ "$(wc -l < "${out}/wav.scp")" -eq "$(wc -l < "${list_dir}/decode_list.tsv")" ] \
                    || die "${out}/wav.scp and ${list_dir}/decode_list.tsv differ in length" \
                        "(see ${out}/log)"
                rm -rf "${out}/split"
                end_step "${out}" "${signature}"
            else
                log "Stage 11: ${out} is up to date (${out}/.done)"
            fi
            label=$(uslm_label "${tag}")
            score_job "Stage 11" "${out}/score" "metrics=wer,spk_sim ${score_options}
$(cat "${out}/.done")" "${label}" \
                --hyp_scp "${out}/wav.scp" --text "${list_dir}/text" \
                --spk_ref_scp "${list_dir}/prompt.scp" --metrics wer,spk_sim
            collect_args+=(--score "${dset}" "${label}" "${out}/score/summary.yaml")
        done
    done
    "${python}" scripts/uslm/collect_results.py --out "${expdir}/uslm_results.md" \
        --prompt_seconds "${tts_prompt_seconds}" "${collect_args[@]}" >&2
    log "Stage 11: wrote ${expdir}/uslm_results.md"
    # A few samples join the SLMTokBench report (its report step only: the rest is cached).
    if [ -f "${bench_dir}/.done" ]; then
        mapfile -t report_args < <(tts_report_args)
        log "Stage 11: TTS samples -> ${bench_dir}/report/report.html (log: ${bench_dir}/log/report.log)"
        "${infer_cmd_args[@]}" "${bench_dir}/log/report.log" \
            "${python}" -m sptok.bin.slmtokbench --config "${bench_dir}/bench.yaml" \
                --steps report "${bench_args[@]}" "${report_args[@]}"
    fi
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
