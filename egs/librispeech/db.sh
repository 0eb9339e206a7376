# shellcheck shell=bash
# Where the corpora live on this machine (sourced by local/data.sh). Point a variable at your copy,
# here or through the environment: the directory that holds the subset directories
# (train-clean-100/, dev-clean/, ... and SPEAKERS.TXT), or its parent holding LibriSpeech/.
# Nothing is downloaded: get LibriSpeech from https://www.openslr.org/12 and LibriTTS from
# https://www.openslr.org/60 (extract the subsets' .tar.gz).
LIBRISPEECH=${LIBRISPEECH:-downloads}   # LibriSpeech (tokenizer training, SLMTokBench)
LIBRITTS=${LIBRITTS:-downloads}         # LibriTTS (local/data.sh --corpus libritts)
