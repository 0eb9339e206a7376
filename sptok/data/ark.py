"""Kaldi ``ark,scp`` pairs for features and token codes (through kaldiio).

Layout:

- Features (teacher targets, embeddings): float32 Kaldi matrices [T, D] (or vectors [D]); float64
  input is stored as float32.
- Token codes [T, n_q] (frames x quantizer levels): kaldiio stores only float matrices and int32
  *vectors*, so a code matrix is stored as a **float32 Kaldi matrix [T, n_q]** holding the integer
  ids. float32 represents every integer in ``[0, 2**24)`` exactly, so the layout is lossless for
  any codebook of up to 16,777,216 entries; writers refuse ids outside ``[0, codebook_size)`` (or
  ``[0, 2**24)`` when no codebook size is given) and readers refuse matrices holding non-integer or
  out-of-range values, then return int64. The shape is kept, the file is a plain feature matrix
  for Kaldi/ESPnet tools (``copy-feats``, ``kaldiio.load_scp``).

One writer per job writes one ``ark,scp`` pair; the recipe concatenates the scp files of all jobs
(:func:`sptok.data.scp.concat_scps`). Writers put both files under temporary names beside the
targets and rename them only when the block ends without error (ark first, then scp), so a crash
never leaves a half-written pair under the final names. The scp records the ark path as given (a
relative path stays relative to the working directory, as in Kaldi recipes).

Readers take an scp and load one array at a time (the scp index is in memory, the arrays are not).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, IO, Iterator, Mapping, Optional, Tuple

import kaldiio
import numpy as np

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import read_kv_file
from sptok.utils.fileio import PathLike

#: float32 holds every integer below this exactly (24-bit significand).
FLOAT32_EXACT_INT_LIMIT = 2 ** 24


def _to_numpy(array: Any) -> np.ndarray:
    """numpy view of an array or a torch tensor on any device."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


class ArkScpWriter:
    """Write ``key -> array`` into an ark file and its scp index, atomically.

    Use as a context manager::

        with FeatsWriter("dump/feats.1.ark", "dump/feats.1.scp") as writer:
            writer["utt1"] = feats  # [T, D]

    On an exception inside the block both temporary files are deleted and nothing appears under
    the final names. Subclasses define how an array is checked and converted (:meth:`_prepare`).
    """

    def __init__(self, ark_path: PathLike, scp_path: PathLike):
        self.ark_path = Path(ark_path)
        self.scp_path = Path(scp_path)
        if self.ark_path.resolve() == self.scp_path.resolve():
            raise ValueError(f"ark and scp must be different files, got {ark_path} twice")
        self._keys: set = set()
        self._ark_tmp = self._scp_tmp = None
        self._ark: Optional[IO[bytes]] = None
        self._scp: Optional[IO[str]] = None
        try:
            self._ark_tmp = self._make_temp(self.ark_path)
            self._scp_tmp = self._make_temp(self.scp_path)
            self._ark = open(self._ark_tmp, "wb")
            self._scp = open(self._scp_tmp, "w", encoding="utf-8")
        except BaseException:
            self.abort()
            raise

    @staticmethod
    def _make_temp(path: Path) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        return tmp

    def _prepare(self, key: str, array: Any) -> np.ndarray:
        raise NotImplementedError

    def write(self, key: str, array: Any) -> None:
        """Append one array; keys must be unique, non-empty and free of whitespace."""
        if self._ark is None or self._scp is None:
            raise ValueError(f"{self.scp_path}: writer is closed")
        if not key or any(c.isspace() for c in key):
            raise ValueError(f"{self.scp_path}: key '{key}' must be non-empty without whitespace")
        if key in self._keys:
            raise ValueError(f"{self.scp_path}: key '{key}' written twice")
        data = self._prepare(key, array)
        # kaldiio writes "key " then the matrix; the scp points at the matrix itself.
        offset = self._ark.tell() + len(key.encode("utf-8")) + 1
        kaldiio.save_ark(self._ark, {key: data})
        self._scp.write(f"{key} {self.ark_path}:{offset}\n")
        self._keys.add(key)

    __setitem__ = write

    def __len__(self) -> int:
        return len(self._keys)

    def close(self) -> None:
        """Finish: flush both files and move them to their final names (ark first, then scp)."""
        if self._ark is None or self._scp is None:
            return
        try:
            for handle in (self._ark, self._scp):
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
            os.replace(self._ark_tmp, self.ark_path)
            os.replace(self._scp_tmp, self.scp_path)
        except BaseException:
            self.abort()
            raise
        self._ark = self._scp = None

    def abort(self) -> None:
        """Discard everything written; the final names are left untouched."""
        for handle in (self._ark, self._scp):
            if handle is not None:
                handle.close()
        self._ark = self._scp = None
        for tmp in (self._ark_tmp, self._scp_tmp):
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

    def __enter__(self) -> "ArkScpWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class FeatsWriter(ArkScpWriter):
    """Float features [T, D] (or vectors [D]) stored as float32 Kaldi matrices (vectors)."""

    def _prepare(self, key: str, array: Any) -> np.ndarray:
        data = _to_numpy(array)
        if data.dtype.kind not in "fiu":
            raise ValueError(f"{self.scp_path}: key '{key}': features must be real numbers, "
                             f"got dtype {data.dtype}")
        if data.ndim not in (1, 2) or data.size == 0:
            raise ValueError(f"{self.scp_path}: key '{key}': features must be a non-empty [T, D] "
                             f"matrix or [D] vector, got shape {data.shape}")
        data = np.ascontiguousarray(data, dtype=np.float32)
        if not np.isfinite(data).all():
            raise ValueError(f"{self.scp_path}: key '{key}': features hold NaN or Inf")
        return data


class CodesWriter(ArkScpWriter):
    """Integer token codes [T, n_q] stored as float32 Kaldi matrices (see the module docstring).

    Args:
        codebook_size: ids must lie in ``[0, codebook_size)``; at most 2**24 (the exact range of
            float32). None allows the whole exact range.
    """

    def __init__(self, ark_path: PathLike, scp_path: PathLike,
                 codebook_size: Optional[int] = None):
        limit = FLOAT32_EXACT_INT_LIMIT if codebook_size is None else codebook_size
        if not 0 < limit <= FLOAT32_EXACT_INT_LIMIT:
            raise ValueError(f"codebook_size must be in [1, 2**24] to be stored exactly as "
                             f"float32, got {codebook_size}")
        self.limit = limit
        super().__init__(ark_path, scp_path)

    def _prepare(self, key: str, array: Any) -> np.ndarray:
        codes = _to_numpy(array)
        if codes.dtype.kind not in "iu":
            raise ValueError(f"{self.scp_path}: key '{key}': codes must have an integer dtype, "
                             f"got {codes.dtype}")
        if codes.ndim != 2 or codes.size == 0:
            raise ValueError(f"{self.scp_path}: key '{key}': codes must be a non-empty [T, n_q] "
                             f"matrix, got shape {codes.shape}")
        low, high = int(codes.min()), int(codes.max())
        if low < 0 or high >= self.limit:
            bad = low if low < 0 else high
            raise ValueError(f"{self.scp_path}: key '{key}': code {bad} is outside "
                             f"[0, {self.limit}); float32 storage holds ids exactly only below "
                             f"2**24")
        return codes.astype(np.float32)


def _ark_file(location: str) -> Optional[str]:
    """The file of an scp value ``file.ark:offset[slices]``; None for a pipe."""
    location = location.strip()
    if location.endswith("|") or location.startswith("|"):
        return None
    if location.endswith("]") and "[" in location:
        location = location[:location.rindex("[")]
    name, sep, offset = location.rpartition(":")
    return name if sep and offset.isdigit() else location


class ScpReader(Mapping[str, np.ndarray]):
    """Lazy ``key -> array`` view of an scp file; arrays are read on access, in scp order when
    iterated. Open ark files are cached; :meth:`close` (or ``with``) releases them."""

    def __init__(self, scp_path: PathLike):
        self.scp_path = Path(scp_path)
        self._index: Dict[str, str] = read_kv_file(self.scp_path)
        self._fds: Dict[str, IO[bytes]] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        location = self._index[key]
        ark = _ark_file(location)
        if ark is not None and not Path(ark).is_file():
            raise DataError(f"ark file '{ark}' not found", path=str(self.scp_path), key=key)
        try:
            array = kaldiio.load_mat(location, fd_dict=self._fds)
        except Exception as exc:  # kaldiio raises many types on corrupt data
            raise DataError(f"cannot read '{location}': {type(exc).__name__}: {exc}",
                            path=str(self.scp_path), key=key) from exc
        return self._convert(key, np.asarray(array))

    def _convert(self, key: str, array: np.ndarray) -> np.ndarray:
        return array

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def close(self) -> None:
        for handle in self._fds.values():
            handle.close()
        self._fds.clear()

    def __enter__(self) -> "ScpReader":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


class FeatsReader(ScpReader):
    """Float features as float32 arrays [T, D] (or [D])."""

    def _convert(self, key: str, array: np.ndarray) -> np.ndarray:
        if array.dtype.kind != "f":
            raise DataError(f"expected a float matrix, got dtype {array.dtype}",
                            path=str(self.scp_path), key=key)
        return array.astype(np.float32, copy=False)


class CodesReader(ScpReader):
    """Token codes as int64 arrays [T, n_q]."""

    def _convert(self, key: str, array: np.ndarray) -> np.ndarray:
        if array.ndim != 2 or array.dtype.kind != "f":
            raise DataError(f"expected a float32 code matrix [T, n_q], got shape {array.shape} "
                            f"dtype {array.dtype}", path=str(self.scp_path), key=key)
        integral = np.isfinite(array) & (array == np.round(array))
        in_range = (array >= 0) & (array < FLOAT32_EXACT_INT_LIMIT)
        if not (integral & in_range).all():
            bad = array[~(integral & in_range)].flat[0]
            raise DataError(f"not a code matrix: holds {bad}, expected integer ids in "
                            f"[0, 2**24)", path=str(self.scp_path), key=key)
        return array.astype(np.int64)


def iter_feats(scp_path: PathLike) -> Iterator[Tuple[str, np.ndarray]]:
    """``(key, float32 [T, D])`` in scp order, one array in memory at a time."""
    with FeatsReader(scp_path) as reader:
        for key in reader:
            yield key, reader[key]


def iter_codes(scp_path: PathLike) -> Iterator[Tuple[str, np.ndarray]]:
    """``(key, int64 [T, n_q])`` in scp order, one array in memory at a time."""
    with CodesReader(scp_path) as reader:
        for key in reader:
            yield key, reader[key]
