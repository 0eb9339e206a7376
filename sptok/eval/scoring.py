"""Per-utterance scoring of synthesised or resynthesised speech, and corpus summaries.

Metrics (names as given to ``--metrics``):

- ``wer``, ``cer``: the ASR scorer transcribes the hypothesis; word / character error rates in
  percent against the reference transcript, both normalised by
  :func:`sptok.eval.text_norm.normalize_text`. Corpus rates are summed errors over summed
  reference lengths.
- ``spk_sim``: cosine similarity of speaker embeddings of the hypothesis and its speaker
  reference (the reference audio, or a separate prompt for TTS / voice conversion).
- ``stoi``, ``estoi``, ``pesq``, ``mel``: signal metrics of the hypothesis against the reference
  audio (:mod:`sptok.eval.signal_metrics`).

Corpus summaries of the similarity and signal metrics are means over utterances (NaN values,
e.g. PESQ finding no speech, are left out and counted).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np

from sptok.eval.asr.base import AbsASR
from sptok.eval.error_rate import ErrorCounts, char_errors, word_errors
from sptok.eval.signal_metrics import SIGNAL_METRICS
from sptok.eval.speaker.base import AbsSpeakerEmbedder, cosine_similarity
from sptok.eval.text_norm import normalize_text

TEXT_METRICS = ("wer", "cer")
SPEAKER_METRICS = ("spk_sim",)
ALL_METRICS = TEXT_METRICS + SPEAKER_METRICS + tuple(SIGNAL_METRICS)

#: Summary table headings of the metrics, in table order.
METRIC_HEADINGS = {"wer": "WER (%)", "cer": "CER (%)", "spk_sim": "SIM", "stoi": "STOI",
                   "estoi": "ESTOI", "pesq": "PESQ", "mel": "Mel dist."}

#: Per-utterance transcript columns of wer/cer: normalised reference, normalised and raw ASR output.
TEXT_COLUMNS = ("ref_text", "asr_text", "asr_raw")
# Per-utterance columns of the error-rate metrics, after the rate itself.
_COUNT_COLUMNS = ("ref_len", "sub", "del", "ins")


def parse_metrics(spec: str | Sequence[str]) -> List[str]:
    """``"wer,pesq"`` (or a list) -> ``["wer", "pesq"]`` in canonical order, checked."""
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in ALL_METRICS]
    if unknown:
        raise ValueError(f"--metrics: unknown metric(s) {', '.join(unknown)}; known: "
                         f"{', '.join(ALL_METRICS)}")
    if not names:
        raise ValueError(f"--metrics: no metric given; known: {', '.join(ALL_METRICS)}")
    return [m for m in ALL_METRICS if m in names]


@dataclass
class UttInput:
    """One utterance to score; the fields a metric needs must be set.

    Attributes:
        key: utterance id.
        hyp: the waveform scored, float32 [N] at the scorer's sample rate.
        ref: reference waveform (signal metrics; speaker reference when ``spk_ref`` is None).
        text: reference transcript (wer, cer).
        spk_ref: speaker-reference waveform (a TTS / VC prompt).
        spk_ref_id: identity of ``spk_ref`` (its wav.scp value) so that a prompt shared by many
            utterances is embedded once.
    """

    key: str
    hyp: np.ndarray
    ref: Optional[np.ndarray] = None
    text: Optional[str] = None
    spk_ref: Optional[np.ndarray] = None
    spk_ref_id: Optional[str] = None


class Timer:
    """Seconds spent in one scorer and seconds of audio it processed (for real-time factors)."""

    def __init__(self) -> None:
        self.load_seconds = 0.0
        self.seconds = 0.0
        self.audio_seconds = 0.0

    def as_dict(self) -> Dict[str, float]:
        rtf = self.seconds / self.audio_seconds if self.audio_seconds else math.nan
        return {"load_s": round(self.load_seconds, 3), "compute_s": round(self.seconds, 3),
                "audio_s": round(self.audio_seconds, 3), "rtf": round(rtf, 4)}


class AudioScorer:
    """Scores batches of :class:`UttInput` with the chosen metrics.

    Args:
        metrics: metric names (see :data:`ALL_METRICS`).
        asr: needed for wer / cer.
        speaker: needed for spk_sim.
        sample_rate: rate of every waveform given to :meth:`score`.
        normalize: normalise transcripts before WER/CER (otherwise only lower-case and split on
            whitespace).
    """

    def __init__(self, metrics: Sequence[str], asr: Optional[AbsASR] = None,
                 speaker: Optional[AbsSpeakerEmbedder] = None, sample_rate: int = 16000,
                 normalize: bool = True) -> None:
        self.metrics = parse_metrics(list(metrics))
        if any(m in TEXT_METRICS for m in self.metrics) and asr is None:
            raise ValueError("wer/cer need an ASR scorer (--asr)")
        if "spk_sim" in self.metrics and speaker is None:
            raise ValueError("spk_sim needs a speaker-embedding scorer (--spk_model)")
        self.asr = asr
        self.speaker = speaker
        self.sample_rate = sample_rate
        self.normalize = normalize
        self.timers = {"asr": Timer(), "spk": Timer(), "signal": Timer()}
        self._spk_ref_cache: Dict[str, np.ndarray] = {}

    def _normalize(self, text: str) -> str:
        return normalize_text(text) if self.normalize else " ".join(text.lower().split())

    def _require(self, batch: Sequence[UttInput], field: str, metric: str) -> None:
        for utt in batch:
            if getattr(utt, field) is None:
                raise ValueError(f"key '{utt.key}': metric '{metric}' needs its {field}")

    def _seconds(self, wavs: Iterable[np.ndarray]) -> float:
        return sum(w.shape[0] for w in wavs) / self.sample_rate

    def _score_text(self, batch: Sequence[UttInput], rows: List[Dict[str, Any]]) -> None:
        self._require(batch, "text", "wer/cer")
        timer = self.timers["asr"]
        start = time.perf_counter()
        texts = self.asr.transcribe([(u.key, u.hyp, self.sample_rate) for u in batch])
        timer.seconds += time.perf_counter() - start
        timer.audio_seconds += self._seconds(u.hyp for u in batch)
        for utt, row in zip(batch, rows):
            ref, hyp = self._normalize(utt.text), self._normalize(texts[utt.key])
            for metric, counter in (("wer", word_errors), ("cer", char_errors)):
                if metric in self.metrics:
                    counts = counter(ref, hyp)
                    row[metric] = counts.rate
                    row.update({f"{metric}_{c}": v for c, v in zip(
                        _COUNT_COLUMNS, (counts.ref_len, counts.substitutions, counts.deletions,
                                         counts.insertions))})
            row.update(zip(TEXT_COLUMNS, (ref, hyp, texts[utt.key])))

    def _score_speaker(self, batch: Sequence[UttInput], rows: List[Dict[str, Any]]) -> None:
        timer = self.timers["spk"]
        start = time.perf_counter()
        ref_ids: List[str] = []
        pending: Dict[str, np.ndarray] = {}  # speaker references not embedded yet
        for utt in batch:
            if utt.spk_ref is not None:
                ref_id, wav = f"prompt:{utt.spk_ref_id or utt.key}", utt.spk_ref
            elif utt.ref is not None:
                ref_id, wav = f"ref:{utt.key}", utt.ref
            else:
                raise ValueError(f"key '{utt.key}': metric 'spk_sim' needs a reference or a "
                                 "speaker-reference waveform")
            ref_ids.append(ref_id)
            if ref_id not in self._spk_ref_cache:
                pending.setdefault(ref_id, wav)
        inputs = [(f"hyp:{u.key}", u.hyp, self.sample_rate) for u in batch]
        inputs += [(ref_id, wav, self.sample_rate) for ref_id, wav in pending.items()]
        embeddings = self.speaker.embed(inputs)
        # Prompts are shared across utterances (voice conversion, TTS): keep their embeddings.
        self._spk_ref_cache.update((k, embeddings[k]) for k in pending if k.startswith("prompt:"))
        timer.seconds += time.perf_counter() - start
        timer.audio_seconds += self._seconds(w for _, w, _ in inputs)
        for utt, row, ref_id in zip(batch, rows, ref_ids):
            ref_embedding = embeddings[ref_id] if ref_id in embeddings else \
                self._spk_ref_cache[ref_id]
            row["spk_sim"] = cosine_similarity(embeddings[f"hyp:{utt.key}"], ref_embedding)

    def _score_signal(self, batch: Sequence[UttInput], rows: List[Dict[str, Any]]) -> None:
        names = [m for m in self.metrics if m in SIGNAL_METRICS]
        self._require(batch, "ref", "/".join(names))
        timer = self.timers["signal"]
        start = time.perf_counter()
        for utt, row in zip(batch, rows):
            for name in names:
                try:
                    row[name] = SIGNAL_METRICS[name](utt.ref, utt.hyp, self.sample_rate)
                except ValueError as e:
                    raise ValueError(f"key '{utt.key}': {name}: {e}") from e
        timer.seconds += time.perf_counter() - start
        timer.audio_seconds += self._seconds(u.hyp for u in batch)

    def score(self, batch: Sequence[UttInput]) -> List[Dict[str, Any]]:
        """One row per utterance: ``key``, then each metric's value (and for wer/cer the
        reference length and edit counts, plus the normalised reference, the normalised and the
        raw ASR transcript)."""
        rows: List[Dict[str, Any]] = [{"key": u.key} for u in batch]
        if not batch:
            return rows
        if any(m in TEXT_METRICS for m in self.metrics):
            self._score_text(batch, rows)
        if "spk_sim" in self.metrics:
            self._score_speaker(batch, rows)
        if any(m in SIGNAL_METRICS for m in self.metrics):
            self._score_signal(batch, rows)
        return rows


def _round(value: float) -> float:
    """Six decimals: summaries should not show float noise such as 0.9999999999999999."""
    return round(float(value), 6)


def _mean_summary(values: Sequence[float]) -> Dict[str, Any]:
    finite = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    out: Dict[str, Any] = {"mean": _round(finite.mean()) if finite.size else math.nan,
                           "std": _round(finite.std()) if finite.size else math.nan,
                           "n_utt": int(finite.size)}
    if len(values) != finite.size:
        out["n_nan"] = len(values) - int(finite.size)
    return out


def summarize(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> Dict[str, Any]:
    """Corpus values of each metric from per-utterance rows.

    Returns:
        metric -> dict; wer/cer: ``value`` (percent), ``ref_len``, ``errors``, ``sub``, ``del``,
        ``ins``, ``n_utt``; the others: ``value`` (the mean), ``std``, ``n_utt`` (and ``n_nan``).
    """
    summary: Dict[str, Any] = {}
    for metric in parse_metrics(list(metrics)):
        if metric in TEXT_METRICS:
            total = ErrorCounts(0)
            for row in rows:
                total = total + ErrorCounts(*(int(row[f"{metric}_{c}"]) for c in _COUNT_COLUMNS))
            summary[metric] = {"value": _round(total.rate), "ref_len": total.ref_len,
                               "errors": total.errors, "sub": total.substitutions,
                               "del": total.deletions, "ins": total.insertions,
                               "n_utt": len(rows)}
        else:
            stats = _mean_summary([row.get(metric) for row in rows])
            summary[metric] = {"value": stats.pop("mean"), **stats}
    return summary


def markdown_table(tag: str, summary: Mapping[str, Mapping[str, Any]], n_utt: int) -> str:
    """A two-line Markdown table header plus one row: ``| tag | N | WER (%) | ... |``."""
    metrics = [m for m in ALL_METRICS if m in summary]
    digits = {"wer": 2, "cer": 2, "pesq": 3, "mel": 3}
    heading = ["tag", "utts"] + [METRIC_HEADINGS[m] for m in metrics]
    values = [tag, str(n_utt)] + [f"{summary[m]['value']:.{digits.get(m, 4)}f}" for m in metrics]
    lines = ["| " + " | ".join(heading) + " |",
             "|" + "|".join("---" for _ in heading) + "|",
             "| " + " | ".join(values) + " |"]
    return "\n".join(lines) + "\n"
