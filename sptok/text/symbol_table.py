"""Token <-> id tables, saved as ``symbol id`` lines (Kaldi ``words.txt``/``phones.txt`` style).

Special tokens come first (``<pad>`` is id 0, so zero-padded batches are padding), then the
regular symbols. A table is built from a fixed inventory (every ARPAbet phoneme, a BPE model's
pieces) or from the tokens seen in data, saved next to the model that uses it, and loaded back
unchanged.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import c_sort_key
from sptok.utils.fileio import PathLike, atomic_open

PAD = "<pad>"
BOS = "<bos>"
EOS = "<eos>"
UNK = "<unk>"
DEFAULT_SPECIALS: Tuple[str, ...] = (PAD, BOS, EOS, UNK)


def _check_symbol(symbol: str) -> None:
    if not isinstance(symbol, str) or not symbol or any(c.isspace() for c in symbol):
        raise ValueError(f"SymbolTable: a symbol must be a non-empty string without whitespace, "
                         f"got {symbol!r}")


class SymbolTable:
    """An ordered, immutable mapping between symbols and ids ``0 .. len - 1``.

    Args:
        symbols: every symbol in id order (specials included).
        source: where the table came from (named in error messages).
    """

    def __init__(self, symbols: Sequence[str], source: Optional[str] = None):
        self._symbols: Tuple[str, ...] = tuple(symbols)
        self._ids: Dict[str, int] = {}
        for i, symbol in enumerate(self._symbols):
            _check_symbol(symbol)
            if symbol in self._ids:
                raise ValueError(f"SymbolTable: duplicate symbol {symbol!r} (ids "
                                 f"{self._ids[symbol]} and {i})")
            self._ids[symbol] = i
        self.source = source

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_inventory(cls, symbols: Iterable[str],
                       specials: Sequence[str] = DEFAULT_SPECIALS) -> "SymbolTable":
        """``specials`` then ``symbols`` in their given order (duplicates and specials skipped)."""
        ordered = list(dict.fromkeys(specials))
        seen = set(ordered)
        for symbol in symbols:
            if symbol not in seen:
                ordered.append(symbol)
                seen.add(symbol)
        return cls(ordered)

    @classmethod
    def build(cls, token_sequences: Iterable[Sequence[str]],
              specials: Sequence[str] = DEFAULT_SPECIALS, min_count: int = 1) -> "SymbolTable":
        """From data: ``specials`` then every token seen at least ``min_count`` times, in byte
        order (so the table does not depend on the order of the data)."""
        if min_count < 1:
            raise ValueError(f"SymbolTable.build: min_count must be >= 1, got {min_count}")
        counts: Counter = Counter()
        for tokens in token_sequences:
            counts.update(tokens)
        kept = sorted((s for s, n in counts.items() if n >= min_count), key=c_sort_key)
        return cls.from_inventory(kept, specials)

    # -- file format -------------------------------------------------------------------------

    def save(self, path: PathLike) -> Path:
        """Write ``symbol id`` lines in id order (atomically)."""
        with atomic_open(path) as f:
            for i, symbol in enumerate(self._symbols):
                f.write(f"{symbol} {i}\n")
        return Path(path)

    @classmethod
    def load(cls, path: PathLike) -> "SymbolTable":
        """Read a ``symbol id`` file; ids must be 0 .. N-1, each once, symbols unique.

        Raises:
            DataError: a missing file or a malformed, duplicate or missing entry (file, line).
        """
        path = Path(path)
        if not path.is_file():
            raise DataError("symbol table not found", path=str(path))
        by_id: Dict[int, str] = {}
        seen: Dict[str, int] = {}
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                    raise DataError(f"expected 'symbol id', got {line.rstrip()!r}",
                                    path=str(path), line=lineno)
                symbol, sid = fields[0], int(fields[1])
                if symbol in seen:
                    raise DataError(f"duplicate symbol {symbol!r} (also on line {seen[symbol]})",
                                    path=str(path), line=lineno)
                if sid in by_id or sid < 0:
                    raise DataError(f"id {sid} is negative or used twice", path=str(path),
                                    line=lineno)
                seen[symbol] = lineno
                by_id[sid] = symbol
        if not by_id:
            raise DataError("empty symbol table", path=str(path))
        missing = [i for i in range(len(by_id)) if i not in by_id]
        if missing:
            raise DataError(f"ids must be 0..{len(by_id) - 1} without gaps; missing {missing[:5]}",
                            path=str(path))
        return cls([by_id[i] for i in range(len(by_id))], source=str(path))

    # -- lookup ------------------------------------------------------------------------------

    @property
    def symbols(self) -> Tuple[str, ...]:
        return self._symbols

    def __len__(self) -> int:
        return len(self._symbols)

    def __iter__(self) -> Iterator[str]:
        return iter(self._symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SymbolTable) and self._symbols == other._symbols

    def __hash__(self) -> int:
        return hash(self._symbols)

    def __repr__(self) -> str:
        head = " ".join(self._symbols[:8])
        return f"SymbolTable({len(self)} symbols: {head}{' ...' if len(self) > 8 else ''})"

    def get_id(self, symbol: str) -> Optional[int]:
        """The id of ``symbol``, or None."""
        return self._ids.get(symbol)

    @property
    def pad_id(self) -> Optional[int]:
        return self._ids.get(PAD)

    @property
    def bos_id(self) -> Optional[int]:
        return self._ids.get(BOS)

    @property
    def eos_id(self) -> Optional[int]:
        return self._ids.get(EOS)

    @property
    def unk_id(self) -> Optional[int]:
        return self._ids.get(UNK)

    def unknown(self, tokens: Iterable[str]) -> List[str]:
        """The distinct tokens of ``tokens`` that are not in the table (first-seen order)."""
        return list(dict.fromkeys(t for t in tokens if t not in self._ids))

    def encode(self, tokens: Iterable[str], allow_unk: bool = False) -> List[int]:
        """Token ids.

        Args:
            tokens: symbols.
            allow_unk: map symbols not in the table to ``<unk>`` (the table must have one).

        Raises:
            ValueError: a symbol not in the table (named), unless ``allow_unk``.
        """
        unk = self.unk_id if allow_unk else None
        if allow_unk and unk is None:
            raise ValueError(f"SymbolTable{self._where()}: allow_unk needs a {UNK} symbol, "
                             "which this table does not have")
        ids: List[int] = []
        for position, token in enumerate(tokens):
            sid = self._ids.get(token, unk)
            if sid is None:
                raise ValueError(f"symbol {token!r} (token {position}) is not in the symbol "
                                 f"table{self._where()} of {len(self)} symbols")
            ids.append(sid)
        return ids

    def decode(self, ids: Iterable[int]) -> List[str]:
        """Symbols of ``ids`` (ints or 0-d tensors)."""
        out: List[str] = []
        for i in ids:
            index = int(i)
            if not 0 <= index < len(self._symbols):
                raise ValueError(f"id {index} is out of range for the symbol table"
                                 f"{self._where()} of {len(self)} symbols")
            out.append(self._symbols[index])
        return out

    def _where(self) -> str:
        return f" {self.source}" if self.source else ""
