"""A Hugging Face ``transformers`` x-vector speaker-verification model from a local directory,
e.g. ``microsoft/wavlm-base-plus-sv`` (WavLM + x-vector head; the paper scored with a WavLM
speaker-verification model). ``transformers`` is not part of our pinned stack: install it to
use this scorer. Nothing is downloaded: copy the model directory (``config.json``, the weights,
``preprocessor_config.json``) to the machine, then
``--spk_model hf_xvector --spk_model_conf '{model_dir: /models/wavlm-base-plus-sv}'``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List

import numpy as np

from sptok.eval.speaker.base import AbsSpeakerEmbedder


class HFXVectorEmbedder(AbsSpeakerEmbedder):
    """Embeddings of a ``transformers`` ``*ForXVector`` model (WavLM, wav2vec 2.0, UniSpeech-SAT).

    Utterances are sorted by length and batched with zero padding and an attention mask.

    Args:
        model_dir: local directory with ``config.json`` and the weights; its
            ``preprocessor_config.json``, if any, sets the input normalisation (without one, each
            utterance is normalised to zero mean and unit variance, as for wavlm-base-plus-sv).
        device: torch device.
        batch_size: utterances per forward pass.
    """

    def __init__(self, model_dir: str, device: str = "cpu", batch_size: int = 8) -> None:
        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise ValueError(f"{type(self).__name__}: model_dir '{model_dir}' has no config.json "
                             "(expected a local transformers x-vector model directory)")
        if batch_size < 1:
            raise ValueError(f"{type(self).__name__}: batch_size must be >= 1, got {batch_size}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from transformers import AutoModelForAudioXVector, Wav2Vec2FeatureExtractor
        except ImportError as e:
            raise ImportError("hf_xvector needs the transformers package "
                              "(pip install transformers)") from e
        self._torch = torch
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.model = AutoModelForAudioXVector.from_pretrained(
            str(path), local_files_only=True).to(self.device).eval()
        if (path / "preprocessor_config.json").is_file():
            self.extractor = Wav2Vec2FeatureExtractor.from_pretrained(str(path),
                                                                      local_files_only=True)
        else:
            self.extractor = Wav2Vec2FeatureExtractor(do_normalize=True,
                                                      return_attention_mask=True)
        self.sample_rate = int(self.extractor.sampling_rate)

    def embed_waveforms(self, wavs: List[np.ndarray]) -> np.ndarray:
        torch = self._torch
        order = sorted(range(len(wavs)), key=lambda i: wavs[i].shape[0])
        out: List[np.ndarray] = [None] * len(wavs)  # type: ignore[list-item]
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                inputs = self.extractor([wavs[i] for i in batch], sampling_rate=self.sample_rate,
                                        padding=True, return_attention_mask=True,
                                        return_tensors="pt")
                inputs = {k: v.to(self.device) for k, v in inputs.items()}
                embeddings = self.model(**inputs).embeddings.float().cpu().numpy()
                for i, embedding in zip(batch, embeddings):
                    out[i] = embedding
        return np.stack(out)
