"""Kaldi data directories: ``wav.scp``, ``text``, ``utt2spk``, ``spk2utt``, ``segments``,
``utt2num_samples``.

Every file is ``key<space>value`` per line, sorted by key in C locale (byte order), which is what
Kaldi's and ESPnet's tools expect (``LC_ALL=C sort``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, Mapping, Tuple

from sptok.data.errors import DataError
from sptok.utils.fileio import PathLike, atomic_open


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
