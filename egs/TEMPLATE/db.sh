# shellcheck shell=bash
# Where each corpus lives on this machine (sourced by local/data.sh). Point a variable at an
# existing copy, here or through the environment; "downloads" asks local/data.sh to download the
# corpus into the recipe's downloads/ directory where it knows how. mini_synth needs no entry: its
# local/data.sh synthesises the corpus.
LIBRISPEECH=${LIBRISPEECH:-downloads}   # LibriSpeech (tokenizer training, SLMTokBench)
LIBRITTS=${LIBRITTS:-downloads}         # LibriTTS
MLS_ENGLISH=${MLS_ENGLISH:-downloads}   # Multilingual LibriSpeech, English (USLM training)
VCTK=${VCTK:-downloads}                 # VCTK (zero-shot TTS evaluation)
