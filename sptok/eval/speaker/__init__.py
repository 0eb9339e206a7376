"""Speaker-embedding scorers for speaker similarity, chosen by name (``--spk_model resemblyzer``)
or by import path.

============  ==============================================================================
name          model
============  ==============================================================================
resemblyzer   GE2E LSTM encoder whose weights ship in the resemblyzer wheel (default)
hf_xvector    a local transformers x-vector model directory, e.g. wavlm-base-plus-sv
              (needs the transformers package): ``--spk_model_conf '{model_dir: DIR}'``
============  ==============================================================================

A model of your own (e.g. the paper's WavLM + ECAPA-TDNN from UniSpeech): subclass
:class:`AbsSpeakerEmbedder` (constructor accepting ``device``; implement ``embed_waveforms``),
then ``speaker_choices.register("mine", MyEmbedder)`` or pass
``--spk_model mypkg.module:MyEmbedder --spk_model_conf '{checkpoint: /path/model.pt}'``.
"""
from sptok.eval.speaker.base import AbsSpeakerEmbedder, cosine_similarity, l2_normalize
from sptok.eval.speaker.hf_xvector import HFXVectorEmbedder
from sptok.eval.speaker.resemblyzer import ResemblyzerEmbedder
from sptok.utils.registry import ClassChoices

speaker_choices = ClassChoices(
    "spk_model",
    {"resemblyzer": ResemblyzerEmbedder, "hf_xvector": HFXVectorEmbedder},
    default="resemblyzer",
    type_check=AbsSpeakerEmbedder,
    injected=("device",),
)

__all__ = ["AbsSpeakerEmbedder", "HFXVectorEmbedder", "ResemblyzerEmbedder", "cosine_similarity",
           "l2_normalize", "speaker_choices"]
