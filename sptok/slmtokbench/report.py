"""SLMTokBench report: the paper's table (tokens | MI | WER text-align | WER resynth | SIM) with
our extra columns STOI and PESQ, the voice-conversion table, the projection plots, and a static
HTML page with spectrograms and audio players of a few utterances (and of extra audio sections,
e.g. a recipe's zero-shot TTS samples: :class:`AudioSection`).

:class:`ReportData` holds the numbers and file paths; :func:`render_markdown` makes the Markdown
and :func:`write_html_report` a self-contained folder::

    report/
      report.html        tables, plots, examples (relative links only)
      images/            projection plots and spectrogram PNGs
      audio/             16-bit WAV copies of the example clips

Units: MI in nats (the probe's vCLUB estimate, see :mod:`sptok.slmtokbench.mutual_info`); WER in
percent; SIM a cosine in [-1, 1]; STOI in [0, 1]; PESQ wideband MOS-LQO.
"""
from __future__ import annotations

import datetime
import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from sptok.data.audio import load_audio, save_audio
from sptok.slmtokbench import report_html
from sptok.utils.fileio import atomic_open, atomic_path

PathLike = Union[str, Path]

BENCH_HEADINGS = ("tokens", "MI", "WER text-align (%)", "WER resynth (%)", "SIM", "STOI", "PESQ")
VC_HEADINGS = ("tokens", "condition", "WER (%)", "SIM to reference", "SIM to source", "pairs")

#: The paper's SLMTokBench table (LibriSpeech; Whisper medium.en, WavLM speaker verification).
PAPER_ROWS = (
    ("ground truth", None, None, 4.58, 1.0),
    ("HuBERT k-means 500", 31.2, 9.88, 16.26, 0.77),
    ("EnCodec RVQ-1", 16.5, 61.52, 38.34, 0.92),
    ("EnCodec RVQ-1:8", 23.6, 30.91, 5.11, 0.98),
    ("SpeechTokenizer RVQ-1 (avg teacher)", 30.9, 15.58, 9.57, 0.74),
    ("SpeechTokenizer RVQ-1:8 (avg)", 29.7, 16.03, 5.04, 0.97),
    ("SpeechTokenizer RVQ-1 (L9 teacher)", 32.9, 12.68, 14.17, 0.73),
)
#: The paper's one-shot voice conversion (SpeechTokenizer; WER %, SIM to the reference).
PAPER_VC_ROWS = (("ground truth", 0.4, 0.93), ("RVQ-2", 2.6, 0.72), ("RVQ-2:4", 11.7, 0.80),
                 ("RVQ-2:8", 35.4, 0.82))


@dataclass
class BenchRow:
    """One row of the main table; None where a value does not apply or was not measured."""

    label: str
    mi: Optional[float] = None
    wer_text: Optional[float] = None
    wer_resynth: Optional[float] = None
    sim: Optional[float] = None
    stoi: Optional[float] = None
    pesq: Optional[float] = None
    reference: bool = False

    def cells(self) -> List[str]:
        return [self.label, fmt(self.mi, 2), fmt(self.wer_text, 2), fmt(self.wer_resynth, 2),
                fmt(self.sim, 3), fmt(self.stoi, 3), fmt(self.pesq, 2)]


@dataclass
class VCRow:
    """One voice-conversion condition of one codec."""

    tokens: str
    condition: str
    wer: Optional[float] = None
    sim_reference: Optional[float] = None
    sim_source: Optional[float] = None
    pairs: Optional[int] = None

    def cells(self) -> List[str]:
        return [self.tokens, self.condition, fmt(self.wer, 2), fmt(self.sim_reference, 3),
                fmt(self.sim_source, 3), "-" if self.pairs is None else str(self.pairs)]


@dataclass
class Projection:
    """A projection plot and the 1-NN speaker accuracy of each of its panels."""

    label: str
    image: Path
    accuracy: Dict[str, float] = field(default_factory=dict)
    method: str = "pca"


@dataclass
class Clip:
    """One audio clip of an example: a label and a wav.scp value (file or ``cmd |``)."""

    label: str
    wav: str


@dataclass
class Example:
    """An utterance played in several versions (original, resyntheses, conversions)."""

    key: str
    text: str = ""
    speaker: str = ""
    clips: List[Clip] = field(default_factory=list)
    note: str = ""


@dataclass
class AudioSection:
    """More examples under a heading of their own (e.g. zero-shot TTS samples)."""

    title: str
    examples: List[Example] = field(default_factory=list)
    note: str = ""


@dataclass
class ReportData:
    """Everything the report shows."""

    title: str = "SLMTokBench"
    rows: List[BenchRow] = field(default_factory=list)
    vc_rows: List[VCRow] = field(default_factory=list)
    projections: List[Projection] = field(default_factory=list)
    examples: List[Example] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    settings: Dict[str, Any] = field(default_factory=dict)
    sample_rate: int = 16000
    sections: List[AudioSection] = field(default_factory=list)


def fmt(value: Optional[float], digits: int) -> str:
    """A table cell: ``-`` for a missing or NaN value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def markdown_table(headings: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headings) + " |",
             "|" + "|".join("---" for _ in headings) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |"
              for row in rows]
    return "\n".join(lines) + "\n"


def paper_rows() -> List[BenchRow]:
    return [BenchRow(label, mi, wer_text, wer_resynth, sim, reference=label == "ground truth")
            for label, mi, wer_text, wer_resynth, sim in PAPER_ROWS]


def render_markdown(data: ReportData) -> str:
    """results.md: our table, the voice-conversion table, the projection accuracies, notes and
    the paper's numbers for comparison."""
    parts = [f"# {data.title}\n",
             "\n## Token benchmark\n\n",
             markdown_table(BENCH_HEADINGS, [r.cells() for r in data.rows])]
    parts.append("\nMI: mutual information between tokens and text (nats, vCLUB estimate of the "
                 "text-alignment probe); WER text-align: the BiLSTM-CTC probe's transcripts; "
                 "WER resynth / SIM / STOI / PESQ: speech resynthesised from the tokens, "
                 "against the original.\n")
    if data.vc_rows:
        parts += ["\n## Disentanglement: one-shot voice conversion\n\n",
                  markdown_table(VC_HEADINGS, [r.cells() for r in data.vc_rows]),
                  "\nSource RVQ-1 + the reference utterance's levels 2..k; WER against the "
                  "source text, SIM to the reference (and to the source, for contrast).\n"]
    if data.projections:
        rows = [[p.label, name, f"{acc:.3f}", p.method]
                for p in data.projections for name, acc in p.accuracy.items()]
        parts += ["\n## Disentanglement: level embeddings by speaker\n\n",
                  markdown_table(("tokens", "levels", "1-NN speaker accuracy", "projection"),
                                 rows),
                  "\nMean-pooled codebook vectors per utterance; leave-one-out nearest-"
                  "neighbour speaker accuracy (cosine). Plots: "
                  + ", ".join(str(p.image) for p in data.projections) + "\n"]
    for section in data.sections:
        parts.append(f"\n## {section.title}\n\n")
        if section.note:
            parts.append(f"{section.note}\n\n")
        parts.append(f"Audio of {len(section.examples)} utterance(s) in report/report.html: "
                     + ", ".join(e.key for e in section.examples) + "\n")
    if data.notes:
        parts += ["\n## Notes\n\n", "".join(f"- {note}\n" for note in data.notes)]
    parts += ["\n## Paper (LibriSpeech; Whisper medium.en, WavLM speaker verification)\n\n",
              markdown_table(BENCH_HEADINGS[:5], [r.cells()[:5] for r in paper_rows()]),
              "\n", markdown_table(("condition", "WER (%)", "SIM"),
                                   [[c, fmt(w, 1), fmt(s, 2)] for c, w, s in PAPER_VC_ROWS])]
    return "".join(parts)


def write_markdown(data: ReportData, path: PathLike) -> Path:
    with atomic_open(path) as f:
        f.write(render_markdown(data))
    return Path(path)


# ------------------------------------------------------------------------------------------------
# Pictures and audio


def spectrogram_png(wav: np.ndarray, sample_rate: int, path: PathLike, title: str = "",
                    n_fft: int = 512, hop: int = 128) -> Path:
    """A log-magnitude spectrogram picture (dB, 0..sample_rate/2 Hz), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    signal = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))
    if signal.numel() < n_fft:
        signal = torch.nn.functional.pad(signal, (0, n_fft - signal.numel()))
    spec = torch.stft(signal, n_fft, hop, window=torch.hann_window(n_fft), return_complex=True)
    db = 20 * torch.log10(spec.abs().clamp_min(1e-5)).numpy()
    fig, ax = plt.subplots(figsize=(6, 2.4))
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=db.max() - 80,
              vmax=db.max(), extent=(0, len(wav) / sample_rate, 0, sample_rate / 2000))
    ax.set_xlabel("s")
    ax.set_ylabel("kHz")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return Path(path)


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


# ------------------------------------------------------------------------------------------------
# HTML


def _settings_html(settings: Mapping[str, Any]) -> str:
    if not settings:
        return ""
    items = "".join(f"<li><b>{report_html.esc(k)}</b>: {report_html.esc(v)}</li>"
                    for k, v in settings.items())
    return f"<h2>Settings</h2><ul>{items}</ul>"


def _examples_html(data: ReportData, report_dir: Path, examples: Sequence[Example],
                   prefix: str = "") -> str:
    """The examples' spectrograms and players; their files are named ``<prefix><index>_...``
    (distinct prefixes keep the files of different sections apart)."""
    parts = []
    for index, example in enumerate(examples):
        clips = []
        for clip in example.clips:
            wav = load_audio(clip.wav, data.sample_rate, key=example.key)
            name = f"{prefix}{index:02d}_{slug(example.key)}_{slug(clip.label)}"
            save_audio(report_dir / "audio" / f"{name}.wav", wav, data.sample_rate)
            spectrogram_png(wav, data.sample_rate, report_dir / "images" / f"{name}.png",
                            clip.label)
            clips.append(f'<div class="clip"><div><b>{report_html.esc(clip.label)}</b></div>'
                         f'<img src="images/{name}.png" alt="spectrogram: '
                         f'{report_html.esc(clip.label)}">'
                         f'<audio controls preload="none" src="audio/{name}.wav"></audio></div>')
        caption = f"<b>{report_html.esc(example.key)}</b>"
        if example.speaker:
            caption += f" (speaker {report_html.esc(example.speaker)})"
        if example.text:
            caption += f": &ldquo;{report_html.esc(example.text)}&rdquo;"
        note = f'<p class="note">{report_html.esc(example.note)}</p>' if example.note else ""
        parts.append(f'<div class="example"><p>{caption}</p>{note}{"".join(clips)}</div>')
    return "".join(parts)


def write_html_report(data: ReportData, report_dir: PathLike) -> Path:
    """Write ``report_dir/report.html`` with ``images/`` and ``audio/`` beside it; the folder
    can be moved or served as it is. Returns the page's path."""
    report_dir = Path(report_dir)
    (report_dir / "images").mkdir(parents=True, exist_ok=True)
    (report_dir / "audio").mkdir(parents=True, exist_ok=True)
    body = ['<h2>Token benchmark</h2>',
            report_html.table(BENCH_HEADINGS, [r.cells() for r in data.rows], "bench",
                              ["reference" if r.reference else "" for r in data.rows]),
            '<p class="note">MI: mutual information between tokens and text (nats); WER '
            "text-align: the BiLSTM-CTC probe trained on token embeddings; WER resynth, SIM, "
            "STOI, PESQ: speech resynthesised from the tokens, scored against the original."
            "</p>"]
    if data.vc_rows:
        body += ["<h2>Disentanglement: one-shot voice conversion</h2>",
                 report_html.table(VC_HEADINGS, [r.cells() for r in data.vc_rows], "vc"),
                 '<p class="note">Source RVQ-1 codes + the reference utterance\'s levels '
                 "2..k, decoded. WER against the source text; SIM to the reference utterance "
                 "and, for contrast, to the source.</p>"]
    if data.projections:
        body.append("<h2>Disentanglement: level embeddings by speaker</h2>")
        for projection in data.projections:
            name = f"projection_{slug(projection.label)}.png"
            shutil.copyfile(projection.image, report_dir / "images" / name)
            accuracy = "; ".join(f"{k}: 1-NN speaker accuracy {v:.3f}"
                                 for k, v in projection.accuracy.items())
            body.append(f'<figure><img src="images/{name}" alt="projection '
                        f'{report_html.esc(projection.label)}"><figcaption>'
                        f"{report_html.esc(projection.label)} ({projection.method.upper()}): "
                        f"{report_html.esc(accuracy)}</figcaption></figure>")
    if data.examples:
        body += ["<h2>Examples</h2>", _examples_html(data, report_dir, data.examples)]
    for number, section in enumerate(data.sections, 1):
        body.append(f"<h2>{report_html.esc(section.title)}</h2>")
        if section.note:
            body.append(f'<p class="note">{report_html.esc(section.note)}</p>')
        body.append(_examples_html(data, report_dir, section.examples, f"s{number}_"))
    if data.notes:
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{report_html.esc(n)}</li>"
                                                   for n in data.notes) + "</ul>")
    body.append(_settings_html(data.settings))
    body += ["<h2>Paper (LibriSpeech; Whisper medium.en, WavLM speaker verification)</h2>",
             report_html.table(BENCH_HEADINGS[:5], [r.cells()[:5] for r in paper_rows()],
                               "paper"),
             report_html.table(("condition", "WER (%)", "SIM"),
                               [[c, fmt(w, 1), fmt(s, 2)] for c, w, s in PAPER_VC_ROWS],
                               "paper-vc")]
    generated = datetime.datetime.now().isoformat(timespec="seconds")
    path = report_dir / "report.html"
    with atomic_open(path) as f:
        f.write(report_html.page(data.title, "\n".join(body), generated))
    return path


__all__ = ["BENCH_HEADINGS", "VC_HEADINGS", "PAPER_ROWS", "PAPER_VC_ROWS", "BenchRow", "VCRow",
           "Projection", "Clip", "Example", "AudioSection", "ReportData", "fmt",
           "markdown_table",
           "render_markdown", "write_markdown", "spectrogram_png", "write_html_report"]
