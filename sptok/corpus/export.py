"""Kaldi data directories and the statistics table of a synthesised corpus."""
from __future__ import annotations

from pathlib import Path
from typing import List, Mapping, Sequence

from sptok.corpus.lexicon import ARPABET
from sptok.corpus.plan import SUBSETS, PlannedUtterance
from sptok.corpus.sentences import phoneme_counts
from sptok.data.kaldi_dir import spk2utt_from_utt2spk, write_kv_file, write_spk2utt
from sptok.utils.fileio import PathLike, atomic_open


def wav_path(wav_dir: PathLike, utt: PlannedUtterance) -> Path:
    """Where the audio of ``utt`` lives: ``<wav_dir>/<speaker>/<utt_id>.wav`` (absolute)."""
    return Path(wav_dir).resolve() / utt.speaker.id / f"{utt.utt_id}.wav"


def write_data_dirs(plan: Sequence[PlannedUtterance], num_samples: Mapping[str, int],
                    wav_dir: PathLike, out_dir: PathLike) -> List[Path]:
    """Write ``<out_dir>/<set>/{wav.scp,text,utt2spk,spk2utt,utt2num_samples}`` for every set.

    Returns:
        the data directories, in :data:`SUBSETS` order.
    """
    out: List[Path] = []
    for subset in SUBSETS:
        utts = [u for u in plan if u.subset == subset]
        d = Path(out_dir) / subset
        write_kv_file(d / "wav.scp", {u.utt_id: str(wav_path(wav_dir, u)) for u in utts})
        write_kv_file(d / "text", {u.utt_id: u.sentence.text for u in utts})
        write_kv_file(d / "utt2spk", {u.utt_id: u.speaker.id for u in utts})
        write_kv_file(d / "utt2num_samples", {u.utt_id: str(num_samples[u.utt_id]) for u in utts})
        write_spk2utt(d / "spk2utt", spk2utt_from_utt2spk({u.utt_id: u.speaker.id for u in utts}))
        out.append(d)
    return out


def stats_table(plan: Sequence[PlannedUtterance], num_samples: Mapping[str, int],
                sample_rate: int = 16000) -> str:
    """Plain-text table: per set hours, utterances, speakers, distinct voices (timbres),
    ARPAbet phonemes covered (of 39) and the shortest/longest utterance."""
    header = ("set", "hours", "utts", "speakers", "voices", "phonemes", "min_s", "max_s")
    rows = [header]
    for subset in SUBSETS + ("total",):
        utts = [u for u in plan if subset in ("total", u.subset)]
        secs = [num_samples[u.utt_id] / sample_rate for u in utts]
        counts = phoneme_counts(u.sentence for u in utts)
        rows.append((subset, f"{sum(secs) / 3600:.3f}", str(len(utts)),
                     str(len({u.speaker.id for u in utts})),
                     str(len({u.speaker.base.timbre for u in utts})),
                     f"{sum(1 for p in ARPABET if counts[p])}/{len(ARPABET)}",
                     f"{min(secs):.2f}" if secs else "-", f"{max(secs):.2f}" if secs else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(r, widths))).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


def write_stats(path: PathLike, table: str) -> None:
    with atomic_open(path) as f:
        f.write(table)
