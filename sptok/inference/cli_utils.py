"""Command-line plumbing shared by the codec CLIs (dump_codes, resynthesize)."""
from __future__ import annotations

import argparse
import logging

import torch

from sptok.inference.speechtokenizer import BATCH_MODES, SpeechTokenizer

__all__ = ["add_model_arguments", "load_tokenizer", "parse_levels"]

logger = logging.getLogger(__name__)



def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by the CLIs that load a codec."""
    parser.add_argument("--model", required=True,
                        help="experiment dir, weight file (beside config.yaml), or official "
                             "release dir (config.json + .pt)")
    parser.add_argument("--checkpoint", default=None,
                        help="weight file in the experiment dir; None: the best model")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--batch_mode", default="auto", choices=BATCH_MODES,
                        help="per_item: one forward per utterance (fastest on CPU); padded: "
                             "one padded forward per batch (GPU); auto: by device")
    parser.add_argument("--num_threads", type=int, default=0,
                        help="CPU threads for torch (0: torch's default)")


def load_tokenizer(args: argparse.Namespace) -> SpeechTokenizer:
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    tokenizer = SpeechTokenizer.from_pretrained(args.model, checkpoint=args.checkpoint,
                                                device=args.device, batch_mode=args.batch_mode)
    info = tokenizer.meta_info()
    logger.info("model %s: %d Hz, hop %d, %d levels x %d codes, device %s", tokenizer.source,
                info["sample_rate"], info["hop_length"], info["n_q"], info["codebook_size"],
                tokenizer.device)
    return tokenizer


def parse_levels(spec: str) -> tuple[int, int]:
    """``"A:B"`` (levels A..B, 1-based, inclusive) or ``"A"`` -> (first index, end index),
    0-based and end-exclusive: "1:8" -> (0, 8), "1" -> (0, 1), "2:8" -> (1, 8)."""
    parts = spec.split(":")
    try:
        if len(parts) == 1:
            first = last = int(parts[0])
        elif len(parts) == 2:
            first, last = int(parts[0]), int(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"levels must be 'A:B' or 'A' (1-based, e.g. 1:8, 1, 2:8), got {spec!r}") from None
    if not 1 <= first <= last:
        raise argparse.ArgumentTypeError(
            f"levels {spec!r}: need 1 <= first <= last (levels count from 1)")
    return first - 1, last
