"""Repair a Kaldi data directory in place: keep the utterances present in every file, drop bad
lines, sort in C locale, regenerate spk2utt; originals are backed up to DIR/.backup/.

Usage: python -m sptok.bin.fix_data_dir DIR
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import fix_data_dir
from sptok.utils.cli import run_cli


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fix_data_dir", description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", help="Kaldi data directory, fixed in place")
    return parser


def _fix(args: argparse.Namespace) -> None:
    print(fix_data_dir(args.data_dir))


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(get_parser(), _fix, argv, errors=(DataError,))


if __name__ == "__main__":
    sys.exit(main())
