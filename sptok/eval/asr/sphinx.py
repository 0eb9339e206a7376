"""CMU PocketSphinx (5.x) with the US English acoustic model, language model and dictionary that
its PyPI wheel ships: a light, CPU-only recogniser, much less accurate than Whisper (see
shared/reference/environment.md), useful as a second, independent opinion."""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from sptok.eval.asr.base import AbsASR


class PocketsphinxASR(AbsASR):
    """Sequential PocketSphinx decoding, one whole utterance at a time.

    Args:
        device: only ``cpu``.
        hmm, lm, dict: acoustic model directory, language model, pronunciation dictionary;
            None: the wheel's en-us models.
    """

    def __init__(self, device: str = "cpu", hmm: Optional[str] = None, lm: Optional[str] = None,
                 dict: Optional[str] = None) -> None:  # noqa: A002 (PocketSphinx's option name)
        if device != "cpu":
            raise ValueError(f"{type(self).__name__}: runs on the CPU only, got device='{device}'")
        try:
            from pocketsphinx import Decoder
        except ImportError as e:
            raise ImportError("pocketsphinx is not installed: run tools/install.sh --extras eval "
                              "(or pip install -r tools/requirements-eval.txt)") from e
        options = {name: value for name, value in (("hmm", hmm), ("lm", lm), ("dict", dict))
                   if value is not None}
        self.decoder = Decoder(samprate=self.sample_rate, loglevel="FATAL", **options)

    def recognize(self, wavs: List[np.ndarray]) -> List[str]:
        texts = []
        for wav in wavs:
            pcm = (np.clip(wav, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
            self.decoder.start_utt()
            # full_utt: features are normalised over the whole utterance, so a transcript does
            # not depend on the utterances decoded before it.
            self.decoder.process_raw(pcm, no_search=False, full_utt=True)
            self.decoder.end_utt()
            hyp = self.decoder.hyp()
            texts.append(hyp.hypstr if hyp is not None else "")
        return texts
