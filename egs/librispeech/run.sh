#!/usr/bin/env bash
# LibriSpeech 960 h: SpeechTokenizer as published (distilled from HuBERT base's layer average) and
# its baseline without distillation, evaluated on test-clean and test-other; SLMTokBench on
# test-clean; USLM (zero-shot TTS) on each tokenizer's codes of train_960, spoken on test-clean.
# Stages and options: ./sptok.sh --help; every option given here passes through, e.g.
# `run.sh --stage 3` (from the teacher targets on), `run.sh --ngpu 8` (torchrun, 8 GPUs),
# SPTOK_CMD_BACKEND=slurm (cmd.sh). The corpus: LIBRISPEECH in db.sh. The teacher: a local copy
# of facebook/hubert-base-ls960 (the Hugging Face directory) or fairseq's hubert_base_ls960.pt,
# given with --teacher.
# Scorers: Whisper tiny.en and resemblyzer, which ship offline; the paper's Whisper medium.en and
# WavLM speaker verifier: see conf/slmtokbench.yaml.
# USLM on LibriTTS with these tokenizers instead: egs/libritts/run.sh (after stage 4 here).
# The paper's L9 teacher instead of the layer average, in its own exp_l9/ (codec results,
# SLMTokBench with units of layer 9, its USLM; --stop_stage 8 leaves the USLM out):
#   run.sh --stage 3 --expdir exp_l9 --teacher_layer 9 \
#       --tokenizer_configs conf/train_speechtokenizer_l9.yaml --uslm_codec_tags speechtokenizer_l9
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"   # callable from anywhere: egs/librispeech/run.sh

train_set=train_960       # train-clean-100 + train-clean-360 + train-other-500
valid_set=dev_clean
test_sets="test_clean test_other"
teacher=downloads/hubert-base-ls960
tokenizer_configs="conf/train_speechtokenizer_avg.yaml conf/train_baseline.yaml"
# On SpeechTokenizer's codes the USLM, on the baseline's the VALL-E-style comparison.
uslm_codec_tags="speechtokenizer_avg baseline"

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
    --score_asr whisper_tiny \
    --slmtokbench_config conf/slmtokbench.yaml \
    --slmtokbench_test_set test_clean \
    --unit_vocoder_config conf/train_unit_vocoder.yaml \
    --uslm_config conf/train_uslm.yaml \
    --uslm_codec_tags "${uslm_codec_tags}" \
    --tts_test_sets test_clean \
    "$@"
