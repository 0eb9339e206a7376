"""Errors raised on bad input data. Every message names the file and, where known, the key."""
from __future__ import annotations

from typing import Optional


class DataError(ValueError):
    """Bad or inconsistent input data.

    Attributes:
        path: file that holds the problem (None when not file-bound).
        key: utterance / speaker key concerned, if any.
        line: 1-based line number in ``path``, if any.
    """

    def __init__(self, message: str, path: Optional[str] = None, key: Optional[str] = None,
                 line: Optional[int] = None):
        where = []
        if path is not None:
            where.append(f"{path}" + (f":{line}" if line is not None else ""))
        if key is not None:
            where.append(f"key '{key}'")
        super().__init__(f"{': '.join(where)}: {message}" if where else message)
        self.path = path
        self.key = key
        self.line = line
