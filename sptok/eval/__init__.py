"""Offline evaluation scorers for codec resynthesis, SLMTokBench and USLM: ASR for WER/CER
(:mod:`sptok.eval.asr`), speaker similarity (:mod:`sptok.eval.speaker`), STOI/PESQ/mel distance
(:mod:`sptok.eval.signal_metrics`), text normalisation (:mod:`sptok.eval.text_norm`), and the
per-utterance scorer behind ``python -m sptok.bin.score_audio`` (:mod:`sptok.eval.scoring`).

Every model ships inside a pinned pip package (tools/requirements-eval.txt) and is loaded from
disk only; models are built on demand, so importing sptok.eval needs none of them.
"""
