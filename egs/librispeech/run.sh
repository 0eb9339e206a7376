#!/usr/bin/env bash
# LibriSpeech 960 h: SpeechTokenizer as published (distilled from HuBERT base's layer average) and
# its baseline without distillation, evaluated on test-clean and test-other. Stages and options:
# ./sptok.sh --help; every option given here passes through, e.g. `run.sh --stage 3` (from the
# teacher targets on), `run.sh --ngpu 8` (torchrun, 8 GPUs), SPTOK_CMD_BACKEND=slurm (cmd.sh).
# The corpus: LIBRISPEECH in db.sh. The teacher: a local copy of facebook/hubert-base-ls960 (the
# Hugging Face directory) or fairseq's hubert_base_ls960.pt, given with --teacher.
# The paper's L9 teacher instead of the layer average (its own exp/speechtokenizer_l9):
#   run.sh --stage 3 --teacher_layer 9 --tokenizer_configs conf/train_speechtokenizer_l9.yaml
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"   # callable from anywhere: egs/librispeech/run.sh

train_set=train_960       # train-clean-100 + train-clean-360 + train-other-500
valid_set=dev_clean
test_sets="test_clean test_other"
teacher=downloads/hubert-base-ls960
tokenizer_configs="conf/train_speechtokenizer_avg.yaml conf/train_baseline.yaml"

./sptok.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --local_data_opts "--train_set ${train_set}" \
    --fs 16000 \
    --audio_format flac \
    --max_wav_duration 40 \
    --teacher "${teacher}" \
    --teacher_layer avg \
    --tokenizer_configs "${tokenizer_configs}" \
    "$@"
