"""Merge Kaldi data directories (Kaldi utils/combine_data.sh); duplicate keys are errors.

Usage: python -m sptok.bin.combine_data OUT_DIR IN_DIR1 IN_DIR2 ...
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import combine_data_dirs


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="combine_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="output data directory")
    parser.add_argument("in_dirs", nargs="+", help="input data directories")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="combine_data: %(levelname)s: %(message)s")
    try:
        summary = combine_data_dirs(args.out_dir, args.in_dirs)
    except DataError as exc:
        print(f"combine_data: error: {exc}", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
