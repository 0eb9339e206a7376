"""Kaldi data directories: ``wav.scp``, ``text``, ``utt2spk``, ``spk2utt``, ``segments``,
``utt2num_samples``.

Every file is ``key<space>value`` per line, keys unique and sorted in C locale (byte order),
which is what Kaldi's and ESPnet's tools expect (``LC_ALL=C sort``):

- ``wav.scp``: recording -> audio file path, or a shell command ending in ``|`` that writes an audio
  file to stdout. Keyed by utterance when there is no ``segments`` file.
- ``segments``: utterance -> ``recording start end`` (seconds, ``0 <= start < end``).
- ``text``: utterance -> transcription.
- ``utt2spk``: utterance -> speaker; ``spk2utt``: speaker -> its utterances (derived from utt2spk).
- ``utt2num_samples``: utterance -> number of samples at the directory's sample rate.

:func:`validate_data_dir` checks a directory, :func:`fix_data_dir` repairs one (keeps the utterances
present in every file), :func:`combine_data_dirs` merges several.
"""
from __future__ import annotations

import logging
import math
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Set, \
    Tuple, TypeVar

from sptok.data.errors import DataError
from sptok.utils.fileio import PathLike, atomic_open, atomic_path
from sptok.utils.progress import progress_mininterval

logger = logging.getLogger(__name__)

WAV_SCP = "wav.scp"
TEXT = "text"
UTT2SPK = "utt2spk"
SPK2UTT = "spk2utt"
SEGMENTS = "segments"
UTT2NUM_SAMPLES = "utt2num_samples"
#: Other utterance-keyed files of Kaldi/ESPnet data dirs; fix and combine keep them consistent.
EXTRA_UTT_FILES = ("utt2dur", "utt2uniq", "utt2lang", "utt2num_frames", "feats.scp")
#: Utterance-keyed files whose key sets must agree (wav.scp is one of them without segments).
UTT_FILES = (UTT2SPK, TEXT, SEGMENTS, UTT2NUM_SAMPLES) + EXTRA_UTT_FILES
#: Everything fix_data_dir backs up and rewrites, and combine_data_dirs produces.
DATA_FILES = (WAV_SCP, SPK2UTT) + UTT_FILES
BACKUP_DIR = ".backup"

#: Problems listed one per line in a DataError before the rest is summarised.
_MAX_LISTED = 20

T = TypeVar("T")


def c_sort_key(key: str) -> bytes:
    """Sort key that reproduces ``LC_ALL=C sort`` order (UTF-8 byte order)."""
    return key.encode("utf-8")


def read_kv_file(path: PathLike, allow_empty_value: bool = False) -> Dict[str, str]:
    """Read a ``key value`` file into an ordered dict (file order).

    Raises:
        DataError: missing file, a malformed line (no value), or a duplicate key; the message names
            the file, the line and the key.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=str(path))
    out: Dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                raise DataError("empty line", path=str(path), line=lineno)
            parts = line.split(maxsplit=1)
            key = parts[0]
            value = parts[1].strip() if len(parts) > 1 else ""
            if not value and not allow_empty_value:
                raise DataError("malformed line: a key with no value", path=str(path), key=key,
                                line=lineno)
            if key in out:
                raise DataError("duplicate key", path=str(path), key=key, line=lineno)
            out[key] = value
    return out


def write_kv_file(path: PathLike, items: Mapping[str, str] | Iterable[Tuple[str, str]]) -> None:
    """Write ``key value`` lines sorted in C locale, atomically (temporary name, then rename)."""
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    pairs.sort(key=lambda kv: c_sort_key(kv[0]))
    with atomic_open(path) as f:
        for key, value in pairs:
            if not key or any(c.isspace() for c in key):
                raise DataError("keys must be non-empty and contain no whitespace", path=str(path),
                                key=key)
            f.write(f"{key} {value}\n" if value != "" else f"{key}\n")


# ------------------------------------------------------------------------------------------------
# Typed readers


class Segment(NamedTuple):
    """One ``segments`` line: the utterance is ``recording[start:end]`` (seconds)."""
    recording: str
    start: float
    end: float


def parse_segment(value: str, path: PathLike, key: str, line: Optional[int] = None) -> Segment:
    """Parse the value of a ``segments`` line (``recording start end``)."""
    fields = value.split()
    if len(fields) != 3:
        raise DataError(f"malformed segment '{value}': expected 'utt recording start end'",
                        path=str(path), key=key, line=line)
    try:
        start, end = float(fields[1]), float(fields[2])
    except ValueError:
        raise DataError(f"malformed segment '{value}': start and end must be numbers",
                        path=str(path), key=key, line=line) from None
    if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
        raise DataError(f"segment times must satisfy 0 <= start < end, got start={fields[1]} "
                        f"end={fields[2]}", path=str(path), key=key, line=line)
    return Segment(fields[0], start, end)


def parse_num_samples(value: str, path: PathLike, key: str, line: Optional[int] = None) -> int:
    """Parse a positive sample count (an ``utt2num_samples`` value)."""
    try:
        num = int(value)
    except ValueError:
        num = 0
    if num <= 0 or len(value.split()) != 1:
        raise DataError(f"expected a positive integer number of samples, got '{value}'",
                        path=str(path), key=key, line=line)
    return num


def read_segments(path: PathLike) -> Dict[str, Segment]:
    """Read a ``segments`` file (file order)."""
    table = read_kv_file(path)
    # read_kv_file refuses blank lines, so a key's line number is its position.
    return {utt: parse_segment(value, path, utt, lineno)
            for lineno, (utt, value) in enumerate(table.items(), 1)}


def read_utt2num_samples(path: PathLike) -> Dict[str, int]:
    """Read an ``utt2num_samples`` file (file order)."""
    table = read_kv_file(path)
    return {utt: parse_num_samples(value, path, utt, lineno)
            for lineno, (utt, value) in enumerate(table.items(), 1)}


def read_spk2utt(path: PathLike) -> Dict[str, List[str]]:
    """Read a ``spk2utt`` file; an utterance listed twice is an error."""
    out: Dict[str, List[str]] = {}
    seen: Dict[str, str] = {}
    for lineno, (spk, value) in enumerate(read_kv_file(path).items(), 1):
        utts = value.split()
        for utt in utts:
            if utt in seen:
                raise DataError(f"utterance '{utt}' listed twice (also under speaker "
                                f"'{seen[utt]}')", path=str(path), key=spk, line=lineno)
            seen[utt] = spk
        out[spk] = utts
    return out


def spk2utt_from_utt2spk(utt2spk: Mapping[str, str]) -> Dict[str, List[str]]:
    """Invert utt2spk; speakers and each speaker's utterances in C-locale order."""
    out: Dict[str, List[str]] = {}
    for utt in sorted(utt2spk, key=c_sort_key):
        out.setdefault(utt2spk[utt], []).append(utt)
    return {spk: out[spk] for spk in sorted(out, key=c_sort_key)}


def write_spk2utt(path: PathLike, spk2utt: Mapping[str, Sequence[str]]) -> None:
    write_kv_file(path, {spk: " ".join(utts) for spk, utts in spk2utt.items()})


def check_sorted(path: PathLike, keys: Iterable[str]) -> None:
    """Raise a DataError at the first key that breaks strict C-locale order."""
    previous: Optional[str] = None
    for lineno, key in enumerate(keys, 1):
        if previous is not None and c_sort_key(key) <= c_sort_key(previous):
            raise DataError(f"keys are not sorted in C locale: '{key}' comes after '{previous}' "
                            "(sort with LC_ALL=C sort or run fix_data_dir)",
                            path=str(path), key=key, line=lineno)
        previous = key


# ------------------------------------------------------------------------------------------------
# Validation


@dataclass
class DataDirSummary:
    """What :func:`validate_data_dir` found in a valid directory."""
    path: str
    num_utts: int
    num_speakers: int
    num_recordings: int
    has_text: bool
    has_segments: bool
    audio_checked: bool
    #: Total duration; None when it cannot be known without reading audio.
    total_seconds: Optional[float] = None
    #: The single sample rate of the audio, when known (None if unknown or mixed).
    sample_rate: Optional[int] = None

    def __str__(self) -> str:
        parts = [f"{self.path}: {self.num_utts} utterances", f"{self.num_speakers} speakers",
                 f"{self.num_recordings} recordings"]
        if self.total_seconds is not None:
            parts.append(f"{self.total_seconds / 3600:.3f} h ({self.total_seconds:.1f} s)")
        if self.sample_rate is not None:
            parts.append(f"{self.sample_rate} Hz")
        parts.append(f"text: {'yes' if self.has_text else 'no'}")
        parts.append(f"segments: {'yes' if self.has_segments else 'no'}")
        parts.append(f"audio checked: {'yes' if self.audio_checked else 'no'}")
        return ", ".join(parts)


class _Problems:
    """Collects DataErrors so that one run reports every problem of a directory."""

    def __init__(self, root: Path):
        self.root = root
        self.errors: List[DataError] = []

    def attempt(self, fn: Callable[..., T], *args, **kwargs) -> Optional[T]:
        try:
            return fn(*args, **kwargs)
        except DataError as exc:
            self.errors.append(exc)
            return None

    def add(self, error: DataError) -> None:
        self.errors.append(error)

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        if len(self.errors) == 1:
            raise self.errors[0]
        lines = [str(e) for e in self.errors[:_MAX_LISTED]]
        if len(self.errors) > _MAX_LISTED:
            lines.append(f"... and {len(self.errors) - _MAX_LISTED} more")
        raise DataError(f"{len(self.errors)} problems:\n  " + "\n  ".join(lines),
                        path=str(self.root))


def _check_same_keys(root: Path, ref_name: str, ref_keys: Iterable[str], name: str,
                     keys: Iterable[str]) -> None:
    ref, other = set(ref_keys), set(keys)
    if ref == other:
        return
    missing = sorted(ref - other, key=c_sort_key)
    extra = sorted(other - ref, key=c_sort_key)
    if missing:
        raise DataError(f"key is in {ref_name} but not in {name} ({len(missing)} such keys, "
                        f"{len(extra)} the other way round; run fix_data_dir)",
                        path=str(root / name), key=missing[0])
    raise DataError(f"key is in {name} but not in {ref_name} ({len(extra)} such keys; "
                    "run fix_data_dir)", path=str(root / name), key=extra[0])


def _check_spk2utt(root: Path, utt2spk: Mapping[str, str], spk2utt: Mapping[str, List[str]],
                   problems: _Problems) -> None:
    expected = spk2utt_from_utt2spk(utt2spk)
    path = str(root / SPK2UTT)
    for spk in expected.keys() - spk2utt.keys():
        problems.add(DataError(f"speaker is in {UTT2SPK} but not in {SPK2UTT} (regenerate it with "
                               "fix_data_dir)", path=path, key=spk))
    for spk, utts in spk2utt.items():
        if spk not in expected:
            problems.add(DataError(f"speaker is not in {UTT2SPK}", path=path, key=spk))
        elif set(utts) != set(expected[spk]):
            diff = sorted(set(utts) ^ set(expected[spk]), key=c_sort_key)
            problems.add(DataError(f"utterance list differs from {UTT2SPK} (e.g. '{diff[0]}'; "
                                   "regenerate it with fix_data_dir)", path=path, key=spk))


def _guess_sample_rate(wav_scp: Mapping[str, str]) -> Optional[int]:
    """Sample rate from the header of the first plain file in wav.scp (None if unknown)."""
    from sptok.data.audio import audio_file_info, is_pipe

    for spec in wav_scp.values():
        if not is_pipe(spec):
            info = audio_file_info(spec)
            return info[0] if info is not None else None
    return None


def _check_audio(root: Path, wav_scp: Mapping[str, str], segments: Optional[Mapping[str, Segment]],
                 num_samples: Optional[Mapping[str, int]], fs: Optional[int],
                 problems: _Problems) -> Tuple[float, Set[int]]:
    """Read every recording; returns the total duration of the utterances and the rates seen."""
    from tqdm import tqdm

    from sptok.data.audio import read_audio, segment_to_samples

    scp = root / WAV_SCP
    by_recording: Dict[str, List[Tuple[str, Segment]]] = {}
    for utt, seg in (segments or {}).items():
        by_recording.setdefault(seg.recording, []).append((utt, seg))
    total = 0.0
    rates: Set[int] = set()
    for rec, spec in tqdm(wav_scp.items(), desc=f"checking audio of {root}", unit="rec",
                          file=sys.stderr, mininterval=progress_mininterval()):
        if segments is not None and rec not in by_recording:
            continue
        try:
            wav, sample_rate = read_audio(spec, key=rec, scp=scp)
        except DataError as exc:
            problems.add(exc)
            continue
        rates.add(sample_rate)
        if fs is not None and sample_rate != fs:
            problems.add(DataError(f"audio '{spec}' is at {sample_rate} Hz, expected {fs} Hz",
                                   path=str(scp), key=rec))
        length = wav.shape[0]
        if segments is None:
            total += length / sample_rate
            if num_samples is not None and num_samples.get(rec, length) != length:
                problems.add(DataError(f"{num_samples[rec]} samples listed, but the audio has "
                                       f"{length}", path=str(root / UTT2NUM_SAMPLES), key=rec))
            continue
        for utt, seg in by_recording[rec]:
            bounds = problems.attempt(segment_to_samples, seg.start, seg.end, length, sample_rate,
                                      key=utt, path=root / SEGMENTS)
            if bounds is not None:
                total += (bounds[1] - bounds[0]) / sample_rate
    return total, rates


def validate_data_dir(path: PathLike, check_audio: bool = False, require_text: bool = True,
                      fs: Optional[int] = None) -> DataDirSummary:
    """Check a Kaldi data directory and summarise it.

    Checks: required files exist (wav.scp, utt2spk, spk2utt, and text unless ``require_text`` is
    False); no malformed, empty or duplicate lines; keys sorted in C locale; the same utterances in
    utt2spk, text, utt2num_samples and segments (or wav.scp without segments); spk2utt matches
    utt2spk; segments name recordings of wav.scp with ``0 <= start < end``. With ``check_audio``
    every recording is read: it must exist, be readable and decodable, hold samples, all finite;
    segments must lie within their recording, utt2num_samples must match the audio.

    Args:
        path: the data directory.
        check_audio: read all audio (slow).
        require_text: a missing ``text`` file is an error.
        fs: the directory's sample rate if known; used for the duration from utt2num_samples and,
            with ``check_audio``, required of every file.

    Raises:
        DataError: listing every problem found; each names the file and the key.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError("data directory not found", path=str(root))
    problems = _Problems(root)

    wav_scp = problems.attempt(read_kv_file, root / WAV_SCP)
    utt2spk = problems.attempt(read_kv_file, root / UTT2SPK)
    spk2utt = problems.attempt(read_spk2utt, root / SPK2UTT)
    has_text = require_text or (root / TEXT).exists()
    text = problems.attempt(read_kv_file, root / TEXT) if has_text else None
    has_segments = (root / SEGMENTS).exists()
    segments = problems.attempt(read_segments, root / SEGMENTS) if has_segments else None
    has_num_samples = (root / UTT2NUM_SAMPLES).exists()
    num_samples = (problems.attempt(read_utt2num_samples, root / UTT2NUM_SAMPLES)
                   if has_num_samples else None)
    problems.raise_if_any()
    assert wav_scp is not None and utt2spk is not None and spk2utt is not None

    tables: Dict[str, Iterable[str]] = {WAV_SCP: wav_scp, UTT2SPK: utt2spk, SPK2UTT: spk2utt}
    if text is not None:
        tables[TEXT] = text
    if segments is not None:
        tables[SEGMENTS] = segments
    if num_samples is not None:
        tables[UTT2NUM_SAMPLES] = num_samples
    for name, table in tables.items():
        problems.attempt(check_sorted, root / name, table)

    for name, table in tables.items():
        if name in (UTT2SPK, SPK2UTT) or (name == WAV_SCP and segments is not None):
            continue
        problems.attempt(_check_same_keys, root, UTT2SPK, utt2spk, name, table)
    _check_spk2utt(root, utt2spk, spk2utt, problems)
    for lineno, (utt, seg) in enumerate((segments or {}).items(), 1):
        if seg.recording not in wav_scp:
            problems.add(DataError(f"recording '{seg.recording}' is not in {WAV_SCP}",
                                   path=str(root / SEGMENTS), key=utt, line=lineno))
    for lineno, (key, spec) in enumerate(wav_scp.items(), 1):
        if spec.rstrip() == "|":
            problems.add(DataError("empty pipe command", path=str(root / WAV_SCP), key=key,
                                   line=lineno))
    problems.raise_if_any()

    total: Optional[float] = None
    sample_rate: Optional[int] = fs
    if check_audio:
        total, rates = _check_audio(root, wav_scp, segments, num_samples, fs, problems)
        problems.raise_if_any()
        sample_rate = next(iter(rates)) if len(rates) == 1 else None
    elif segments is not None:
        total = sum(seg.end - seg.start for seg in segments.values())
    elif num_samples is not None:
        sample_rate = fs or _guess_sample_rate(wav_scp)
        if sample_rate:
            total = sum(num_samples.values()) / sample_rate

    return DataDirSummary(path=str(root), num_utts=len(utt2spk), num_speakers=len(spk2utt),
                          num_recordings=len(wav_scp), has_text=text is not None,
                          has_segments=segments is not None, audio_checked=check_audio,
                          total_seconds=total, sample_rate=sample_rate)


# ------------------------------------------------------------------------------------------------
# Repair


@dataclass
class FixReport:
    """What :func:`fix_data_dir` changed."""
    path: str
    backup_dir: str
    num_kept: int
    #: Utterance -> why it was dropped.
    dropped_utts: Dict[str, str] = field(default_factory=dict)
    #: Recordings of wav.scp no kept segment refers to.
    dropped_recordings: List[str] = field(default_factory=list)
    #: Lines removed for being empty, malformed or duplicated (one message each).
    line_problems: List[str] = field(default_factory=list)
    #: Files whose lines were not in C-locale order.
    resorted: List[str] = field(default_factory=list)
    summary: Optional[DataDirSummary] = None

    def __str__(self) -> str:
        lines = [f"{self.path}: kept {self.num_kept} utterances, dropped "
                 f"{len(self.dropped_utts)} utterances and {len(self.dropped_recordings)} "
                 f"recordings; originals in {self.backup_dir}"]
        lines += [f"  {problem}" for problem in self.line_problems[:_MAX_LISTED]]
        shown = list(self.dropped_utts.items())[:_MAX_LISTED]
        lines += [f"  dropped utterance '{utt}': {why}" for utt, why in shown]
        if len(self.dropped_utts) > len(shown):
            lines.append(f"  ... and {len(self.dropped_utts) - len(shown)} more utterances")
        if self.dropped_recordings:
            lines.append(f"  dropped recordings without segments: "
                         f"{' '.join(self.dropped_recordings[:_MAX_LISTED])}")
        if self.summary is not None:
            lines.append(f"  now: {self.summary}")
        return "\n".join(lines)


def _read_kv_lenient(path: Path, parse: Optional[Callable[[str, Path, str, int], object]] = None
                     ) -> Tuple[Dict[str, str], Set[str], List[str]]:
    """Read a key/value file, skipping what cannot be trusted.

    Returns ``(table, poisoned, problems)``: the usable lines; keys whose lines were malformed or
    duplicated with different values (their utterances must be dropped); one message per problem.
    Identical duplicate lines are collapsed into one.
    """
    table: Dict[str, str] = {}
    poisoned: Set[str] = set()
    problems: List[str] = []
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n").rstrip("\r")
            parts = line.split(maxsplit=1)
            if not parts:
                problems.append(str(DataError("empty line removed", path=str(path), line=lineno)))
                continue
            key = parts[0]
            value = parts[1].strip() if len(parts) > 1 else ""
            reason = "malformed line: a key with no value" if not value else None
            if reason is None and parse is not None:
                try:
                    parse(value, path, key, lineno)
                except DataError as exc:
                    poisoned.add(key)
                    problems.append(f"{exc}; key dropped")
                    continue
            if reason is None and key in table and table[key] != value:
                reason = "duplicate key with a different value"
            if reason is not None:
                poisoned.add(key)
                problems.append(str(DataError(f"{reason}; key dropped", path=str(path), key=key,
                                              line=lineno)))
                continue
            if key in table:
                problems.append(str(DataError("duplicate line removed", path=str(path), key=key,
                                              line=lineno)))
                continue
            table[key] = value
    for key in poisoned:
        table.pop(key, None)
    return table, poisoned, problems


def fix_data_dir(path: PathLike) -> FixReport:
    """Repair a data directory in place (Kaldi ``utils/fix_data_dir.sh``).

    Keeps only the utterances present in every utterance-keyed file (utt2spk, text, segments or
    wav.scp, utt2num_samples and the :data:`EXTRA_UTT_FILES` present), drops empty, malformed and
    conflicting lines and recordings that no kept segment uses, sorts every file in C locale and
    regenerates spk2utt. Originals are copied to ``path/.backup/`` first (replacing an older
    backup). Nothing is written when no utterance would remain.

    Raises:
        DataError: wav.scp or utt2spk is missing, or no utterance is in every file.
    """
    root = Path(path)
    for required in (WAV_SCP, UTT2SPK):
        if not (root / required).is_file():
            raise DataError(f"file not found; {required} is needed to fix a data directory",
                            path=str(root / required))
    parsers: Dict[str, Callable[[str, Path, str, int], object]] = {
        SEGMENTS: parse_segment, UTT2NUM_SAMPLES: parse_num_samples}

    tables: Dict[str, Dict[str, str]] = {}
    poisoned: Dict[str, Set[str]] = {}
    line_problems: List[str] = []
    for name in (WAV_SCP,) + UTT_FILES:
        if (root / name).is_file():
            tables[name], poisoned[name], problems = _read_kv_lenient(root / name,
                                                                      parsers.get(name))
            line_problems += problems

    has_segments = SEGMENTS in tables
    utt_tables = {name: tables[name] for name in UTT_FILES if name in tables}
    if not has_segments:
        utt_tables[WAV_SCP] = tables[WAV_SCP]
    dropped: Dict[str, str] = {}
    all_utts: Set[str] = set().union(*utt_tables.values())
    for name in utt_tables:
        for utt in sorted(poisoned[name], key=c_sort_key):
            all_utts.add(utt)
            dropped.setdefault(utt, f"bad line in {name}")
    if has_segments:
        for utt, value in tables[SEGMENTS].items():
            recording = value.split()[0]
            if recording not in tables[WAV_SCP]:
                dropped[utt] = f"recording '{recording}' is not in {WAV_SCP}"
    for utt in sorted(all_utts, key=c_sort_key):
        lacking = [name for name, table in utt_tables.items() if utt not in table]
        if lacking and utt not in dropped:
            dropped[utt] = f"not in {', '.join(lacking)}"
    keep = [utt for utt in sorted(all_utts, key=c_sort_key) if utt not in dropped]
    if not keep:
        raise DataError("no utterance is present in every file; nothing was changed",
                        path=str(root))

    kept_tables = {name: {utt: table[utt] for utt in keep} for name, table in utt_tables.items()}
    dropped_recordings: List[str] = []
    if has_segments:
        used = {kept_tables[SEGMENTS][utt].split()[0] for utt in keep}
        dropped_recordings = [rec for rec in sorted(tables[WAV_SCP], key=c_sort_key)
                              if rec not in used]
        kept_tables[WAV_SCP] = {rec: tables[WAV_SCP][rec] for rec in used}

    backup = root / BACKUP_DIR
    for name in DATA_FILES:
        if (root / name).is_file():
            with atomic_path(backup / name) as tmp:
                shutil.copyfile(root / name, tmp)
    resorted = []
    for name, table in kept_tables.items():
        if list(tables[name]) != sorted(tables[name], key=c_sort_key):
            resorted.append(name)
        write_kv_file(root / name, table)
    write_spk2utt(root / SPK2UTT, spk2utt_from_utt2spk(kept_tables[UTT2SPK]))

    report = FixReport(path=str(root), backup_dir=str(backup), num_kept=len(keep),
                       dropped_utts=dropped, dropped_recordings=dropped_recordings,
                       line_problems=line_problems, resorted=resorted)
    report.summary = validate_data_dir(root, require_text=TEXT in kept_tables)
    return report


# ------------------------------------------------------------------------------------------------
# Combination


def combine_data_dirs(out_dir: PathLike, in_dirs: Sequence[PathLike]) -> DataDirSummary:
    """Merge data directories into ``out_dir`` (Kaldi ``utils/combine_data.sh``).

    Each input must pass :func:`validate_data_dir` (text optional). A file is combined when every
    input has it; one that only some inputs have is left out with a warning (but segments must be
    in all inputs or none). spk2utt is regenerated; stale data files in ``out_dir`` that are not
    produced are removed. Nothing is written when an error is found.

    Raises:
        DataError: an invalid input, an utterance key in two inputs, a recording key in two inputs
            with different audio, or segments in only some inputs.
    """
    if not in_dirs:
        raise ValueError("combine_data_dirs: at least one input directory is needed")
    roots = [Path(d) for d in in_dirs]
    for root in roots:
        validate_data_dir(root, require_text=False)

    with_segments = [root for root in roots if (root / SEGMENTS).is_file()]
    if with_segments and len(with_segments) != len(roots):
        lacking = next(root for root in roots if root not in with_segments)
        raise DataError(f"has no {SEGMENTS} file but {with_segments[0]} has one; convert one "
                        "side first (segments are in all inputs or in none)", path=str(lacking))

    combined: Dict[str, Dict[str, str]] = {}
    for name in (WAV_SCP,) + UTT_FILES:
        holders = [root for root in roots if (root / name).is_file()]
        if not holders:
            continue
        if len(holders) != len(roots):
            missing = [str(root) for root in roots if root not in holders]
            logger.warning("not combining %s: missing in %s", name, ", ".join(missing))
            continue
        recordings = name == WAV_SCP and bool(with_segments)
        merged: Dict[str, str] = {}
        origin: Dict[str, Path] = {}
        for root in roots:
            for key, value in read_kv_file(root / name).items():
                if key in merged and not (recordings and merged[key] == value):
                    what = "recording" if recordings else "utterance"
                    raise DataError(f"duplicate {what} key: also in {origin[key] / name}",
                                    path=str(root / name), key=key)
                merged[key] = value
                origin.setdefault(key, root)
        combined[name] = merged

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in combined.items():
        write_kv_file(out / name, table)
    write_spk2utt(out / SPK2UTT, spk2utt_from_utt2spk(combined[UTT2SPK]))
    for name in DATA_FILES:
        if name not in combined and name != SPK2UTT and (out / name).is_file():
            logger.warning("removing stale %s from %s", name, out)
            (out / name).unlink()
    return validate_data_dir(out, require_text=TEXT in combined)
