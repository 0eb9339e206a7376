"""Dataset of the USLM task: tokenized transcripts paired with the codec's RVQ codes.

Inputs:

* ``text``: a Kaldi text file already tokenized (``utt tok1 tok2 ...``, written by
  ``sptok.bin.tokenize_text`` into ``dump/<token_type>/<set>/text``), mapped to ids with the
  task's :class:`~sptok.text.symbol_table.SymbolTable`;
* ``codes.scp``: the codec's token dump (``sptok.bin.dump_codes``): per utterance a float32
  Kaldi matrix [T, n_q] of integer codes (:class:`~sptok.data.ark.CodesReader`).

Items: ``{"phonemes": long [S], "codes": long [n_q, T]}`` (level 1 first). Utterances present in
only one of the two files are left out (logged); utterances with no token, with fewer than
``min_frames`` or more than ``max_frames`` code frames, or more than ``max_phonemes`` tokens are
filtered out (logged).

Memory: neither the codes nor the transcripts are held. One pass over the text file at start
checks every token against the symbol table and records where each line starts; an item reads
its line again (seek + readline) and its codes from their ``ark:offset``. The frame count of every
utterance, needed for filtering and length bucketing, comes from the matrix header in the ark
file (a few bytes per utterance), not from loading the matrix.
"""
from __future__ import annotations

import logging
import os
import struct
from pathlib import Path
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

from sptok.data.ark import CodesReader
from sptok.data.errors import DataError
from sptok.data.kaldi_dir import read_kv_file
from sptok.text.symbol_table import SymbolTable
from sptok.utils.fileio import PathLike

__all__ = ["USLMDataset", "USLMCollate", "read_matrix_rows"]

logger = logging.getLogger(__name__)

# Binary Kaldi matrix header: "\0B", a type token ("FM " float, "DM " double), then
# "\x04" + int32 rows and "\x04" + int32 columns (little-endian).
_BINARY_MARK = b"\x00B"
_PLAIN_MATRIX_TOKENS = (b"FM ", b"DM ")
_HEADER = struct.Struct("<bibi")


def _split_location(location: str) -> Optional[tuple[str, int]]:
    """``(ark file, byte offset)`` of a plain ``file.ark:offset`` scp value; None for pipes,
    slices and other forms (their frame count comes from loading the matrix)."""
    location = location.strip()
    if location.startswith("|") or location.endswith("|") or location.endswith("]"):
        return None
    name, sep, offset = location.rpartition(":")
    if not sep or not offset.isdigit():
        return None
    return name, int(offset)


def read_matrix_rows(location: str, handles: Optional[Dict[str, IO[bytes]]] = None
                     ) -> Optional[int]:
    """Rows of the binary float/double Kaldi matrix at ``file.ark:offset``, read from its header.

    Args:
        location: an scp value.
        handles: open ark files by name, reused across calls (the caller closes them).

    Returns:
        the row count, or None when the header cannot be read this way (a pipe, a slice, a
        compressed or text matrix): load the matrix instead.
    """
    parsed = _split_location(location)
    if parsed is None:
        return None
    name, offset = parsed
    handles = {} if handles is None else handles
    try:
        handle = handles.get(name)
        if handle is None:
            handle = handles[name] = open(name, "rb")
        handle.seek(offset)
        head = handle.read(2 + 3 + _HEADER.size)
    except OSError:
        return None
    if len(head) < 2 + 3 + _HEADER.size or head[:2] != _BINARY_MARK \
            or head[2:5] not in _PLAIN_MATRIX_TOKENS:
        return None
    size_rows, rows, size_cols, cols = _HEADER.unpack(head[5:])
    if size_rows != 4 or size_cols != 4 or rows < 0 or cols < 0:
        return None
    return rows


class USLMDataset(Dataset):
    """Token ids and RVQ codes of one set (see the module docstring).

    Args:
        text: tokenized Kaldi text file.
        codes_scp: scp of the code matrices [T, n_q_stored].
        symbols: token -> id table (every token of ``text`` must be in it).
        n_q: levels returned per item (the first n_q stored levels).
        codebook_size: codes must lie in [0, codebook_size) (checked per item); None: no check.
        min_frames, max_frames: keep utterances with this many code frames (None: no limit).
        max_phonemes: keep utterances with at most this many tokens (None: no limit).
    """

    def __init__(self, text: PathLike, codes_scp: PathLike, symbols: SymbolTable, n_q: int = 8,
                 codebook_size: Optional[int] = None, min_frames: int = 1,
                 max_frames: Optional[int] = None, max_phonemes: Optional[int] = None):
        if n_q < 1:
            raise ValueError(f"n_q must be >= 1, got {n_q}")
        if min_frames < 1 or (max_frames is not None and max_frames < min_frames):
            raise ValueError(f"need 1 <= min_frames <= max_frames, got {min_frames}, "
                             f"{max_frames}")
        self.text_path = Path(text)
        self.codes_scp = Path(codes_scp)
        self.symbols = symbols
        self.n_q = int(n_q)
        self.codebook_size = codebook_size
        locations = read_kv_file(self.codes_scp)
        # key -> (byte offset of its line, token count); the tokens are read again per item
        lines = self._scan_text(locations)
        keys = [key for key in lines if key in locations]
        if not keys:
            raise DataError(f"no utterance has both a transcript here and codes in "
                            f"{self.codes_scp}", path=str(self.text_path))
        frames = self._frame_counts(keys, locations)
        del locations

        kept: List[str] = []
        dropped = {"no tokens": 0, "frames": 0, "tokens": 0}
        for key in keys:
            num_tokens, n_frames = lines[key][1], frames[key]
            if num_tokens == 0:
                dropped["no tokens"] += 1
            elif n_frames < min_frames or (max_frames is not None and n_frames > max_frames):
                dropped["frames"] += 1
            elif max_phonemes is not None and num_tokens > max_phonemes:
                dropped["tokens"] += 1
            else:
                kept.append(key)
        if any(dropped.values()):
            logger.info("%s: left out %d without tokens, %d outside %s..%s frames, %d with more "
                        "than %s tokens; %d utterances kept", self.text_path,
                        dropped["no tokens"], dropped["frames"], min_frames, max_frames,
                        dropped["tokens"], max_phonemes, len(kept))
        if not kept:
            raise DataError(f"no utterance left after filtering ({min_frames}..{max_frames} "
                            f"frames, at most {max_phonemes} tokens)", path=str(self.text_path))
        self.keys: List[str] = kept
        self.text_offsets = np.array([lines[k][0] for k in kept], dtype=np.int64)
        self.frames = np.array([frames[k] for k in kept], dtype=np.int64)
        self._files: Optional[Tuple[CodesReader, IO[bytes]]] = None
        self._files_pid: Optional[int] = None

    def _scan_text(self, locations: Mapping[str, str]) -> Dict[str, Tuple[int, int]]:
        """One pass over the text file: key -> (line offset, token count); every token of an
        utterance that has codes is checked against the symbol table."""
        if not self.text_path.is_file():
            raise DataError("file not found", path=str(self.text_path))
        lines: Dict[str, Tuple[int, int]] = {}
        first_line: Dict[str, int] = {}
        offset = 0
        with open(self.text_path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                fields = raw.decode("utf-8").split()
                if not fields:
                    raise DataError("empty line", path=str(self.text_path), line=lineno)
                key, tokens = fields[0], fields[1:]
                if key in lines:
                    raise DataError(f"duplicate key (first on line {first_line[key]})",
                                    path=str(self.text_path), key=key, line=lineno)
                if key in locations:
                    unknown = self.symbols.unknown(tokens)
                    if unknown:
                        raise DataError(
                            f"token(s) {unknown[:5]} not in the token list "
                            f"{self.symbols.source or ''} ({len(self.symbols)} symbols): "
                            "tokenize the text with the same token list (tokenize_text "
                            "--token_list)", path=str(self.text_path), key=key, line=lineno)
                lines[key] = (offset, len(tokens))
                first_line[key] = lineno
                offset += len(raw)
        no_codes = [k for k in lines if k not in locations]
        no_text = [k for k in locations if k not in lines]
        if no_codes:
            logger.warning("%s: %d utterance(s) without codes in %s are left out, first '%s'",
                           self.text_path, len(no_codes), self.codes_scp, no_codes[0])
        if no_text:
            logger.warning("%s: %d utterance(s) without a transcript in %s are left out, "
                           "first '%s'", self.codes_scp, len(no_text), self.text_path,
                           no_text[0])
        return lines

    def _frame_counts(self, keys: Sequence[str], locations: Mapping[str, str]) -> Dict[str, int]:
        """Frames per utterance from the ark headers (loading only what has no plain header)."""
        handles: Dict[str, IO[bytes]] = {}
        counts: Dict[str, int] = {}
        try:
            with CodesReader(self.codes_scp) as reader:
                for key in keys:
                    rows = read_matrix_rows(locations[key], handles)
                    counts[key] = rows if rows is not None else int(reader[key].shape[0])
        finally:
            for handle in handles.values():
                handle.close()
        return counts

    def __len__(self) -> int:
        return len(self.keys)

    def item_frames(self, index: int) -> int:
        """Code frames of item ``index`` (for length bucketing)."""
        return int(self.frames[index])

    def _open_files(self) -> Tuple[CodesReader, IO[bytes]]:
        # Files opened per process: DataLoader workers must not share the parent's open files
        # (a shared file offset would mix up concurrent reads).
        pid = os.getpid()
        if self._files is None or self._files_pid != pid:
            self._files = (CodesReader(self.codes_scp), open(self.text_path, "rb"))
            self._files_pid = pid
        return self._files

    def tokens(self, index: int) -> List[str]:
        """The text tokens of item ``index``, read from the text file."""
        key = self.keys[index]
        _, text = self._open_files()
        text.seek(int(self.text_offsets[index]))
        fields = text.readline().decode("utf-8").split()
        if not fields or fields[0] != key:
            raise DataError("the line of this key moved (file changed since the dataset was "
                            "built?)", path=str(self.text_path), key=key)
        return fields[1:]

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        key = self.keys[index]
        phonemes = torch.tensor(self.symbols.encode(self.tokens(index)), dtype=torch.long)
        reader, _ = self._open_files()
        codes = reader[key]  # int64 [T, n_q_stored]
        if codes.shape[0] != self.frames[index]:
            raise DataError(f"codes have {codes.shape[0]} frames, the ark header said "
                            f"{self.frames[index]} (file changed?)", path=str(self.codes_scp),
                            key=key)
        if codes.shape[1] < self.n_q:
            raise DataError(f"codes have {codes.shape[1]} levels, {self.n_q} needed (n_q)",
                            path=str(self.codes_scp), key=key)
        codes = codes[:, :self.n_q]
        if self.codebook_size is not None and int(codes.max()) >= self.codebook_size:
            raise DataError(f"code {int(codes.max())} >= codebook_size {self.codebook_size}",
                            path=str(self.codes_scp), key=key)
        return {"phonemes": phonemes, "codes": torch.from_numpy(np.ascontiguousarray(codes.T))}

    def close(self) -> None:
        """Close the files this process opened (they reopen on the next item)."""
        if self._files is not None and self._files_pid == os.getpid():
            self._files[0].close()
            self._files[1].close()
        self._files = self._files_pid = None

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["_files"] = state["_files_pid"] = None  # open files do not travel
        return state


class USLMCollate:
    """Items -> the USLM batch (:mod:`sptok.uslm.batch`): ``phonemes`` [B, S] right-padded with
    ``pad_id``, ``phoneme_lengths`` [B], ``codes`` [B, n_q, T] right-padded with 0,
    ``code_lengths`` [B]."""

    def __init__(self, pad_id: int = 0):
        self.pad_id = int(pad_id)

    def __call__(self, items: Sequence[Mapping[str, torch.Tensor]]) -> Dict[str, torch.Tensor]:
        if not items:
            raise ValueError("cannot collate an empty list of items")
        phoneme_lengths = torch.tensor([item["phonemes"].shape[0] for item in items])
        code_lengths = torch.tensor([item["codes"].shape[1] for item in items])
        n_q = items[0]["codes"].shape[0]
        phonemes = torch.full((len(items), int(phoneme_lengths.max())), self.pad_id,
                              dtype=torch.long)
        codes = torch.zeros(len(items), n_q, int(code_lengths.max()), dtype=torch.long)
        for index, item in enumerate(items):
            if item["codes"].shape[0] != n_q:
                raise ValueError(f"items have {n_q} and {item['codes'].shape[0]} code levels")
            phonemes[index, :phoneme_lengths[index]] = item["phonemes"]
            codes[index, :, :code_lengths[index]] = item["codes"]
        return {"phonemes": phonemes, "phoneme_lengths": phoneme_lengths, "codes": codes,
                "code_lengths": code_lengths}
