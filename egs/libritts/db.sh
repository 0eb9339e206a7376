# shellcheck shell=bash
# Where the corpus lives on this machine (sourced by local/data.sh, which is
# egs/librispeech/local/data.sh run with --corpus libritts). Point LIBRITTS at your copy, here or
# through the environment: the directory that holds the subset directories (train-clean-100/,
# dev-clean/, ... and speakers.tsv), or its parent holding LibriTTS/. Nothing is downloaded: get
# LibriTTS from https://www.openslr.org/60 (extract the subsets' .tar.gz).
LIBRITTS=${LIBRITTS:-downloads}
