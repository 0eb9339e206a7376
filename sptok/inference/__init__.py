"""Inference with trained codecs: :class:`SpeechTokenizer` (waveforms <-> codes) and loading
of experiment directories and official releases (:mod:`sptok.inference.pretrained`)."""
from sptok.inference.pretrained import ModelFiles, load_generator, resolve_model_files
from sptok.inference.speechtokenizer import BATCH_MODES, SpeechTokenizer

__all__ = ["BATCH_MODES", "ModelFiles", "SpeechTokenizer", "load_generator",
           "resolve_model_files"]
