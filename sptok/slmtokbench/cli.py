"""Command line of SLMTokBench text alignment (the lead's ``sptok-bench`` can call :func:`main`).

Example::

    python -m sptok.slmtokbench.cli --kind codes --levels 1:8 \\
        --codebooks exp/tokenizer/model.pt \\
        --train dump/train/codes.scp data/train/text \\
        --eval dev dump/dev/codes.scp data/dev/text \\
        --eval test dump/test/codes.scp data/test/text \\
        --config conf/text_alignment.yaml --out_dir exp/slmtokbench/rvq1_8 --hidden_size 256

Probe options (``--hidden_size 256``, ``--max_epochs 5`` ...) override the YAML file; see
``--print_config``. The per-set results are printed as YAML and written to
``OUT_DIR/results.yaml``.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Dict, Optional, Sequence

from sptok.slmtokbench.text_alignment import SCHEMA, run_text_alignment
from sptok.slmtokbench.token_sources import STREAM_KINDS, TokenStream
from sptok.utils.config import ConfigError, dump_yaml, load_yaml, parse_overrides


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="python -m sptok.slmtokbench.cli",
        description="SLMTokBench text alignment: train a BiLSTM-CTC probe on token embeddings, "
                    "report WER/CER and mutual information (nats) per eval set. Options of the "
                    "probe (--hidden_size 256 ...) follow; see --print_config.")
    parser.add_argument("--kind", choices=STREAM_KINDS, help="token stream kind")
    parser.add_argument("--levels", default=None, help="codes/units levels, 1-based: 1, 1:8")
    parser.add_argument("--codebooks", default=None,
                        help="codes: codebooks [n_q, K, D] (.pt tensor/checkpoint or .npy)")
    parser.add_argument("--codebook_prefix", default=None,
                        help="codes: quantizer prefix in a checkpoint with several")
    parser.add_argument("--vocab_size", type=int, default=None, help="units: number of ids")
    parser.add_argument("--train", nargs=2, metavar=("SCP", "TEXT"))
    parser.add_argument("--eval", nargs=3, action="append", default=[],
                        metavar=("NAME", "SCP", "TEXT"), help="an eval set (repeatable)")
    parser.add_argument("--config", default=None, help="YAML file of probe options")
    parser.add_argument("--out_dir", default=None, help="output directory")
    parser.add_argument("--print_config", action="store_true",
                        help="print the resolved probe options and exit")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, Any]]:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    try:
        file_conf = load_yaml(args.config) if args.config else {}
        conf = SCHEMA.resolve(file_conf, parse_overrides(rest), source=args.config or "<defaults>")
    except ConfigError as exc:
        parser.error(str(exc))
    if args.print_config:
        sys.stdout.write(dump_yaml(conf))
        return {}
    missing = [flag for flag, value in (("--kind", args.kind), ("--train", args.train),
                                        ("--out_dir", args.out_dir)) if not value]
    if missing or not args.eval:
        parser.error(f"required: {', '.join(missing + ([] if args.eval else ['--eval']))}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s "
                                                   "%(message)s")
    try:
        stream = TokenStream(args.train[0], args.kind, args.levels, args.codebooks,
                             args.codebook_prefix, args.vocab_size)
        evals = {name: (scp, text) for name, scp, text in args.eval}
        results = run_text_alignment(stream, args.train[1], evals, conf, args.out_dir)
    except ValueError as exc:  # DataError included: bad input, named in the message
        sys.exit(f"error: {exc}")
    sys.stdout.write(dump_yaml(results))
    return results


if __name__ == "__main__":
    main()
