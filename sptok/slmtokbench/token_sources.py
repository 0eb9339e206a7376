"""Token streams for SLMTokBench: what a tokenizer produced for a set of utterances, and how its
tokens become the vectors a downstream model reads.

Three kinds of stream (:class:`TokenStream`):

- ``codes``: RVQ codes [T, n_q] in a ``codes.scp`` (:class:`sptok.data.ark.CodesReader` layout;
  column k holds level k+1). A frame is represented by the **sum of the codebook vectors** of the
  chosen levels, i.e. the quantized latent of those levels, as in the paper's "RVQ-1" and
  "RVQ-1:8" rows. The codebooks are fixed (not trained by the downstream model); they come from
  a tensor [n_q, K, D], a checkpoint file, a module with codebooks (our ResidualVQ), or a callable.
- ``units``: discrete ids (HuBERT k-means units) [T] (an int32 Kaldi vector) or [T, n] (a code
  matrix; levels choose columns). The downstream model learns an embedding per id
  (:class:`UnitEmbedding`); several columns get separate tables whose vectors are summed.
- ``feats``: any continuous features [T, D] in a feats scp (used as they are).

Levels are written 1-based and inclusive, as in the paper: ``"1"`` is RVQ-1, ``"1:8"`` RVQ-1 to
RVQ-8, ``"2:8"`` the levels after the first.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from sptok.data.ark import CodesReader, FeatsReader, ScpReader
from sptok.data.errors import DataError

STREAM_KINDS = ("codes", "units", "feats")

#: ``fn(codes [T, L] long, start_level 0-based) -> [T, D]`` float: a codebook lookup by callable.
CodebookFn = Callable[[torch.Tensor, int], torch.Tensor]
CodebookSource = Union[None, str, Path, torch.Tensor, nn.Module, CodebookFn]

_LEVEL_SPEC = re.compile(r"^\s*(\d+)\s*(?::\s*(\d+)\s*)?$")
_CODEBOOK_KEY = re.compile(r"^(?P<prefix>.*?)layers\.(?P<level>\d+)\._codebook\.embed$")


def parse_levels(spec: Union[str, int, None], n_available: Optional[int] = None
                 ) -> Optional[Tuple[int, int]]:
    """A level spec as a 0-based half-open range ``(start, end)``.

    ``"1"`` -> (0, 1); ``"1:8"`` -> (0, 8); ``"2:8"`` -> (1, 8); an int k is ``"k"``. None stays
    None (all levels). ``n_available`` (levels in the data or the codebooks) bounds the end.

    Raises:
        ValueError: malformed spec, level 0, an empty range, or a level beyond ``n_available``.
    """
    if spec is None:
        return None
    if isinstance(spec, bool) or not isinstance(spec, (str, int)):
        raise ValueError(f"levels: expected a string like '1' or '1:8', got {spec!r}")
    match = _LEVEL_SPEC.match(str(spec))
    if not match:
        raise ValueError(f"levels: '{spec}' is not a level spec; write 'k' (one level) or 'a:b' "
                         f"(levels a to b, 1-based, inclusive), e.g. '1' or '1:8'")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    if first < 1:
        raise ValueError(f"levels: '{spec}': levels are counted from 1 (RVQ-1 is the first)")
    if last < first:
        raise ValueError(f"levels: '{spec}': the last level {last} comes before the first {first}")
    if n_available is not None and last > n_available:
        raise ValueError(f"levels: '{spec}' asks for level {last} but only {n_available} "
                         f"level(s) are available")
    return first - 1, last


def format_levels(levels: Tuple[int, int]) -> str:
    """Inverse of :func:`parse_levels`: (0, 8) -> ``"1:8"``, (0, 1) -> ``"1"``."""
    start, end = levels
    return str(start + 1) if end - start == 1 else f"{start + 1}:{end}"


# ------------------------------------------------------------------------------------------------
# Codebooks


def codebooks_from_state_dict(state: Mapping[str, Any], prefix: Optional[str] = None,
                              source: str = "<state dict>") -> torch.Tensor:
    """Stack the RVQ codebooks ``...layers.{i}._codebook.embed`` [K, D] of a state dict.

    Matches our ResidualVQ and official SpeechTokenizer / EnCodec checkpoints
    (``quantizer.vq.layers.{i}._codebook.embed``). ``prefix`` selects one quantizer when a state
    dict holds several (the text before ``layers.``, e.g. ``"quantizer.vq."``).

    Returns:
        [n_q, K, D] float32 tensor (levels in order).
    """
    found: Dict[str, Dict[int, torch.Tensor]] = {}
    for key, value in state.items():
        match = _CODEBOOK_KEY.match(str(key))
        if match and isinstance(value, torch.Tensor):
            found.setdefault(match.group("prefix"), {})[int(match.group("level"))] = value
    if prefix is not None:
        if prefix not in found:
            raise ValueError(f"{source}: no codebooks under prefix '{prefix}'; found prefixes "
                             f"{sorted(found) or 'none'}")
        found = {prefix: found[prefix]}
    if not found:
        raise ValueError(f"{source}: no RVQ codebook found (keys like "
                         f"'quantizer.vq.layers.0._codebook.embed'); first keys: {list(state)[:5]}")
    if len(found) > 1:
        raise ValueError(f"{source}: codebooks under several prefixes {sorted(found)}; choose one "
                         f"with codebook_prefix")
    (where, levels), = found.items()
    if sorted(levels) != list(range(len(levels))):
        raise ValueError(f"{source}: codebook levels under '{where}' are not 0..n-1: "
                         f"{sorted(levels)}")
    tables = [levels[i] for i in range(len(levels))]
    if len({tuple(t.shape) for t in tables}) != 1 or tables[0].dim() != 2:
        raise ValueError(f"{source}: codebooks under '{where}' must all be [K, D], got shapes "
                         f"{[tuple(t.shape) for t in tables]}")
    return torch.stack([t.detach().float().cpu() for t in tables])


def _find_state_dict(obj: Any, depth: int = 0) -> Optional[Mapping[str, Any]]:
    """The first mapping holding codebook keys, looking into nested checkpoint dicts
    (``{"model": {...}}``, ``{"generator": {...}}``) up to two levels deep."""
    if not isinstance(obj, Mapping):
        return None
    if any(_CODEBOOK_KEY.match(str(key)) for key in obj):
        return obj
    if depth < 2:
        for value in obj.values():
            nested = _find_state_dict(value, depth + 1)
            if nested is not None:
                return nested
    return None


def load_codebooks(source: Union[str, Path, torch.Tensor, nn.Module, Mapping[str, Any]],
                   prefix: Optional[str] = None) -> torch.Tensor:
    """Codebooks [n_q, K, D] (float32, CPU) from a tensor, a module with RVQ codebooks, a state
    dict, or a file: ``.pt``/``.pth`` (a tensor or a checkpoint), ``.npy`` (an array)."""
    if isinstance(source, torch.Tensor):
        books = source.detach().float().cpu()
        what = "codebook tensor"
    elif isinstance(source, nn.Module):
        return codebooks_from_state_dict(source.state_dict(), prefix, type(source).__name__)
    elif isinstance(source, Mapping):
        return codebooks_from_state_dict(source, prefix)
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"codebooks: file '{path}' not found")
        if path.suffix == ".npy":
            books = torch.from_numpy(np.load(path)).float()
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(obj, torch.Tensor):
                books = obj.detach().float()
            else:
                state = _find_state_dict(obj)
                if state is None:
                    raise ValueError(f"{path}: neither a codebook tensor [n_q, K, D] nor a "
                                     f"checkpoint holding RVQ codebooks")
                return codebooks_from_state_dict(state, prefix, str(path))
        what = str(path)
    if books.dim() != 3:
        raise ValueError(f"{what}: codebooks must be [n_q, K, D], got shape {list(books.shape)}")
    return books


class CodebookEmbedder:
    """Frames of codes -> sum of the chosen levels' codebook vectors.

    Args:
        codebooks: [n_q, K, D] tensor (or anything :func:`load_codebooks` reads), or a callable
            ``fn(codes [T, L] long, start_level) -> [T, D]`` for codecs whose levels project their
            vectors (the callable gets the codes of the chosen levels only).
        levels: ``(start, end)`` 0-based half-open, or a spec string; None: every level.
        prefix: codebook prefix for checkpoints holding several quantizers.
    """

    def __init__(self, codebooks: CodebookSource, levels: Union[str, Tuple[int, int], None],
                 prefix: Optional[str] = None):
        if codebooks is None:
            raise ValueError("a codes stream needs codebooks (a tensor [n_q, K, D], a checkpoint "
                             "file or a callable)")
        self.fn: Optional[CodebookFn] = None
        self.codebooks: Optional[torch.Tensor] = None
        if callable(codebooks) and not isinstance(codebooks, (nn.Module, torch.Tensor)):
            self.fn = codebooks
            if levels is None or isinstance(levels, str):
                levels = parse_levels(levels)
            if levels is None:
                raise ValueError("levels must be given with a codebook callable")
            self.levels = levels
            return
        self.codebooks = load_codebooks(codebooks, prefix)
        n_q = self.codebooks.shape[0]
        if levels is None or isinstance(levels, str):
            levels = parse_levels(levels, n_q) or (0, n_q)
        elif levels[1] > n_q:
            raise ValueError(f"levels {format_levels(levels)} need {levels[1]} codebooks, "
                             f"have {n_q}")
        self.levels = levels
        # Only the chosen tables are kept (the full paper codebooks are 8 x 1024 x 1024).
        self.tables = self.codebooks[levels[0]:levels[1]].contiguous()

    @property
    def dim(self) -> Optional[int]:
        """Output size D (None for a callable until it is called)."""
        return None if self.fn is not None else int(self.tables.shape[-1])

    def __call__(self, codes: Union[np.ndarray, torch.Tensor]) -> torch.Tensor:
        """codes [T, n_q_file] (all levels of the file; column k = level k+1) -> [T, D] float32."""
        codes = torch.as_tensor(codes).long()
        start, end = self.levels
        if codes.dim() != 2 or codes.shape[1] < end:
            raise ValueError(f"codes [T, n_q] with at least {end} levels are needed for levels "
                             f"{format_levels(self.levels)}, got shape {list(codes.shape)}")
        chosen = codes[:, start:end]
        if self.fn is not None:
            out = torch.as_tensor(self.fn(chosen, start)).float()
            if out.dim() != 2 or out.shape[0] != codes.shape[0]:
                raise ValueError(f"codebook callable returned shape {list(out.shape)}, expected "
                                 f"[{codes.shape[0]}, D]")
            return out
        size = self.tables.shape[1]
        if chosen.numel() and (int(chosen.min()) < 0 or int(chosen.max()) >= size):
            raise ValueError(f"codes must lie in [0, {size}) (codebook size), got values in "
                             f"[{int(chosen.min())}, {int(chosen.max())}]")
        level_index = torch.arange(end - start)
        return self.tables[level_index, chosen].sum(dim=1)  # [T, L, D] -> [T, D]


# ------------------------------------------------------------------------------------------------
# Streams


@dataclass
class TokenStream:
    """Where a tokenizer's output for one set of utterances lives and how to read it.

    Attributes:
        scp: the scp file (codes.scp, units.scp or feats.scp).
        kind: ``codes`` | ``units`` | ``feats``.
        levels: 1-based level spec (``"1"``, ``"1:8"``); codes: default every codebook level;
            units: columns of a [T, n] id matrix (default every column).
        codebooks: codes only: see :class:`CodebookEmbedder` (tensor, file, module, callable).
        codebook_prefix: codes only: which quantizer of a checkpoint holding several.
        vocab_size: units only: number of distinct ids K (ids in [0, K)).
    """

    scp: Union[str, Path]
    kind: str
    levels: Optional[str] = None
    codebooks: CodebookSource = None
    codebook_prefix: Optional[str] = None
    vocab_size: Optional[int] = None

    def __post_init__(self) -> None:
        if self.kind not in STREAM_KINDS:
            raise ValueError(f"token stream kind must be one of {STREAM_KINDS}, got "
                             f"'{self.kind}'")
        if self.levels is not None:
            self.levels = str(self.levels)
            parse_levels(self.levels)
        if self.kind == "feats" and self.levels is not None:
            raise ValueError(f"{self.scp}: levels apply to codes and units, not to feats")
        if self.kind != "codes" and self.codebooks is not None:
            raise ValueError(f"{self.scp}: codebooks apply to codes streams only, not "
                             f"'{self.kind}' (units learn their embedding)")
        if self.kind == "codes" and self.codebooks is None:
            raise ValueError(f"{self.scp}: a codes stream needs codebooks (tensor [n_q, K, D], "
                             f"checkpoint file or callable)")
        if self.kind == "units":
            if self.vocab_size is None or int(self.vocab_size) < 1:
                raise ValueError(f"{self.scp}: a units stream needs vocab_size (number of unit "
                                 f"ids, e.g. 500 for HuBERT k-means 500), got {self.vocab_size}")
            self.vocab_size = int(self.vocab_size)

    def with_scp(self, scp: Union[str, Path]) -> "TokenStream":
        """The same tokenizer settings for another set's scp (dev/test of a train stream)."""
        return dataclasses.replace(self, scp=scp)

    def describe(self) -> Dict[str, Any]:
        """Plain-data summary for result files (a codebook tensor/callable is named, not kept)."""
        books = self.codebooks
        if books is not None and not isinstance(books, (str, Path)):
            books = f"<{type(books).__name__}>"
        return {"scp": str(self.scp), "kind": self.kind, "levels": self.levels,
                "codebooks": None if books is None else str(books),
                "codebook_prefix": self.codebook_prefix, "vocab_size": self.vocab_size}


class _UnitsReader(ScpReader):
    """Unit ids as int64 [T, n]: an int32 Kaldi vector [T] or a float32 code matrix [T, n]."""

    def _convert(self, key: str, array: np.ndarray) -> np.ndarray:
        if array.ndim == 1 and array.dtype.kind in "iu":
            return array.astype(np.int64)[:, None]
        return CodesReader._convert(self, key, array)  # type: ignore[arg-type]


class StreamReader:
    """Reads a :class:`TokenStream` one utterance at a time as the model's input.

    ``reader[key]`` is a tensor [T, D] float32 (codes: codebook sums; feats: as stored) or, for
    units, [T, L] int64 ids of the chosen columns, level l offset by ``l * vocab_size`` so that
    one embedding table serves every column (ESPnet-SpeechLM's flat token layout).
    """

    def __init__(self, stream: TokenStream, embedder: Optional[CodebookEmbedder] = None):
        self.stream = stream
        scp = Path(stream.scp)
        if not scp.is_file():
            raise DataError("scp file not found", path=str(scp))
        reader_cls = {"codes": CodesReader, "units": _UnitsReader, "feats": FeatsReader}
        self._reader: ScpReader = reader_cls[stream.kind](scp)
        self.embedder = embedder
        if stream.kind == "codes" and self.embedder is None:
            self.embedder = CodebookEmbedder(stream.codebooks, stream.levels,
                                             stream.codebook_prefix)
        self.levels: Optional[Tuple[int, int]] = (
            self.embedder.levels if self.embedder is not None else parse_levels(stream.levels))

    def keys(self) -> list:
        return list(self._reader)

    def __len__(self) -> int:
        return len(self._reader)

    def __contains__(self, key: object) -> bool:
        return key in self._reader

    def __getitem__(self, key: str) -> torch.Tensor:
        array = self._reader[key]
        where = dict(path=str(self.stream.scp), key=key)
        if array.shape[0] == 0:
            raise DataError("empty token sequence (0 frames)", **where)
        if self.stream.kind == "feats":
            if array.ndim != 2:
                raise DataError(f"features must be [T, D], got shape {array.shape}", **where)
            # kaldiio may hand out read-only memory-mapped arrays.
            return torch.from_numpy(np.require(array, requirements=["C", "W"]))
        if self.stream.kind == "codes":
            try:
                return self.embedder(array)
            except ValueError as exc:
                raise DataError(str(exc), **where) from exc
        n_cols = array.shape[1]
        start, end = self.levels or (0, n_cols)
        if end > n_cols:
            raise DataError(f"levels {self.stream.levels} need {end} columns, the units have "
                            f"{n_cols}", **where)
        ids = array[:, start:end]
        size = self.stream.vocab_size
        if ids.min() < 0 or ids.max() >= size:
            raise DataError(f"unit ids must lie in [0, {size}) (vocab_size), got values in "
                            f"[{ids.min()}, {ids.max()}]", **where)
        offsets = np.arange(end - start, dtype=np.int64) * size
        return torch.from_numpy(ids + offsets)

    def input_spec(self) -> Dict[str, int]:
        """What the model's input layer needs: ``{"feat_dim": D}`` for codes/feats,
        ``{"num_ids": L * K, "num_levels": L}`` for units (D from the first utterance)."""
        if self.stream.kind == "units":
            n_levels = self[self.keys()[0]].shape[1]
            return {"num_ids": n_levels * self.stream.vocab_size, "num_levels": n_levels}
        return {"feat_dim": int(self[self.keys()[0]].shape[1])}

    def close(self) -> None:
        self._reader.close()


class UnitEmbedding(nn.Module):
    """Learned embedding of unit ids: [B, T, L] (already level-offset) -> [B, T, D], the sum of
    the L levels' vectors."""

    def __init__(self, num_ids: int, dim: int):
        super().__init__()
        self.embedding = nn.Embedding(num_ids, dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids).sum(dim=-2)

