"""Line-oriented ``key ...`` files (scp, utt2spk, text, segments): split, filter, concatenate.

These tools treat lines as opaque text after the first field (the key), so they work on any Kaldi
table. Outputs are written atomically, and only after the whole input has been checked.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import c_sort_key, read_kv_file
from sptok.utils.fileio import PathLike, atomic_open


def read_lines(path: PathLike) -> List[Tuple[str, str]]:
    """``(key, line)`` for every line of a table (line without its newline).

    Raises:
        DataError: missing file or an empty line (named by file and line number).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=str(path))
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n").rstrip("\r")
            fields = line.split(maxsplit=1)
            if not fields:
                raise DataError("empty line", path=str(path), line=lineno)
            out.append((fields[0], line))
    return out


def _write_lines(path: PathLike, lines: Iterable[str]) -> None:
    with atomic_open(path) as f:
        for line in lines:
            f.write(line + "\n")


def _spread_speakers(counts: Sequence[int], num_parts: int) -> List[List[int]]:
    """Assign speakers (in order) to contiguous parts with balanced utterance counts.

    Same algorithm as Kaldi's split_scp.pl: an even split by number of speakers, then the first or
    last speaker of a part moves to its neighbour while that shrinks their size difference.
    """
    num_spk = len(counts)
    parts: List[List[int]] = [[] for _ in range(num_parts)]
    for spk in range(num_spk):
        parts[spk * num_parts // num_spk].append(spk)
    sizes = [sum(counts[s] for s in part) for part in parts]
    changed = True
    while changed:
        changed = False
        for i in range(num_parts):
            if i < num_parts - 1 and parts[i]:
                count = counts[parts[i][-1]]
                if abs((sizes[i + 1] + count) - (sizes[i] - count)) < abs(sizes[i + 1] - sizes[i]):
                    parts[i + 1].insert(0, parts[i].pop())
                    sizes[i] -= count
                    sizes[i + 1] += count
                    changed = True
            if i > 0 and parts[i]:
                count = counts[parts[i][0]]
                if abs((sizes[i] - count) - (sizes[i - 1] + count)) < abs(sizes[i] - sizes[i - 1]):
                    parts[i - 1].append(parts[i].pop(0))
                    sizes[i] -= count
                    sizes[i - 1] += count
                    changed = True
    return parts


def split_scp(in_path: PathLike, out_paths: Sequence[PathLike],
              utt2spk: Optional[PathLike] = None) -> List[int]:
    """Split a table into ``len(out_paths)`` contiguous parts (Kaldi ``split_scp.pl``).

    Without ``utt2spk`` the first ``L % N`` parts get ``L // N + 1`` lines, the others ``L // N``.
    With ``utt2spk`` the lines are grouped by speaker (speakers in order of first appearance) and
    no speaker is split across parts; sizes are balanced by utterance count.

    Returns:
        Number of lines in each part.

    Raises:
        DataError: empty input, fewer lines (or speakers) than parts, a key missing from utt2spk,
            or a part that would be empty. No output is written then.
    """
    if not out_paths:
        raise ValueError("split_scp: at least one output file is needed")
    num_parts = len(out_paths)
    lines = read_lines(in_path)
    if not lines:
        raise DataError("empty input, nothing to split", path=str(in_path))

    if utt2spk is None:
        if len(lines) < num_parts:
            raise DataError(f"cannot split {len(lines)} lines into {num_parts} parts "
                            "(reduce the number of jobs)", path=str(in_path))
        base, extra = divmod(len(lines), num_parts)
        parts, start = [], 0
        for i in range(num_parts):
            size = base + (1 if i < extra else 0)
            parts.append([line for _, line in lines[start:start + size]])
            start += size
    else:
        spk_of = read_kv_file(utt2spk)
        speakers: Dict[str, List[str]] = {}
        for lineno, (key, line) in enumerate(lines, 1):
            if key not in spk_of:
                raise DataError(f"key is not in {utt2spk}", path=str(in_path), key=key,
                                line=lineno)
            speakers.setdefault(spk_of[key], []).append(line)
        if len(speakers) < num_parts:
            raise DataError(f"cannot split {len(speakers)} speakers into {num_parts} parts "
                            "without splitting a speaker (reduce the number of jobs)",
                            path=str(in_path))
        groups = list(speakers.values())
        assignment = _spread_speakers([len(g) for g in groups], num_parts)
        parts = [[line for spk in part for line in groups[spk]] for part in assignment]
        for out, part in zip(out_paths, parts):
            if not part:
                raise DataError("split would leave this part empty (too many parts for too few "
                                "speakers)", path=str(out))

    for out, part in zip(out_paths, parts):
        _write_lines(out, part)
    return [len(part) for part in parts]


def read_key_list(path: PathLike) -> Set[str]:
    """Keys from the first field of each line (a key list, or any table)."""
    return {key for key, _ in read_lines(path)}


def filter_scp(in_path: PathLike, out_path: PathLike, keys: Iterable[str],
               exclude: bool = False) -> int:
    """Keep the lines whose key is in ``keys`` (or not in it, with ``exclude``), in input order
    (Kaldi ``filter_scp.pl``). Returns the number of lines written."""
    wanted = set(keys)
    kept = [line for key, line in read_lines(in_path) if (key in wanted) != exclude]
    _write_lines(out_path, kept)
    return len(kept)


def concat_scps(in_paths: Sequence[PathLike], out_path: PathLike, sort: bool = True) -> int:
    """Concatenate the tables of several jobs (``cat x.*.scp``) and sort them in C locale.

    Raises:
        DataError: a key present twice (named with both files). Nothing is written then.
    """
    seen: Dict[str, str] = {}
    lines: List[Tuple[str, str]] = []
    for path in in_paths:
        for lineno, (key, line) in enumerate(read_lines(path), 1):
            if key in seen:
                raise DataError(f"duplicate key (also in {seen[key]})", path=str(path), key=key,
                                line=lineno)
            seen[key] = str(path)
            lines.append((key, line))
    if sort:
        lines.sort(key=lambda kv: c_sort_key(kv[0]))
    _write_lines(out_path, (line for _, line in lines))
    return len(lines)
