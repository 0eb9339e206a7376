"""Small argparse helpers shared by the command-line programs (sptok/bin)."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Callable, Optional, Sequence, Tuple, Type

from sptok.data.errors import DataError

# ESPnet's log line: time, module:line, level, message
ESPNET_LOG_FORMAT = "%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"


def str2bool(value: str) -> bool:
    """argparse type of boolean options: true/false, 1/0, yes/no (any case)."""
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def run_cli(parser: argparse.ArgumentParser, work: Callable[[argparse.Namespace], Any],
            argv: Optional[Sequence[str]] = None,
            errors: Tuple[Type[BaseException], ...] = (DataError, ValueError),
            log_format: Optional[str] = None) -> int:
    """The ``main()`` of a program: parse ``argv``, run ``work`` on the options; returns the exit
    status: 0 when ``work`` returns, 1 when it raises one of ``errors``.

    Args:
        parser: the program's parser; its ``prog`` names the program in error messages.
        work: does the job on the parsed options; what it returns (e.g. results for callers
            that use it as a library function) is ignored.
        argv: the arguments (default: sys.argv[1:]).
        errors: the expected failures (bad input, missing file, ...): one of them is reported
            as ``<prog>: error: <message>`` on stderr with exit status 1 instead of a traceback;
            any other exception propagates (a bug shows its traceback).
        log_format: when given, the root logger is set to INFO with this format (e.g.
            ESPNET_LOG_FORMAT); None leaves logging as it is.

    Usage errors (argparse, ``parser.error``) exit with status 2 as argparse does.
    """
    if log_format is not None:
        logging.basicConfig(level=logging.INFO, format=log_format)
    args = parser.parse_args(argv)
    try:
        work(args)
    except errors as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    return 0
