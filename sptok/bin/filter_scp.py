"""Keep the lines of a Kaldi table whose key is in a key list (or not in it, with --exclude).

Usage: python -m sptok.bin.filter_scp --keys FILE [--exclude] IN OUT
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from sptok.data.errors import DataError
from sptok.data.scp import filter_scp, read_key_list
from sptok.utils.cli import run_cli


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="filter_scp", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", required=True,
                        help="key list: the first field of each line is a key")
    parser.add_argument("--exclude", action="store_true", help="drop the listed keys instead")
    parser.add_argument("input", help="table to filter")
    parser.add_argument("output", help="filtered table (input order kept)")
    return parser


def _filter(args: argparse.Namespace) -> None:
    kept = filter_scp(args.input, args.output, read_key_list(args.keys), exclude=args.exclude)
    print(f"filter_scp: {args.output}: {kept} lines", file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(get_parser(), _filter, argv, errors=(DataError,))


if __name__ == "__main__":
    sys.exit(main())
