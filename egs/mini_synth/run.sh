#!/usr/bin/env bash
# mini_synth: a small English corpus synthesised on this machine with the Debian TTS engines, so
# that the whole recipe runs end to end on a CPU without downloads. Stages and options:
# ./sptok.sh --help; every option given here passes through, e.g. `run.sh --stage 2 --quick true`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"   # callable from anywhere: egs/mini_synth/run.sh

train_set=train
valid_set=dev
test_sets="test test_unseen"   # test_unseen: voices absent from train
# SpeechTokenizer and its no-distillation baseline; the teacher is a small HuBERT trained here.
tokenizer_configs="conf/train_speechtokenizer.yaml conf/train_baseline.yaml"
# USLM on each codec's tokens: on SpeechTokenizer's it is USLM, on the baseline's the VALL-E-style
# comparison; zero-shot TTS on the unseen voices, at most 10 s each (500 frames; the longest test
# utterance is 7.2 s), so that a model that has not learnt to stop cannot run on for long.
uslm_codec_tags="speechtokenizer baseline"
# --quick true: the frame-rate encoder/decoder of the mini configs at a tiny size (sptok.sh's
# defaults shrink SEANet's options).
quick_tokenizer_args="--max_steps 4 --valid_interval 2 --save_interval 2 --log_interval 1 --batch_size 2 --valid_batch_size 2 --num_workers 0 --segment_seconds 0.5 --valid_segment_seconds 1.0 --encoder_conf.channels 16 --encoder_conf.num_layers 1 --encoder_conf.dimension 32 --decoder_conf.channels 16 --decoder_conf.num_layers 1 --quantizer_conf.codebook_size 16 --quantizer_conf.kmeans_iters 2 --scheduler_conf.warmup_steps 1 --model_conf.discriminator_warmup_steps 2"
quick_unit_vocoder_args="--max_steps 4 --valid_interval 2 --save_interval 2 --log_interval 1 --batch_size 2 --valid_batch_size 2 --num_workers 0 --segment_seconds 0.5 --valid_segment_seconds 1.0 --decoder_conf.channels 16 --decoder_conf.num_layers 1 --scheduler_conf.warmup_steps 1"

./sptok.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --fs 16000 \
    --nj 4 \
    --inference_nj 2 \
    --quick_data_opts "--hours 0.05" \
    --quick_tokenizer_args "${quick_tokenizer_args}" \
    --quick_unit_vocoder_args "${quick_unit_vocoder_args}" \
    --train_mini_teacher true \
    --mini_teacher_conf conf/mini_hubert.conf \
    --teacher_layer avg \
    --tokenizer_configs "${tokenizer_configs}" \
    --num_threads 2 \
    --score_asr whisper_tiny \
    --slmtokbench_config conf/slmtokbench.yaml \
    --slmtokbench_test_set test_unseen \
    --unit_vocoder_config conf/train_unit_vocoder.yaml \
    --uslm_config conf/train_uslm.yaml \
    --uslm_codec_tags "${uslm_codec_tags}" \
    --tts_test_sets test_unseen \
    --tts_args "--max_frames 500" \
    "$@"
