"""Merge Kaldi data directories (Kaldi utils/combine_data.sh); duplicate keys are errors.

Usage: python -m sptok.bin.combine_data OUT_DIR IN_DIR1 IN_DIR2 ...
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import combine_data_dirs
from sptok.utils.cli import run_cli


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="combine_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="output data directory")
    parser.add_argument("in_dirs", nargs="+", help="input data directories")
    return parser


def _combine(args: argparse.Namespace) -> None:
    print(combine_data_dirs(args.out_dir, args.in_dirs))


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(get_parser(), _combine, argv, errors=(DataError,),
                   log_format="combine_data: %(levelname)s: %(message)s")


if __name__ == "__main__":
    sys.exit(main())
