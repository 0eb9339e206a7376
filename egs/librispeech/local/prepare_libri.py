#!/usr/bin/env python3
"""Kaldi data directories from a local copy of LibriSpeech or LibriTTS (called by local/data.sh).

    python local/prepare_libri.py --corpus librispeech --root /data/LibriSpeech \\
        --subsets train-clean-100,dev-clean --data_dir data [--combine train_960=a,b,c]

Layouts read (one directory per subset; ROOT may also be the directory that holds
``LibriSpeech/`` or ``LibriTTS/``):

- LibriSpeech: ``<subset>/<reader>/<chapter>/<reader>-<chapter>-<n>.flac`` and one
  ``<reader>-<chapter>.trans.txt`` per chapter (``<utt> TRANSCRIPT`` lines); ``SPEAKERS.TXT``
  (``ID | SEX | SUBSET | MINUTES | NAME``, comments start with ``;``).
- LibriTTS: ``<subset>/<reader>/<chapter>/<reader>_<chapter>_<p>_<s>.wav`` with
  ``<utt>.normalized.txt`` and ``<utt>.original.txt`` beside it; ``speakers.tsv``
  (``READER GENDER SUBSET NAME``, tab separated, one header line).

Each subset becomes ``DATA_DIR/<subset with _ for ->`` with ``wav.scp`` (absolute paths of the
audio files, which soundfile reads directly), ``text``, ``utt2spk``, ``spk2utt`` and
``spk2gender`` (m/f), sorted in C locale and validated. ``--combine NAME=A,B`` also merges
prepared subsets into ``DATA_DIR/NAME``. The speaker is the reader (``--speaker reader``), or
reader-chapter as in Kaldi's LibriSpeech recipe (``--speaker chapter``).

A missing or malformed tree is an error naming the file: a subset that is not there, a chapter
without its transcript file, audio without a transcript or a transcript without audio, an
utterance id that does not match its directories, a malformed speakers file, a reader it does not
list. LibriTTS utterances whose transcript file is empty are left out (logged).
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import (combine_data_dirs, read_kv_file, spk2utt_from_utt2spk,
                                  validate_data_dir, write_kv_file, write_spk2utt)

logger = logging.getLogger("prepare_libri")

#: Subsets of both corpora (LibriTTS keeps LibriSpeech's split and names).
KNOWN_SUBSETS = ("train-clean-100", "train-clean-360", "train-other-500", "dev-clean",
                 "dev-other", "test-clean", "test-other")
DOWNLOAD_HINT = {"librispeech": "https://www.openslr.org/12",
                 "libritts": "https://www.openslr.org/60"}
TOP_DIR = {"librispeech": "LibriSpeech", "libritts": "LibriTTS"}


@dataclass(frozen=True)
class SpeakersFormat:
    """How a corpus lists its readers: a file of one line per reader, fields split by
    ``separator``, the reader id then the gender (M/F) first."""

    file_name: str
    separator: str
    min_fields: int
    layout: str  # the line layout, for errors
    comment: Optional[str] = None  # lines starting with it are skipped
    header: Optional[str] = None  # a line 1 whose first field is this is skipped


SPEAKERS_FORMAT = {
    "librispeech": SpeakersFormat("SPEAKERS.TXT", "|", 3, "'ID | SEX | SUBSET | MINUTES | NAME' "
                                  "with a numeric ID and SEX M or F", comment=";"),
    "libritts": SpeakersFormat("speakers.tsv", "\t", 2, "'READER<TAB>GENDER<TAB>SUBSET<TAB>NAME' "
                               "with a numeric READER and GENDER M or F", header="READER"),
}


@dataclass
class Utterance:
    """One utterance of the corpus."""

    utt: str
    reader: str
    chapter: str
    audio: Path
    text: str


@dataclass
class SubsetData:
    """The utterances of one subset and what was left out."""

    utterances: List[Utterance] = field(default_factory=list)
    empty_text: List[str] = field(default_factory=list)


def set_name(subset: str) -> str:
    """Kaldi data set name of a subset: ``train-clean-100`` -> ``train_clean_100``."""
    return subset.replace("-", "_")


def find_corpus_dir(root: Path, corpus: str, subsets: Sequence[str]) -> Path:
    """The directory holding the subsets: ROOT itself or ROOT/LibriSpeech (ROOT/LibriTTS)."""
    if not root.is_dir():
        raise DataError(f"corpus directory not found; set {corpus.upper()} in db.sh (or the "
                        f"environment) to your copy of {TOP_DIR[corpus]} ({DOWNLOAD_HINT[corpus]}:"
                        " the subsets' .tar.gz, extracted)", path=str(root))
    for candidate in (root, root / TOP_DIR[corpus]):
        if any((candidate / s).is_dir() for s in subsets):
            return candidate
    missing = ", ".join(subsets)
    raise DataError(f"none of the subsets {missing} is here or under {TOP_DIR[corpus]}/ "
                    f"(expected {root}/{TOP_DIR[corpus]}/<subset>/<reader>/<chapter>/...; "
                    f"download from {DOWNLOAD_HINT[corpus]})", path=str(root))


def read_speakers(path: Path, corpus: str) -> Dict[str, str]:
    """reader -> gender (m/f) from the corpus's speakers file (SPEAKERS.TXT of LibriSpeech,
    speakers.tsv of LibriTTS)."""
    form = SPEAKERS_FORMAT[corpus]
    if not path.is_file():
        raise DataError(f"speakers file not found (it comes with every {TOP_DIR[corpus]} archive, "
                        "beside the subset directories)", path=str(path))
    genders: Dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            fields = [x.strip() for x in raw.rstrip("\n").split(form.separator)]
            if lineno == 1 and form.header is not None and fields[0].upper() == form.header:
                continue
            line = raw.strip()
            if not line or (form.comment is not None and line.startswith(form.comment)):
                continue
            if (len(fields) < form.min_fields or not fields[0].isdigit()
                    or fields[1].upper() not in ("M", "F")):
                raise DataError(f"malformed line: expected {form.layout}", path=str(path),
                                line=lineno)
            genders[fields[0]] = fields[1].lower()
    if not genders:
        raise DataError("no speaker listed", path=str(path))
    return genders


def _numeric_dirs(parent: Path, what: str) -> List[Path]:
    """The numbered sub-directories of ``parent`` (hidden entries ignored)."""
    out = []
    for entry in sorted(os.scandir(parent), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir() or not entry.name.isdigit():
            raise DataError(f"unexpected entry: a {what} directory must be named by a number",
                            path=entry.path)
        out.append(Path(entry.path))
    return out


def scan_librispeech_chapter(chapter_dir: Path, reader: str, chapter: str) -> List[Utterance]:
    """The utterances of one chapter: its .trans.txt lines matched with the .flac files."""
    trans = chapter_dir / f"{reader}-{chapter}.trans.txt"
    names = [n for n in os.listdir(chapter_dir) if not n.startswith(".")]
    flacs = {n[:-len(".flac")] for n in names if n.endswith(".flac")}
    if not trans.is_file():
        raise DataError(f"transcript file missing ({len(flacs)} .flac files here)",
                        path=str(trans))
    prefix = f"{reader}-{chapter}-"
    utterances: List[Utterance] = []
    seen: Dict[str, int] = {}
    with open(trans, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            parts = raw.split(maxsplit=1)
            utt = parts[0]
            if len(parts) < 2 or not parts[1].strip():
                raise DataError("malformed line: an utterance id without a transcript",
                                path=str(trans), key=utt, line=lineno)
            if not utt.startswith(prefix) or not utt[len(prefix):].isdigit():
                raise DataError(f"utterance id does not match its directories (expected "
                                f"{prefix}<number>)", path=str(trans), key=utt, line=lineno)
            if utt in seen:
                raise DataError(f"utterance listed twice (first on line {seen[utt]})",
                                path=str(trans), key=utt, line=lineno)
            seen[utt] = lineno
            if utt not in flacs:
                raise DataError(f"no audio file {utt}.flac for this transcript line",
                                path=str(trans), key=utt, line=lineno)
            utterances.append(Utterance(utt, reader, chapter, chapter_dir / f"{utt}.flac",
                                        " ".join(parts[1].split())))
    untranscribed = sorted(flacs - seen.keys())
    if untranscribed:
        raise DataError(f"{len(untranscribed)} .flac file(s) without a line in {trans.name}, "
                        f"first {untranscribed[0]}.flac", path=str(chapter_dir))
    return utterances


def scan_libritts_chapter(chapter_dir: Path, reader: str, chapter: str, text_kind: str
                          ) -> Tuple[List[Utterance], List[str]]:
    """The utterances of one chapter (.wav with .<text_kind>.txt); also the ids left out for an
    empty transcript."""
    names = {n for n in os.listdir(chapter_dir) if not n.startswith(".")}
    prefix = f"{reader}_{chapter}_"
    utterances, empty = [], []
    for name in sorted(names):
        if not name.endswith(".wav"):
            continue
        utt = name[:-len(".wav")]
        if not utt.startswith(prefix):
            raise DataError(f"utterance id does not match its directories (expected "
                            f"{prefix}...)", path=str(chapter_dir / name), key=utt)
        text_name = f"{utt}.{text_kind}.txt"
        if text_name not in names:
            raise DataError(f"transcript file {text_name} missing", path=str(chapter_dir / name),
                            key=utt)
        text = " ".join((chapter_dir / text_name).read_text(encoding="utf-8").split())
        if not text:
            empty.append(utt)
            continue
        utterances.append(Utterance(utt, reader, chapter, chapter_dir / name, text))
    orphans = sorted(n for n in names if n.endswith(f".{text_kind}.txt")
                     and n[:-len(f".{text_kind}.txt")] + ".wav" not in names)
    if orphans:
        raise DataError(f"{len(orphans)} transcript(s) without audio, first {orphans[0]}",
                        path=str(chapter_dir))
    return utterances, empty


def scan_subset(subset_dir: Path, corpus: str, text_kind: str) -> SubsetData:
    """Every utterance of one subset directory."""
    data = SubsetData()
    for reader_dir in _numeric_dirs(subset_dir, "reader"):
        for chapter_dir in _numeric_dirs(reader_dir, "chapter"):
            reader, chapter = reader_dir.name, chapter_dir.name
            if corpus == "librispeech":
                data.utterances += scan_librispeech_chapter(chapter_dir, reader, chapter)
            else:
                utts, empty = scan_libritts_chapter(chapter_dir, reader, chapter, text_kind)
                data.utterances += utts
                data.empty_text += empty
    if not data.utterances:
        raise DataError("no utterance found (expected <reader>/<chapter>/ directories with "
                        "audio and transcripts)", path=str(subset_dir))
    return data


def write_subset(out_dir: Path, data: SubsetData, genders: Dict[str, str], speaker: str,
                 speakers_file: Path) -> None:
    """The Kaldi files of one subset, validated."""
    def speaker_of(u: Utterance) -> str:
        return u.reader if speaker == "reader" else f"{u.reader}-{u.chapter}"

    unlisted = sorted({u.reader for u in data.utterances} - genders.keys(), key=int)
    if unlisted:
        raise DataError(f"reader(s) {', '.join(unlisted[:10])} of {out_dir.name} are not listed",
                        path=str(speakers_file), key=unlisted[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    write_kv_file(out_dir / "wav.scp", {u.utt: os.path.abspath(u.audio) for u in data.utterances})
    write_kv_file(out_dir / "text", {u.utt: u.text for u in data.utterances})
    utt2spk = {u.utt: speaker_of(u) for u in data.utterances}
    write_kv_file(out_dir / "utt2spk", utt2spk)
    write_spk2utt(out_dir / "spk2utt", spk2utt_from_utt2spk(utt2spk))
    write_kv_file(out_dir / "spk2gender", {speaker_of(u): genders[u.reader]
                                           for u in data.utterances})
    for stale in ("segments", "utt2num_samples"):
        (out_dir / stale).unlink(missing_ok=True)
    logger.info("%s", validate_data_dir(out_dir))


def combine(data_dir: Path, name: str, parts: Sequence[str]) -> None:
    """Merge prepared sets into DATA_DIR/NAME (spk2gender too)."""
    dirs = [data_dir / set_name(p) for p in parts]
    summary = combine_data_dirs(data_dir / name, dirs)
    genders: Dict[str, str] = {}
    for d in dirs:
        for spk, gender in read_kv_file(d / "spk2gender").items():
            if genders.setdefault(spk, gender) != gender:
                raise DataError(f"speaker has gender {genders[spk]} in another subset",
                                path=str(d / "spk2gender"), key=spk)
    write_kv_file(data_dir / name / "spk2gender", genders)
    logger.info("%s", summary)


def parse_combine(value: str, subsets: Sequence[str]) -> Tuple[str, List[str]]:
    """``NAME=A,B`` -> (NAME, [A, B]); every part must be one of ``subsets``."""
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)=([A-Za-z0-9_,.-]+)", value)
    if not m:
        raise ValueError(f"--combine takes NAME=SUBSET,SUBSET,..., got {value!r}")
    parts = [p for p in m.group(2).split(",") if p]
    unknown = [p for p in parts if p not in subsets]
    if unknown:
        raise ValueError(f"--combine {value}: {unknown[0]} is not in --subsets")
    return m.group(1), parts


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prepare_libri", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--corpus", choices=["librispeech", "libritts"], default="librispeech")
    parser.add_argument("--root", required=True, type=Path,
                        help="the corpus directory (holding the subsets), or its parent")
    parser.add_argument("--subsets", required=True,
                        help="comma separated subsets, e.g. train-clean-100,dev-clean")
    parser.add_argument("--data_dir", type=Path, default=Path("data"))
    parser.add_argument("--combine", action="append", default=[],
                        help="NAME=SUBSET,SUBSET: also merge these subsets into DATA_DIR/NAME "
                             "(repeatable)")
    parser.add_argument("--speaker", choices=["reader", "chapter"], default="reader",
                        help="speaker id: the reader, or reader-chapter (Kaldi's recipe)")
    parser.add_argument("--libritts_text", choices=["normalized", "original"],
                        default="normalized", help="LibriTTS transcript kind")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="prepare_libri: %(message)s")
    args = get_parser().parse_args(argv)
    try:
        subsets = [s for s in args.subsets.split(",") if s]
        if not subsets:
            raise ValueError("--subsets is empty")
        for s in subsets:
            if s not in KNOWN_SUBSETS:
                logger.warning("%s is not a standard subset name (%s)", s, ", ".join(KNOWN_SUBSETS))
        combos = [parse_combine(c, subsets) for c in args.combine]
        corpus_dir = find_corpus_dir(args.root, args.corpus, subsets)
        speakers_file = corpus_dir / SPEAKERS_FORMAT[args.corpus].file_name
        genders = read_speakers(speakers_file, args.corpus)
        for subset in subsets:
            subset_dir = corpus_dir / subset
            if not subset_dir.is_dir():
                raise DataError(f"subset {subset} not found (download it from "
                                f"{DOWNLOAD_HINT[args.corpus]} and extract it here)",
                                path=str(subset_dir))
            data = scan_subset(subset_dir, args.corpus, args.libritts_text)
            if data.empty_text:
                logger.warning("%s: left out %d utterance(s) with an empty transcript, first %s",
                               subset, len(data.empty_text), data.empty_text[0])
            write_subset(args.data_dir / set_name(subset), data, genders, args.speaker,
                         speakers_file)
        for name, parts in combos:
            combine(args.data_dir, name, parts)
    except (DataError, ValueError, OSError) as exc:
        print(f"prepare_libri: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
