#!/usr/bin/env bash
# LibriTTS (585 h of LibriSpeech's books cut into sentences, 24 kHz, with punctuated text): USLM
# zero-shot TTS on the codes of the tokenizers that egs/librispeech trained (its stages 1-4; until
# they finish, `run.sh --stop_stage 3` prepares this corpus), spoken on test-clean, whose speakers
# are unseen in training. The paper trained its USLM on MLS English and spoke VCTK; this recipe
# is the smaller public stand-in for both.
# Stages and options: ./sptok.sh --help; every option given here passes through, e.g.
# `run.sh --stage 9` (from the text tokenisation on), `run.sh --ngpu 8`.
# The corpus: LIBRITTS in db.sh; local/ is egs/librispeech/local (--corpus libritts). The audio is
# resampled to the tokenizers' 16 kHz.
# The tokenizers: --pretrained_tokenizers TAG=EXP_DIR links each finished training into exp/TAG
# (stage 4) without training it; codes (stage 5), resynthesis and scoring of this corpus's test
# set (6-7) and the USLMs (9-11) are made here, and a re-run after more training in
# egs/librispeech redoes them. No teacher: stage 3 and SLMTokBench (on LibriSpeech) are skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"   # callable from anywhere: egs/libritts/run.sh

train_set=train_960       # train-clean-100 + train-clean-360 + train-other-500 (ESPnet's name)
valid_set=dev_clean
test_sets=test_clean
local_data_opts="--corpus libritts --train_set ${train_set} --eval_subsets dev-clean,test-clean"
# TAG=EXP_DIR of each tokenizer (paths from this directory); the tags name exp/<tag> here. The
# L9 tokenizer of egs/librispeech/run.sh's header instead: --uslm_codec_tags speechtokenizer_l9
# --pretrained_tokenizers speechtokenizer_l9=../librispeech/exp_l9/speechtokenizer_l9
librispeech_exp=../librispeech/exp
pretrained_tokenizers="speechtokenizer_avg=${librispeech_exp}/speechtokenizer_avg"
pretrained_tokenizers+=" baseline=${librispeech_exp}/baseline"
# On SpeechTokenizer's codes the USLM, on the baseline's the VALL-E-style comparison.
uslm_codec_tags="speechtokenizer_avg baseline"

./sptok.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --local_data_opts "${local_data_opts}" \
    --fs 16000 \
    --audio_format flac \
    --pretrained_tokenizers "${pretrained_tokenizers}" \
    --score_asr whisper_tiny \
    --uslm_config conf/train_uslm.yaml \
    --uslm_codec_tags "${uslm_codec_tags}" \
    --tts_test_sets "${test_sets}" \
    "$@"
