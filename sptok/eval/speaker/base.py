"""Interface of the speaker-embedding scorers, and the similarity they are used for."""
from __future__ import annotations

import abc
from typing import Dict, List, Sequence

import numpy as np

from sptok.eval.utterances import Utterance, prepare_utterances


def l2_normalize(embeddings: np.ndarray) -> np.ndarray:
    """Rows of ``[B, D]`` scaled to unit length; an all-zero row becomes NaN (no speaker found)."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(embeddings, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, embeddings / norms, np.nan).astype(np.float32)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two embeddings ``[D]``; NaN when either is NaN or zero."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cosine_similarity: shapes differ, {a.shape} vs {b.shape}")
    denominator = np.linalg.norm(a) * np.linalg.norm(b)
    if not np.isfinite(denominator) or denominator == 0:
        return float("nan")
    return float(np.dot(a, b) / denominator)


class AbsSpeakerEmbedder(abc.ABC):
    """A speaker-verification model: one embedding per utterance, compared by cosine similarity.

    Subclasses set :attr:`sample_rate` and implement :meth:`embed_waveforms`; inputs at any rate
    are resampled here. Constructors take ``device``, which the scoring CLI passes to every scorer.
    """

    #: Rate (Hz) the model expects.
    sample_rate: int = 16000

    @abc.abstractmethod
    def embed_waveforms(self, wavs: List[np.ndarray]) -> np.ndarray:
        """Embeddings ``[B, D]`` of waveforms already at :attr:`sample_rate` (float32 [N_i])."""

    def embed(self, utterances: Sequence[Utterance]) -> Dict[str, np.ndarray]:
        """key -> unit-length embedding ``[D]`` (NaN where the model found no speech) for
        ``(key, wav [N], sample_rate)`` triples."""
        prepared = prepare_utterances(utterances, self.sample_rate, type(self).__name__)
        if not prepared:
            return {}
        embeddings = l2_normalize(self.embed_waveforms([wav for _, wav in prepared]))
        if embeddings.ndim != 2 or embeddings.shape[0] != len(prepared):
            raise RuntimeError(f"{type(self).__name__}.embed_waveforms returned shape "
                               f"{embeddings.shape} for {len(prepared)} waveforms")
        return {key: embeddings[i] for i, (key, _) in enumerate(prepared)}
