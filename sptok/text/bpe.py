"""Sentencepiece subword units, for corpora without a pronunciation lexicon.

:func:`train_bpe` learns a model from a Kaldi ``text`` file (``utt transcription`` lines) after
the same text cleaning the tokenizer applies (:func:`sptok.text.normalize.clean_text`), and writes
``<out_dir>/<name>.model`` and ``<name>.vocab``. :class:`BpeTokenizer` splits text into pieces
(``"▁hel" "lo"``: ``▁`` marks the start of a word). Sentencepiece logs only warnings and errors.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import List, Sequence

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import read_kv_file
from sptok.text.normalize import clean_text
from sptok.utils.fileio import PathLike

MODEL_TYPES = ("bpe", "unigram", "char", "word")
#: Sentencepiece's own log levels: 0 info, 1 warning, 2 error (errors also raise).
_QUIET = 2


def _sentencepiece():
    try:
        import sentencepiece
    except ImportError as exc:
        raise ImportError("BPE needs sentencepiece: pip install sentencepiece==0.2.3") from exc
    return sentencepiece


def train_bpe(text: PathLike, out_dir: PathLike, vocab_size: int, model_type: str = "bpe",
              character_coverage: float = 1.0, cleaner: str = "english",
              punctuation: bool = True, name: str = "bpe",
              user_defined_symbols: Sequence[str] = (), num_threads: int = 0,
              input_sentence_size: int = 0) -> Path:
    """Train a sentencepiece model on the transcriptions of a Kaldi ``text`` file.

    Args:
        text: ``utt transcription`` lines.
        out_dir: gets ``<name>.model`` and ``<name>.vocab`` (written atomically, replacing older
            ones); created if missing.
        vocab_size: number of pieces, including sentencepiece's ``<unk> <s> </s>``.
        model_type: one of :data:`MODEL_TYPES`.
        character_coverage: share of characters covered (1.0 for small alphabets like English).
        cleaner, punctuation: text cleaning before training (see ``clean_text``); encode with
            the same settings (:class:`BpeTokenizer` takes them too).
        user_defined_symbols: symbols always kept whole.
        num_threads: trainer threads; 0 uses all CPUs (at most 16).
        input_sentence_size: train on this many randomly drawn sentences (0: all).

    Returns:
        The path of the ``.model`` file.

    Raises:
        DataError: a malformed text file, or an utterance that cleans to nothing (named by key).
        ValueError: a bad option, or ``vocab_size`` too large for the text (sentencepiece says
            the largest possible value).
    """
    if model_type not in MODEL_TYPES:
        raise ValueError(f"train_bpe: model_type must be one of {', '.join(MODEL_TYPES)}, "
                         f"got {model_type!r}")
    if vocab_size < 4:
        raise ValueError(f"train_bpe: vocab_size must be >= 4, got {vocab_size}")
    spm = _sentencepiece()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sentences = []
    for key, value in read_kv_file(text).items():
        cleaned = clean_text(value, cleaner, punctuation)
        if not cleaned:
            raise DataError(f"transcription {value!r} is empty after the {cleaner!r} cleaner",
                            path=str(text), key=key)
        sentences.append(cleaned)
    tmp_prefix = out / f".{name}.{os.getpid()}.tmp"
    corpus = tmp_prefix.with_suffix(".txt")
    threads = num_threads or min(os.cpu_count() or 1, 16)
    try:
        corpus.write_text("".join(s + "\n" for s in sentences), encoding="utf-8")
        try:
            spm.SentencePieceTrainer.train(
                input=str(corpus), model_prefix=str(tmp_prefix), vocab_size=vocab_size,
                model_type=model_type, character_coverage=character_coverage,
                user_defined_symbols=list(user_defined_symbols), num_threads=threads,
                input_sentence_size=input_sentence_size,
                shuffle_input_sentence=input_sentence_size > 0, minloglevel=_QUIET)
        except RuntimeError as exc:
            raise ValueError(f"train_bpe: sentencepiece failed on {text} with vocab_size="
                             f"{vocab_size}: {str(exc).split('] ')[-1]}") from None
        for suffix in (".vocab", ".model"):  # the model last: its presence means complete
            os.replace(f"{tmp_prefix}{suffix}", out / f"{name}{suffix}")
    finally:
        for leftover in (corpus, Path(f"{tmp_prefix}.model"), Path(f"{tmp_prefix}.vocab")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return out / f"{name}.model"


class BpeTokenizer:
    """Text -> sentencepiece pieces.

    Args:
        model: a ``.model`` file from :func:`train_bpe` (or any sentencepiece model).
        cleaner, punctuation: the text cleaning used at training time.
    """

    def __init__(self, model: PathLike, cleaner: str = "english", punctuation: bool = True):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"BPE model not found: {path}")
        spm = _sentencepiece()
        self.model_path = path
        self.processor = spm.SentencePieceProcessor(model_file=str(path))
        self.cleaner = cleaner
        self.punctuation = punctuation

    def __call__(self, text: str) -> List[str]:
        cleaned = clean_text(text, self.cleaner, self.punctuation)
        return list(self.processor.encode(cleaned, out_type=str)) if cleaned else []

    def inventory(self) -> List[str]:
        """The model's pieces in id order, without its control and unknown symbols (a symbol
        table adds its own specials)."""
        sp = self.processor
        return [sp.id_to_piece(i) for i in range(sp.get_piece_size())
                if not (sp.is_control(i) or sp.is_unknown(i))]

    def __repr__(self) -> str:
        return f"BpeTokenizer({str(self.model_path)!r}, {self.processor.get_piece_size()} pieces)"
