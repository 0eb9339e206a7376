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
#      name without .yaml and a leading "train_"); a re-run resumes from exp/<tag>/checkpoint.pt
#   5  token dump: codes of the train, valid and test sets (dump/codes/<tag>/<set>/codes.scp)
#   6  resynthesis: the test sets decoded from the levels of --resynth_levels
#      (exp/<tag>/resynth/rvq<levels>/<set>/wav.scp: rvq1-8 for levels 1:8, rvq1 for 1)
#   7  codec scoring: WER, speaker similarity, STOI, PESQ, mel distance of each resynthesis and
#      the ground truth's WER, codebook usage; all collected in exp/codec_results.md
# Stage 3 is skipped without a teacher, stages 4-7 without --tokenizer_configs.
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
quick_tokenizer_args="--max_steps 4 --valid_interval 2 --save_interval 2 --log_interval 1 --batch_size 2 --valid_batch_size 2 --num_workers 0 --segment_seconds 0.5 --valid_segment_seconds 1.0 --encoder_conf.n_filters 4 --encoder_conf.dimension 32 --decoder_conf.n_filters 4 --quantizer_conf.codebook_size 16 --quantizer_conf.kmeans_iters 2 --scheduler_conf.warmup_steps 1 --model_conf.discriminator_warmup_steps 2"  # added with --quick true, before tokenizer_args
ngpu=0                # GPUs per training (0: CPU; > 1: one DDP process per GPU through torchrun)
num_threads=2         # CPU threads of each training and scoring job (1 with --quick true)

# Token dump and resynthesis (stages 5-6)
inference_nj=32       # parallel jobs per data set of teacher features, token dump and resynthesis
gpu_inference=false   # teacher features, token dump, resynthesis and scoring on a GPU
resynth_levels="1:8 1"  # RVQ levels the test sets are resynthesised from: A:B or A (1-based)

# Codec scoring (stage 7)
score_metrics=wer,spk_sim,stoi,pesq,mel  # metrics of sptok.bin.score_audio
score_asr=whisper_tiny  # ASR of the WER (sptok.bin.score_audio --asr)
score_args=           # more options of sptok.bin.score_audio

# Data sets: local/data.sh makes data/<set> for each
train_set=            # training set
valid_set=            # validation set
test_sets=            # evaluation sets, space separated

help_message="Usage: $0 [options]   (from a recipe directory, usually through its run.sh)
Stages (--stage N --stop_stage M):
  1  data preparation: local/data.sh -> data/<set>
  2  format the audio (dump/raw/<set>); duration filter of the train/valid sets
  3  teacher targets: dump/teacher_feats/<set>/feats.scp (--teacher or --train_mini_teacher true)
  4  tokenizer training: exp/<tag> for each of --tokenizer_configs
  5  token dump: dump/codes/<tag>/<set>/codes.scp
  6  resynthesis of the test sets: exp/<tag>/resynth/rvq<levels>/<set>/wav.scp
  7  codec scoring: exp/codec_results.md"

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
[ -n "${train_set}" ] || die "--train_set is required"
[ -n "${valid_set}" ] || die "--valid_set is required"
read -r -a test_set_list <<< "${test_sets}"
read -r -a tokenizer_config_list <<< "${tokenizer_configs}"
read -r -a resynth_level_list <<< "${resynth_levels}"
for levels in "${resynth_level_list[@]}"; do
    [[ ${levels} =~ ^[1-9][0-9]*(:[1-9][0-9]*)?$ ]] \
        || die "--resynth_levels takes level ranges A:B or A (1-based, e.g. \"1:8 1\"), got '${levels}'"
done
if [ -n "${mini_teacher_conf}" ] && [ ! -f "${mini_teacher_conf}" ]; then
    die "--mini_teacher_conf ${mini_teacher_conf}: no such file"
fi

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
# The quick pass's tiny sizes come first: options given by the user win.
mini_teacher_arg_list=()
if [ -n "${mini_teacher_conf}" ]; then
    mapfile -t mini_teacher_arg_list < <(conf_words "${mini_teacher_conf}")
fi
tokenizer_arg_list=()
if "${quick}"; then
    read -r -a quick_words <<< "${quick_mini_teacher_args}"
    mini_teacher_arg_list+=("${quick_words[@]}")
    read -r -a tokenizer_arg_list <<< "${quick_tokenizer_args}"
fi
read -r -a more_words <<< "${mini_teacher_args}"
mini_teacher_arg_list+=("${more_words[@]}")
read -r -a more_words <<< "${tokenizer_args}"
tokenizer_arg_list+=("${more_words[@]}")
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
teacher_feats_dir=${dumpdir}/teacher_feats


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
            data=${dumpdir}/raw/${dset}
            out=${teacher_feats_dir}/${dset}
            num=$(num_jobs "${data}/wav.scp")
            signature="teacher=${teacher_path} layer=${teacher_layer} nj=${num}
$(file_stamps "${teacher_path}")
$(cat "${data}/.done")"
            if ! begin_step "${out}" "${signature}"; then
                log "Stage 3: ${out} is up to date (${out}/.done)"
                continue
            fi
            logdir=${expdir}/teacher_feats/${dset}/log
            log "Stage 3: ${data} -> ${out}: ${num} jobs (logs: ${logdir}/dump.*.log)"
            split_for_jobs "${python}" "${data}/wav.scp" "${num}" "${out}/split/wav.scp"
            # Jobs finished by an interrupted run find their output complete and skip.
            "${infer_cmd_args[@]}" JOB=1:"${num}" "${logdir}/dump.JOB.log" \
                "${python}" -m sptok.bin.dump_teacher_feats --teacher "${teacher_path}" \
                    --layer "${teacher_layer}" --device "${infer_device}" \
                    --wav_scp "${out}/split/wav.scp.JOB" --out_prefix "${out}/feats.JOB"
            merge_parts "${out}/feats.scp" "${out}/feats." .scp "${num}"
            [ "$(wc -l < "${out}/feats.scp")" -eq "$(wc -l < "${data}/wav.scp")" ] \
                || die "${out}/feats.scp and ${data}/wav.scp differ in length (see ${logdir})"
            rm -rf "${out}/split"
            end_step "${out}" "${signature}"
            log "Stage 3: wrote ${out}/feats.scp"
        done
    fi
fi


if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 4 ] && [ ${#tokenizer_tags[@]} -eq 0 ]; then
    log "Stages 4-7: skipped: no --tokenizer_configs (training YAMLs)"
fi
if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ] && [ ${#tokenizer_tags[@]} -gt 0 ]; then
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
        if [ "${ngpu}" -ge 1 ]; then
            args+=(--device cuda)
        else
            args+=(--device cpu)
        fi
        args+=("${tokenizer_arg_list[@]}")
        signature="train ${args[*]}
$(checksums "${config}")
${inputs}"
        if is_done "${dir}/.done" "${signature}"; then
            log "Stage 4: ${dir} is up to date (${dir}/.done)"
            continue
        fi
        if [ -f "${dir}/.done" ]; then
            log "Stage 4: ${dir} was trained with other options or data: training goes on from" \
                "its checkpoint.pt (delete ${dir} to start afresh)"
        fi
        rm -f "${dir}/.done"
        mkdir -p "${dir}"
        if [ "${ngpu}" -ge 1 ]; then
            devices="${ngpu} GPUs"
        else
            devices="CPU, ${num_threads} threads"
        fi
        log "Stage 4: train ${config} -> ${dir} (${devices}; log: ${dir}/train.log)"
        if [ "${ngpu}" -gt 1 ]; then
            # torchrun (python -m torch.distributed.run): one process per GPU on this node.
            "${cuda_cmd_args[@]}" --gpu "${ngpu}" --num_threads "${num_threads}" "${dir}/train.log" \
                "${python}" -m torch.distributed.run --standalone --nproc_per_node "${ngpu}" \
                    -m sptok.bin.train "${args[@]}"
        elif [ "${ngpu}" -eq 1 ]; then
            "${cuda_cmd_args[@]}" --gpu 1 --num_threads "${num_threads}" "${dir}/train.log" \
                "${python}" -m sptok.bin.train "${args[@]}"
        else
            "${train_cmd_args[@]}" --num_threads "${num_threads}" "${dir}/train.log" \
                "${python}" -m sptok.bin.train "${args[@]}"
        fi
        mark_done "${dir}/.done" "${signature}"
        log "Stage 4: finished ${dir}"
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
            logdir=${model}/dump_codes/${dset}/log
            log "Stage 5: ${data} -> ${out}: ${num} jobs (logs: ${logdir}/dump_codes.*.log)"
            split_for_jobs "${python}" "${data}/wav.scp" "${num}" "${out}/split/wav.scp"
            "${infer_cmd_args[@]}" JOB=1:"${num}" "${logdir}/dump_codes.JOB.log" \
                "${python}" -m sptok.bin.dump_codes --model "${model}" --device "${infer_device}" \
                    --wav_scp "${out}/split/wav.scp.JOB" --out_prefix "${out}/codes.JOB"
            merge_parts "${out}/codes.scp" "${out}/codes." .scp "${num}"
            [ "$(wc -l < "${out}/codes.scp")" -eq "$(wc -l < "${data}/wav.scp")" ] \
                || die "${out}/codes.scp and ${data}/wav.scp differ in length (see ${logdir})"
            rm -rf "${out}/split"
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
    score_device_args=(--device "${infer_device}" --asr "${score_asr}" "${score_arg_list[@]}")
    # score DIR SIGNATURE TAG score_audio-options...: one scoring job into DIR, unless done.
    score() {
        local dir=$1 signature=$2 tag=$3
        shift 3
        if ! begin_step "${dir}" "${signature}"; then
            log "Stage 7: ${dir} is up to date (${dir}/.done)"
            return 0
        fi
        log "Stage 7: scoring ${tag} -> ${dir} (log: ${dir}/log/score.log)"
        "${infer_cmd_args[@]}" --num_threads "${num_threads}" "${dir}/log/score.log" \
            "${python}" -m sptok.bin.score_audio --out_dir "${dir}" --tag "${tag}" \
                "${score_device_args[@]}" "$@"
        end_step "${dir}" "${signature}"
    }
    # The ground truth's text metrics: the ASR on the original audio.
    text_metrics=$(tr ',' '\n' <<< "${score_metrics}" | grep -Ex 'wer|cer' | paste -sd, -) || true
    collect_args=()
    for dset in "${test_set_list[@]}"; do
        data=${dumpdir}/raw/${dset}
        require_done "${data}" "stage 2"
        if [ -n "${text_metrics}" ]; then
            dir=${expdir}/score_ground_truth/${dset}
            score "${dir}" "metrics=${text_metrics} ${score_device_args[*]}
$(cat "${data}/.done")" "ground truth" \
                --hyp_scp "${data}/wav.scp" --text "${data}/text" --metrics "${text_metrics}"
            collect_args+=(--score "${dset}" "ground truth" "${dir}/summary.yaml")
        fi
        for tag in "${tokenizer_tags[@]}"; do
            for levels in "${resynth_level_list[@]}"; do
                resynth=${expdir}/${tag}/resynth/rvq${levels/:/-}/${dset}
                require_done "${resynth}" "stage 6"
                score "${resynth}/score" "metrics=${score_metrics} ${score_device_args[*]}
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

log "Successfully finished. [elapsed=${SECONDS}s]"
