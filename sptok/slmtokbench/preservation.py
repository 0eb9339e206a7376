"""SLMTokBench information preservation: resynthesise speech from some levels of a tokenizer's
codes and score what survived.

The paper decodes the tokens back to speech (the codec's decoder; a unit vocoder for HuBERT
units) and reports the WER of an ASR model on the result (Whisper medium.en) and the speaker
similarity to the original (a WavLM speaker-verification model), on 300 LibriSpeech test
utterances. Here the ASR and the speaker model are the offline scorers of :mod:`sptok.eval`
(chosen by name: ``asr: whisper_tiny``, ``spk_model: resemblyzer``, or any registered or
import-path class), and STOI, PESQ and log-mel distance against the original are added.

Python::

    tokenizer = load_codec("exp/codec_speechtokenizer")
    data = EvalSet.from_data_dir("dump/raw/test", max_utts=300)
    scorers = ScorerSet(["wer", "spk_sim", "stoi", "pesq", "mel"])
    summary = run_preservation(CodecResynthesis(tokenizer, "1"), data, scorers,
                               "exp/slmtokbench/preservation/st_rvq1")
    summary["metrics"]["wer"]["value"]

``run_preservation`` writes ``wav/<key>.wav`` (the resynthesised speech), ``wav.scp``,
``results.tsv`` (one row per utterance, as ``sptok.bin.score_audio``) and, last,
``summary.yaml`` (corpus values), whose presence marks the run complete.
"""
from __future__ import annotations

import logging
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import (Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple, Union)

import numpy as np
import torch
from tqdm import tqdm

from sptok.bin.score_audio import write_results
from sptok.data.audio import load_audio, save_audio
from sptok.data.errors import DataError
from sptok.data.kaldi_dir import c_sort_key, read_kv_file, write_kv_file
from sptok.eval.asr import asr_choices
from sptok.eval.scoring import TEXT_METRICS, AudioScorer, UttInput, parse_metrics, summarize
from sptok.eval.speaker import speaker_choices
from sptok.slmtokbench.token_sources import format_levels, parse_levels
from sptok.utils.config import dump_yaml, load_yaml
from sptok.utils.fileio import atomic_open
from sptok.utils.progress import progress_mininterval

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]
SUMMARY = "summary.yaml"
DEFAULT_METRICS = ("wer", "spk_sim", "stoi", "pesq", "mel")


# ------------------------------------------------------------------------------------------------
# Evaluation data


@dataclass
class EvalSet:
    """Utterances of a Kaldi data dir to evaluate on: audio, transcripts, speakers.

    Attributes:
        name: set name (for messages).
        wav_scp: the ``wav.scp`` file (named in errors).
        wavs: key -> wav.scp value (path or ``cmd |``).
        texts: key -> transcript.
        utt2spk: key -> speaker (each utterance its own speaker without an ``utt2spk``).
        keys: the utterances chosen, C-sorted.
    """

    name: str
    wav_scp: Path
    wavs: Dict[str, str]
    texts: Dict[str, str]
    utt2spk: Dict[str, str]
    keys: List[str] = field(default_factory=list)

    @classmethod
    def from_data_dir(cls, data_dir: PathLike, text: Optional[PathLike] = None,
                      max_utts: Optional[int] = None, seed: int = 0,
                      name: Optional[str] = None) -> "EvalSet":
        """Read ``wav.scp``, ``text`` (or ``text``) and ``utt2spk`` of ``data_dir``.

        ``max_utts`` keeps a seeded random subset (the paper scores 300 test utterances);
        ``segments`` files are not supported (format the data dir first).
        """
        data_dir = Path(data_dir)
        wav_scp = data_dir / "wav.scp"
        if not wav_scp.is_file():
            raise DataError("no wav.scp in the data dir", path=str(data_dir))
        if (data_dir / "segments").is_file():
            raise DataError("data dirs with segments are not supported; format the data dir "
                            "first (the recipe's stage 2 writes one file per utterance)",
                            path=str(data_dir / "segments"))
        wavs = read_kv_file(wav_scp)
        text_path = Path(text) if text is not None else data_dir / "text"
        if not text_path.is_file():
            raise DataError("transcripts not found", path=str(text_path))
        texts = read_kv_file(text_path, allow_empty_value=True)
        utt2spk_path = data_dir / "utt2spk"
        utt2spk = read_kv_file(utt2spk_path) if utt2spk_path.is_file() else {k: k for k in wavs}
        missing = [k for k in wavs if k not in texts]
        if missing:
            raise DataError(f"{len(missing)} utterance(s) of {wav_scp} have no transcript, "
                            f"e.g. {missing[:5]}", path=str(text_path))
        no_spk = [k for k in wavs if k not in utt2spk]
        if no_spk:
            raise DataError(f"{len(no_spk)} utterance(s) of {wav_scp} have no speaker, e.g. "
                            f"{no_spk[:5]}", path=str(utt2spk_path))
        keys = sorted(wavs, key=c_sort_key)
        if max_utts is not None and len(keys) > max_utts:
            keys = sorted(random.Random(seed).sample(keys, max_utts), key=c_sort_key)
        return cls(name or data_dir.name, wav_scp, wavs, texts, utt2spk, keys)

    def subset(self, keys: Sequence[str]) -> "EvalSet":
        """The same set restricted to ``keys`` (which must belong to it)."""
        unknown = [k for k in keys if k not in self.wavs]
        if unknown:
            raise ValueError(f"set '{self.name}': unknown keys {unknown[:5]}")
        return EvalSet(self.name, self.wav_scp, self.wavs, self.texts, self.utt2spk,
                       sorted(keys, key=c_sort_key))

    def load(self, key: str, sample_rate: int) -> np.ndarray:
        """float32 [N] audio of ``key`` at ``sample_rate``."""
        return load_audio(self.wavs[key], sample_rate, key=key, scp=self.wav_scp)

    def speakers(self) -> List[str]:
        """Speakers of the chosen utterances, sorted."""
        return sorted({self.utt2spk[k] for k in self.keys})


def batches(items: Sequence[Any], size: int) -> List[Sequence[Any]]:
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    return [items[i:i + size] for i in range(0, len(items), size)]


# ------------------------------------------------------------------------------------------------
# Scorers


class ScorerSet:
    """The offline ASR and speaker model, built once (on first need) and shared by every
    :class:`~sptok.eval.scoring.AudioScorer` of a benchmark run.

    Args:
        metrics: the metrics of preservation runs (``wer``, ``cer``, ``spk_sim``, ``stoi``,
            ``estoi``, ``pesq``, ``mel``).
        asr / asr_conf: ASR scorer by name or import path and its options
            (:data:`sptok.eval.asr.asr_choices`).
        spk_model / spk_model_conf: speaker-embedding model
            (:data:`sptok.eval.speaker.speaker_choices`).
        device: where the scorers run.
        normalize_text: normalise transcripts before WER/CER.
    """

    def __init__(self, metrics: Sequence[str] = DEFAULT_METRICS, asr: Optional[str] = None,
                 asr_conf: Optional[Mapping[str, Any]] = None, spk_model: Optional[str] = None,
                 spk_model_conf: Optional[Mapping[str, Any]] = None, device: str = "cpu",
                 normalize_text: bool = True):
        self.metrics = parse_metrics(list(metrics))
        self.asr_name = asr or asr_choices.default
        self.asr_conf = dict(asr_conf or {})
        self.spk_name = spk_model or speaker_choices.default
        self.spk_conf = dict(spk_model_conf or {})
        self.device = device
        self.normalize_text = normalize_text
        self._asr = None
        self._speaker = None

    @property
    def asr(self):
        if self._asr is None:
            start = time.perf_counter()
            self._asr = asr_choices.build(self.asr_name, self.asr_conf, device=self.device)
            logger.info("ASR %s loaded in %.1f s", self.asr_name, time.perf_counter() - start)
        return self._asr

    @property
    def speaker(self):
        if self._speaker is None:
            start = time.perf_counter()
            self._speaker = speaker_choices.build(self.spk_name, self.spk_conf,
                                                  device=self.device)
            logger.info("speaker model %s loaded in %.1f s", self.spk_name,
                        time.perf_counter() - start)
        return self._speaker

    def scorer(self, metrics: Optional[Sequence[str]] = None,
               sample_rate: int = 16000) -> AudioScorer:
        """An AudioScorer of ``metrics`` (default: this set's) at ``sample_rate``."""
        metrics = parse_metrics(list(metrics if metrics is not None else self.metrics))
        asr = self.asr if any(m in TEXT_METRICS for m in metrics) else None
        speaker = self.speaker if "spk_sim" in metrics else None
        return AudioScorer(metrics, asr=asr, speaker=speaker, sample_rate=sample_rate,
                           normalize=self.normalize_text)

    def describe(self) -> Dict[str, Any]:
        return {"metrics": list(self.metrics), "asr": self.asr_name, "asr_conf": self.asr_conf,
                "spk_model": self.spk_name, "spk_model_conf": self.spk_conf,
                "device": self.device}


# ------------------------------------------------------------------------------------------------
# Codecs and resynthesis


def load_codec(path: PathLike, checkpoint: Optional[PathLike] = None, device: str = "cpu"):
    """A trained codec (or unit vocoder) for encoding and decoding:
    :class:`sptok.inference.SpeechTokenizer` of an experiment dir, weight file or official
    release."""
    from sptok.inference import SpeechTokenizer

    return SpeechTokenizer.from_pretrained(path, checkpoint=checkpoint, device=device)


class Resynthesizer(Protocol):
    """Turns original utterances into the audio scored. ``sample_rate``: the rate of both."""

    name: str
    sample_rate: int

    def __call__(self, keys: Sequence[str], wavs: Sequence[np.ndarray]) -> List[np.ndarray]:
        ...


class GroundTruth:
    """The originals themselves: the reference row (WER of the ASR on real speech, SIM 1,
    STOI 1)."""

    name = "ground truth"

    def __init__(self, sample_rate: int = 16000):
        self.sample_rate = int(sample_rate)

    def __call__(self, keys: Sequence[str], wavs: Sequence[np.ndarray]) -> List[np.ndarray]:
        return [np.array(w, dtype=np.float32) for w in wavs]


def _pad_codes(items: Sequence[np.ndarray]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Codes [k, T_i] of several utterances -> padded [B, k, T] long and lengths [B]."""
    lengths = torch.tensor([c.shape[1] for c in items], dtype=torch.long)
    padded = torch.zeros(len(items), items[0].shape[0], int(lengths.max()), dtype=torch.long)
    for i, codes in enumerate(items):
        padded[i, :, :codes.shape[1]] = torch.from_numpy(np.asarray(codes, dtype=np.int64))
    return padded, lengths


def encode_batch(tokenizer, wavs: Sequence[np.ndarray], n_q: Optional[int] = None
                 ) -> List[np.ndarray]:
    """Codes [n_q, T_i] (int64) of each waveform [N_i], encoded as one padded batch."""
    lengths = torch.tensor([w.shape[0] for w in wavs], dtype=torch.long)
    padded = torch.zeros(len(wavs), int(lengths.max()))
    for i, wav in enumerate(wavs):
        padded[i, :wav.shape[0]] = torch.from_numpy(wav)
    codes, code_lengths = tokenizer.encode(padded, lengths, n_q=n_q)
    codes = codes.cpu().numpy()
    return [codes[i, :, :int(n)] for i, n in enumerate(code_lengths.tolist())]


def decode_batch(tokenizer, codes: Sequence[np.ndarray], start_level: int = 0,
                 num_samples: Optional[Sequence[int]] = None) -> List[np.ndarray]:
    """Waveforms [N_i] from codes [k, T_i] of levels ``start_level ..``; cut to
    ``num_samples`` (the originals' lengths) when given."""
    padded, lengths = _pad_codes(codes)
    wav, sample_lengths = tokenizer.decode(padded, lengths, start_level=start_level)
    wav = wav[:, 0].float().cpu().numpy()
    out = []
    for i, n in enumerate(sample_lengths.tolist()):
        if num_samples is not None:
            n = min(int(n), int(num_samples[i]))
        out.append(np.ascontiguousarray(wav[i, :n]))
    return out


class CodecResynthesis:
    """Encode (or read) codes, keep the levels ``levels`` and decode them.

    Args:
        tokenizer: :class:`sptok.inference.SpeechTokenizer` (or anything with its ``encode`` /
            ``decode`` / ``sample_rate`` / ``n_q``); a unit vocoder for units.
        levels: 1-based level spec (``"1"``, ``"1:8"``, ``"2:8"``) or 0-based ``(start, end)``.
        codes: key -> codes [T, n_q] already computed (a :class:`sptok.data.ark.CodesReader`
            of the tokens, or HuBERT units [T, 1]); None encodes the audio.
        name: row name for messages.
    """

    def __init__(self, tokenizer, levels: Union[str, Tuple[int, int]] = "1",
                 codes: Optional[Mapping[str, np.ndarray]] = None, name: Optional[str] = None):
        self.tokenizer = tokenizer
        if isinstance(levels, str):
            levels = parse_levels(levels, int(tokenizer.n_q))
        elif levels[1] > int(tokenizer.n_q) or not 0 <= levels[0] < levels[1]:
            raise ValueError(f"levels {levels} do not fit a codec of {tokenizer.n_q} levels")
        self.levels = levels
        self.codes = codes
        self.sample_rate = int(tokenizer.sample_rate)
        self.name = name or f"RVQ-{format_levels(levels)}"

    def _codes_of(self, keys: Sequence[str], wavs: Sequence[np.ndarray]) -> List[np.ndarray]:
        start, end = self.levels
        if self.codes is None:
            return [c[start:end] for c in encode_batch(self.tokenizer, wavs, n_q=end)]
        out = []
        for key in keys:
            if key not in self.codes:
                raise DataError(f"no codes for this utterance ({self.name})", key=key)
            codes = np.asarray(self.codes[key])
            if codes.ndim != 2 or codes.shape[1] < end:
                raise DataError(f"codes [T, n_q] with at least {end} levels needed for "
                                f"{self.name}, got shape {codes.shape}", key=key)
            out.append(codes[:, start:end].T)
        return out

    def __call__(self, keys: Sequence[str], wavs: Sequence[np.ndarray]) -> List[np.ndarray]:
        codes = self._codes_of(keys, wavs)
        return decode_batch(self.tokenizer, codes, start_level=self.levels[0],
                            num_samples=[w.shape[0] for w in wavs])


# ------------------------------------------------------------------------------------------------
# Running


def read_summary(out_dir: PathLike) -> Optional[Dict[str, Any]]:
    """The summary of a finished run in ``out_dir``, or None."""
    path = Path(out_dir) / SUMMARY
    return load_yaml(path) if path.is_file() else None


def score_and_save(scorer: AudioScorer, utts: List[UttInput], out_dir: Path,
                   save_wavs: bool, rows: List[Dict[str, Any]], wav_scp: Dict[str, str]) -> None:
    """Score one batch, append its rows and (optionally) write its audio to ``out_dir/wav``."""
    rows.extend(scorer.score(utts))
    if save_wavs:
        for utt in utts:
            path = out_dir / "wav" / f"{utt.key}.wav"
            save_audio(path, utt.hyp, scorer.sample_rate)
            wav_scp[utt.key] = str(path)


def finish_run(out_dir: Path, rows: List[Dict[str, Any]], metrics: Sequence[str],
               wav_scp: Mapping[str, str], info: Mapping[str, Any]) -> Dict[str, Any]:
    """Write results.tsv, wav.scp and (last) summary.yaml; returns the summary."""
    summary = dict(info)
    summary["n_utt"] = len(rows)
    summary["metrics"] = summarize(rows, metrics)
    write_results(rows, out_dir)
    if wav_scp:
        write_kv_file(out_dir / "wav.scp", dict(sorted(wav_scp.items(),
                                                       key=lambda kv: c_sort_key(kv[0]))))
    with atomic_open(out_dir / SUMMARY) as f:
        f.write(dump_yaml(summary))
    return summary


def run_preservation(resynth: Resynthesizer, data: EvalSet, scorers: ScorerSet,
                     out_dir: PathLike, batch_size: int = 8, save_wavs: bool = True,
                     info: Optional[Mapping[str, Any]] = None,
                     progress: bool = True) -> Dict[str, Any]:
    """Resynthesise every utterance of ``data`` with ``resynth`` and score it against the
    original (signal metrics, speaker similarity) and its transcript (WER/CER).

    Args:
        resynth: :class:`CodecResynthesis`, :class:`GroundTruth` or any :class:`Resynthesizer`.
        data: the utterances (``data.keys``).
        scorers: the ASR / speaker models and the metrics.
        out_dir: where wav/, wav.scp, results.tsv and summary.yaml go.
        batch_size: utterances resynthesised and scored together.
        save_wavs: keep the resynthesised audio (the report plays it).
        info: extra entries of summary.yaml (row name, levels ...).

    Returns:
        summary: ``name``, ``n_utt``, ``metrics`` (metric -> {value, ...}; WER/CER in percent,
        see :func:`sptok.eval.scoring.summarize`) and ``info``'s entries.
    """
    out_dir = Path(out_dir)
    metrics = scorers.metrics
    scorer = scorers.scorer(metrics, sample_rate=resynth.sample_rate)
    rows: List[Dict[str, Any]] = []
    wav_scp: Dict[str, str] = {}
    start = time.perf_counter()
    with tqdm(total=len(data.keys), unit="utt", desc=f"resynth {resynth.name}",
              disable=not progress, mininterval=progress_mininterval(), file=sys.stderr) as bar:
        for keys in batches(data.keys, batch_size):
            refs = [data.load(k, resynth.sample_rate) for k in keys]
            with torch.inference_mode():
                hyps = resynth(keys, refs)
            utts = [UttInput(k, hyp, ref=ref, text=data.texts[k])
                    for k, hyp, ref in zip(keys, hyps, refs)]
            score_and_save(scorer, utts, out_dir, save_wavs, rows, wav_scp)
            bar.update(len(keys))
    base = {"name": resynth.name, "set": data.name, "sample_rate": resynth.sample_rate,
            "scorers": scorers.describe(), "seconds": round(time.perf_counter() - start, 1)}
    base.update(info or {})
    summary = finish_run(out_dir, rows, metrics, wav_scp, base)
    shown = ", ".join(f"{m} {v['value']:.4g}" for m, v in summary["metrics"].items())
    logger.info("preservation %s: %d utterances: %s", resynth.name, len(rows), shown)
    return summary


__all__ = ["DEFAULT_METRICS", "EvalSet", "ScorerSet", "load_codec", "Resynthesizer",
           "GroundTruth", "CodecResynthesis", "encode_batch", "decode_batch",
           "run_preservation", "read_summary", "finish_run", "batches"]
