"""Interface of the offline ASR scorers: a batch of utterances in, one transcript per key out."""
from __future__ import annotations

import abc
from typing import Dict, List, Sequence

import numpy as np

from sptok.eval.utterances import Utterance, prepare_utterances


class AbsASR(abc.ABC):
    """An English speech recogniser used to score intelligibility (WER/CER).

    Subclasses set :attr:`sample_rate` and implement :meth:`recognize`; inputs at any rate are
    resampled here. Constructors take ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``), which the
    scoring CLI passes to every scorer; a backend that runs only on the CPU rejects anything else.
    Transcripts are returned as the recogniser wrote them: normalise them before scoring
    (:func:`sptok.eval.text_norm.normalize_text`).
    """

    #: Rate (Hz) the model expects.
    sample_rate: int = 16000

    @abc.abstractmethod
    def recognize(self, wavs: List[np.ndarray]) -> List[str]:
        """Transcribe waveforms already at :attr:`sample_rate`.

        Args:
            wavs: float32 arrays [N_i] in [-1, 1].

        Returns:
            one transcript per waveform, in order.
        """

    def transcribe(self, utterances: Sequence[Utterance]) -> Dict[str, str]:
        """Transcribe ``(key, wav [N], sample_rate)`` triples; returns key -> transcript."""
        prepared = prepare_utterances(utterances, self.sample_rate, type(self).__name__)
        if not prepared:
            return {}
        texts = self.recognize([wav for _, wav in prepared])
        if len(texts) != len(prepared):
            raise RuntimeError(f"{type(self).__name__}.recognize returned {len(texts)} "
                               f"transcripts for {len(prepared)} waveforms")
        return {key: " ".join(text.split()) for (key, _), text in zip(prepared, texts)}
