"""Split a Kaldi table into N contiguous parts (Kaldi split_scp.pl).

Usage: python -m sptok.bin.split_scp IN OUT1 ... OUTN [--utt2spk FILE]
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from sptok.data.errors import DataError
from sptok.data.scp import split_scp
from sptok.utils.cli import run_cli


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="split_scp", description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="table to split (wav.scp, segments, utt2spk, ...)")
    parser.add_argument("outputs", nargs="+", help="output files, one per part")
    parser.add_argument("--utt2spk", default=None,
                        help="keep each speaker's lines in one part")
    return parser


def _split(args: argparse.Namespace) -> None:
    sizes = split_scp(args.input, args.outputs, utt2spk=args.utt2spk)
    print(f"split_scp: {args.input}: {sum(sizes)} lines into {len(sizes)} parts "
          f"({min(sizes)}-{max(sizes)} lines each)", file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(get_parser(), _split, argv, errors=(DataError,))


if __name__ == "__main__":
    sys.exit(main())
