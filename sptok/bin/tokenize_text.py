"""Convert a Kaldi ``text`` file to space-separated tokens per utterance (phonemes, BPE pieces or
characters), and optionally write the token list (``symbol id`` per line).

Usage:
    python -m sptok.bin.tokenize_text --in_text data/train/text --out_text dump/phn/train/text \\
        --token_type phn [--write_token_list dump/phn/tokens.txt]
    python -m sptok.bin.tokenize_text --in_text data/train/text --out_text dump/bpe/train/text \\
        --token_type bpe --bpe_model dump/bpe/bpe.model --bpe_train true --bpe_vocab_size 500
    python -m sptok.bin.tokenize_text --in_text data/test/text --out_text dump/phn/test/text \\
        --token_type phn --token_list dump/phn/tokens.txt

Output lines are ``utt tok1 tok2 ...`` in input order, written atomically. The token list is the
tokenizer's full inventory by default (every ARPAbet phoneme, every BPE piece), so it does not
depend on the training data; ``--token_list_from data`` keeps only the tokens seen.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

from tqdm import tqdm

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import read_kv_file
from sptok.text.bpe import MODEL_TYPES, train_bpe
from sptok.text.g2p import DEFAULT_WORD_SEP
from sptok.text.normalize import CLEANERS
from sptok.text.symbol_table import UNK, SymbolTable
from sptok.text.tokenizer import TOKEN_TYPES, TextTokenizer, build_tokenizer
from sptok.utils.cli import run_cli
from sptok.utils.fileio import PathLike, atomic_open
from sptok.utils.progress import progress_mininterval


def _bool(value: str) -> bool:
    if value not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
    return value == "true"


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tokenize_text", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--in_text", required=True, help="Kaldi text file: utt transcription")
    parser.add_argument("--out_text", required=True, help="output: utt tok1 tok2 ...")
    parser.add_argument("--token_type", required=True, choices=TOKEN_TYPES)
    parser.add_argument("--cleaner", default="english", choices=CLEANERS,
                        help="text normalisation (phn needs english)")
    parser.add_argument("--punctuation", type=_bool, default=True,
                        help="keep , . ! ? as tokens (prosody marks)")
    parser.add_argument("--stress", type=_bool, default=True,
                        help="phn: keep vowel stress digits (AH0, OW1)")
    parser.add_argument("--word_sep", default=DEFAULT_WORD_SEP,
                        help="phn: token between words ('none' for no token); char: token for "
                             "a space")
    group = parser.add_argument_group("bpe")
    group.add_argument("--bpe_model", help="sentencepiece model file (.model)")
    group.add_argument("--bpe_train", type=_bool, default=False,
                       help="train --bpe_model on --in_text first (replacing it)")
    group.add_argument("--bpe_vocab_size", type=int, default=500)
    group.add_argument("--bpe_model_type", default="bpe", choices=MODEL_TYPES)
    group.add_argument("--bpe_character_coverage", type=float, default=1.0)
    group = parser.add_argument_group("token list")
    group.add_argument("--token_list", help="existing token list; every token must be in it")
    group.add_argument("--map_unk", type=_bool, default=False,
                       help=f"with --token_list: write {UNK} for tokens not in it instead of "
                            "failing")
    group.add_argument("--write_token_list", help="write a token list (symbol id per line)")
    group.add_argument("--token_list_from", default="inventory", choices=["inventory", "data"],
                       help="inventory: every token the tokenizer can produce (falls back to "
                            "data for char with cleaner none); data: the tokens seen")
    return parser


def tokenize_text(in_text: PathLike, out_text: PathLike, tokenizer: TextTokenizer,
                  token_list: Optional[SymbolTable] = None, map_unk: bool = False,
                  progress: bool = True) -> Dict[str, List[str]]:
    """Tokenise every utterance of ``in_text`` and write ``out_text`` (atomically).

    Args:
        in_text: Kaldi ``text`` file.
        out_text: output ``utt tok1 tok2 ...`` lines, in input order.
        tokenizer: from :func:`sptok.text.tokenizer.build_tokenizer`.
        token_list: when given, every token must be in it ...
        map_unk: ... or is written as ``<unk>`` (the list must have it).
        progress: show a progress bar on stderr.

    Returns:
        ``utt -> tokens`` as written.

    Raises:
        DataError: a malformed input line, an utterance without tokens, or a token not in
            ``token_list``; each names the file and the key.
    """
    if map_unk and (token_list is None or UNK not in token_list):
        raise ValueError(f"map_unk needs a token list with {UNK}")
    texts = read_kv_file(in_text)
    result: Dict[str, List[str]] = {}
    for key, text in tqdm(texts.items(), total=len(texts), desc=f"tokenize {in_text}",
                          unit="utt", file=sys.stderr, disable=not progress,
                          mininterval=progress_mininterval()):
        try:
            tokens = tokenizer(text)
        except Exception as exc:  # name the utterance whatever went wrong inside
            raise DataError(f"cannot tokenize {text!r}: {exc}", path=str(in_text),
                            key=key) from exc
        if not tokens:
            raise DataError(f"transcription {text!r} has no tokens after cleaning",
                            path=str(in_text), key=key)
        if token_list is not None:
            unknown = token_list.unknown(tokens)
            if unknown and not map_unk:
                raise DataError(f"token(s) {' '.join(map(repr, unknown))} not in the token list "
                                f"{token_list.source or ''} (use map_unk to write {UNK})",
                                path=str(in_text), key=key)
            tokens = [t if t in token_list else UNK for t in tokens]
        result[key] = tokens
    with atomic_open(out_text) as f:
        for key, tokens in result.items():
            f.write(f"{key} {' '.join(tokens)}\n")
    return result


def make_token_list(tokenizer: TextTokenizer, tokenized: Dict[str, List[str]],
                    source: str = "inventory", where: str = "") -> SymbolTable:
    """A symbol table for ``tokenized`` from the tokenizer's inventory or from the data.

    Raises:
        DataError: with ``source='inventory'``, a token outside the inventory (named by key).
    """
    inventory = tokenizer.inventory() if source == "inventory" else None
    if inventory is None:
        return SymbolTable.build(tokenized.values())
    known = set(inventory)
    for key, tokens in tokenized.items():
        outside = [t for t in dict.fromkeys(tokens) if t not in known]
        if outside:
            raise DataError(f"token(s) {' '.join(map(repr, outside))} are not in the "
                            "tokenizer's inventory (e.g. characters the BPE model never saw); "
                            "use --token_list_from data", path=where or None, key=key)
    return SymbolTable.from_inventory(inventory)


def _tokenize(args: argparse.Namespace) -> None:
    word_sep = None if args.word_sep == "none" else args.word_sep
    if args.token_list and args.write_token_list:
        raise ValueError("give --token_list (check against a list) or --write_token_list "
                         "(make one), not both")
    if args.token_type == "bpe":
        if not args.bpe_model:
            raise ValueError("--token_type bpe needs --bpe_model")
        if args.bpe_train:
            model = Path(args.bpe_model)
            if model.suffix != ".model":
                raise ValueError(f"--bpe_model must end in .model, got {model}")
            train_bpe(args.in_text, model.parent, args.bpe_vocab_size,
                      model_type=args.bpe_model_type,
                      character_coverage=args.bpe_character_coverage, cleaner=args.cleaner,
                      punctuation=args.punctuation, name=model.stem)
            print(f"tokenize_text: trained {model} ({args.bpe_vocab_size} pieces)",
                  file=sys.stderr)
    tokenizer = build_tokenizer(args.token_type, cleaner=args.cleaner,
                                punctuation=args.punctuation, stress=args.stress,
                                word_sep=word_sep, bpe_model=args.bpe_model)
    token_list = SymbolTable.load(args.token_list) if args.token_list else None
    tokenized = tokenize_text(args.in_text, args.out_text, tokenizer, token_list,
                              map_unk=args.map_unk)
    if args.write_token_list:
        table = make_token_list(tokenizer, tokenized, args.token_list_from, args.in_text)
        table.save(args.write_token_list)
        print(f"tokenize_text: {args.write_token_list}: {len(table)} symbols", file=sys.stderr)
    counts: Counter = Counter(t for tokens in tokenized.values() for t in tokens)
    print(f"tokenize_text: {args.out_text}: {len(tokenized)} utterances, "
          f"{sum(counts.values())} tokens, {len(counts)} distinct", file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(get_parser(), _tokenize, argv,
                   errors=(DataError, ValueError, FileNotFoundError, ImportError))


if __name__ == "__main__":
    sys.exit(main())
