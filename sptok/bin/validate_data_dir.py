"""Check a Kaldi data directory and print its summary; exit status 1 with the problems otherwise.

Usage: python -m sptok.bin.validate_data_dir DIR [--check_audio] [--no_text] [--fs HZ]
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import validate_data_dir
from sptok.utils.cli import run_cli


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="validate_data_dir", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("data_dir", help="Kaldi data directory")
    parser.add_argument("--check_audio", action="store_true",
                        help="read every recording (exists, decodable, non-empty, finite)")
    parser.add_argument("--no_text", action="store_true", help="a missing text file is fine")
    parser.add_argument("--fs", type=int, default=None,
                        help="expected sample rate in Hz (duration from utt2num_samples; "
                             "with --check_audio every file must have it)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()

    def validate(args: argparse.Namespace) -> None:
        if args.fs is not None and args.fs <= 0:
            parser.error(f"argument --fs: must be positive, got {args.fs}")
        print(validate_data_dir(args.data_dir, check_audio=args.check_audio,
                                require_text=not args.no_text, fs=args.fs))

    return run_cli(parser, validate, argv, errors=(DataError,))


if __name__ == "__main__":
    sys.exit(main())
