"""One-shot voice conversion by swapping RVQ levels (SpeechTokenizer, section 4.3): the source
utterance's RVQ-1 codes (content) decoded with a reference utterance's levels 2..k (timbre).

Usage:
    python -m sptok.bin.vc --codec exp/codec --source src.wav --reference ref.wav \\
        --levels 2:8 --out out.wav [--frames tile|crop] [--device cpu]

``--levels 2:k`` takes the reference's levels 2..k (the paper's rows RVQ-2, RVQ-2:4, RVQ-2:8);
``--levels 1`` decodes the source's RVQ-1 alone. The reference's codes are fitted to the source's
length as in the SLMTokBench disentanglement benchmark
(:func:`sptok.slmtokbench.disentangle.swap_levels`): ``tile`` repeats them cyclically (default),
``crop`` takes their first frames (the reference must then be at least as long). Audio at another
rate than the codec's is resampled (logged); the output has the source's length and the codec's
rate, written atomically.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional, Tuple

import numpy as np
import torch

from sptok.data.audio import load_audio, read_audio, save_audio
from sptok.data.errors import DataError
from sptok.inference.cli_utils import parse_levels
from sptok.inference.speechtokenizer import SpeechTokenizer
from sptok.slmtokbench.disentangle import FRAME_POLICIES, swap_levels
from sptok.utils.cli import ESPNET_LOG_FORMAT, run_cli

__all__ = ["last_reference_level", "convert", "main"]

logger = logging.getLogger("vc")


def last_reference_level(levels: Tuple[int, int]) -> int:
    """k of ``--levels 2:k`` (``levels`` as parsed by :func:`parse_levels`: 0-based first,
    end-exclusive); 1 for ``--levels 1``.

    Raises:
        ValueError: a range that does not continue the source's RVQ-1 (the decoder needs
            levels 1..k without a gap).
    """
    first, end = levels
    if (first, end) == (0, 1):
        return 1
    if first != 1:
        raise ValueError(f"--levels {first + 1}:{end}: the reference's levels must start at 2 "
                         "(they are decoded on top of the source's RVQ-1); use 2:k, or 1 for "
                         "the source's RVQ-1 alone")
    return end


def _load(spec: str, sample_rate: int, what: str) -> np.ndarray:
    _, rate = read_audio(spec, key=what)
    if rate != sample_rate:
        logger.info("%s '%s' is at %d Hz: resampling to the codec's %d Hz", what, spec, rate,
                    sample_rate)
    return load_audio(spec, sample_rate, key=what)


def convert(codec: SpeechTokenizer, source: np.ndarray, reference: np.ndarray, k: int,
            policy: str = "tile") -> Tuple[np.ndarray, np.ndarray]:
    """The converted waveform [N_source] and the codes [k, T_source] it was decoded from.

    Args:
        codec: the SpeechTokenizer.
        source, reference: waveforms [N] at the codec's rate.
        k: last reference level (2..n_q), or 1 for the source's RVQ-1 alone.
        policy: ``tile`` or ``crop`` (see the module docstring).
    """
    if not 1 <= k <= codec.n_q:
        raise ValueError(f"levels up to {k}: the codec has {codec.n_q} levels")
    source_codes = codec.encode(torch.from_numpy(source))[0][0].cpu().numpy()
    reference_codes = codec.encode(torch.from_numpy(reference))[0][0].cpu().numpy()
    codes = swap_levels(source_codes, reference_codes, k, policy)
    wav, _ = codec.decode(torch.from_numpy(codes))
    return wav[0, 0, :source.shape[0]].float().cpu().numpy(), codes


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vc", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--codec", required=True,
                        help="codec experiment dir, weight file or official release dir")
    parser.add_argument("--codec_checkpoint", default=None,
                        help="weight file in the codec experiment; None: its best model")
    parser.add_argument("--source", required=True, help="utterance whose content is kept")
    parser.add_argument("--reference", required=True, help="utterance whose voice is taken")
    parser.add_argument("--levels", type=parse_levels, default="2:8",
                        help="reference levels 2:k decoded with the source's RVQ-1 (1: none)")
    parser.add_argument("--frames", default="tile", choices=FRAME_POLICIES,
                        help="fit the reference's codes to the source's length by tiling or "
                             "cropping")
    parser.add_argument("--out", required=True, help="output wav file")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    return parser


def _convert_files(args: argparse.Namespace) -> None:
    k = last_reference_level(args.levels)
    codec = SpeechTokenizer.from_pretrained(args.codec, checkpoint=args.codec_checkpoint,
                                            device=args.device)
    source = _load(args.source, codec.sample_rate, "source")
    reference = _load(args.reference, codec.sample_rate, "reference")
    wav, codes = convert(codec, source, reference, k, args.frames)
    save_audio(args.out, wav, codec.sample_rate)
    taken = f" + reference RVQ-2:{k}" if k > 1 else " only"
    logger.info("wrote %s: source RVQ-1%s, %d frames", args.out, taken, codes.shape[1])


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(get_parser(), _convert_files, argv,
                   errors=(DataError, ValueError, FileNotFoundError), log_format=ESPNET_LOG_FORMAT)


if __name__ == "__main__":
    sys.exit(main())
