"""The embedded corpus of the mini recipe: a multi-speaker English corpus synthesised locally.

lexicon (word lists, CMU pronunciations) -> sentences (seeded template grammar) -> voices (Debian
synthesisers, pitch/tempo pseudo-speakers) -> plan (who says what, in which set) -> synth / batch
(wav files, resumable) -> export (Kaldi data dirs, statistics). Entry point:
``python -m sptok.bin.make_mini_synth``.
"""
