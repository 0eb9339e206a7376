"""Read every entry of a wav.scp (file or ``cmd |`` pipe, optionally cut by segments), mix to mono,
resample, and write OUT_DIR/data/<utt>.<fmt> (16-bit PCM) plus OUT_DIR/wav.scp and
OUT_DIR/utt2num_samples.

Usage: python -m sptok.bin.format_wav_scp --fs 16000 [--segments FILE] [--audio_format wav|flac]
       WAV_SCP OUT_DIR

Resumable: an utterance whose output file already exists with the right rate is not redone (audio
files are written atomically, so an existing one is complete). Parallel use, as in the recipes:
split wav.scp (or segments) into N parts with split_scp, run one job per part into its own OUT_DIR,
then concatenate the parts' wav.scp and utt2num_samples (``cat ... | LC_ALL=C sort``, or
sptok.data.scp.concat_scps).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from tqdm import tqdm

from sptok.data.audio import (audio_file_info, mix_to_mono, read_audio, resample, save_audio,
                              segment_to_samples)
from sptok.data.errors import DataError
from sptok.data.kaldi_dir import Segment, read_kv_file, read_segments, write_kv_file
from sptok.utils.cli import run_cli
from sptok.utils.fileio import PathLike
from sptok.utils.progress import progress_mininterval

AUDIO_FORMATS = ("wav", "flac")


def _done_samples(path: Path, fs: int) -> Optional[int]:
    """Sample count of an earlier run's output if it is usable as is."""
    if not path.is_file():
        return None
    info = audio_file_info(path)
    if info is None or info[0] != fs or info[2] != 1 or info[1] == 0:
        return None
    return info[1]


def format_wav_scp(wav_scp: PathLike, out_dir: PathLike, fs: int,
                   segments: Optional[PathLike] = None,
                   audio_format: str = "wav") -> Dict[str, int]:
    """Convert the audio of a wav.scp (see the module docstring).

    Args:
        wav_scp: ``utt -> audio`` (or ``recording -> audio`` with ``segments``).
        out_dir: gets ``data/<utt>.<audio_format>``, ``wav.scp`` and ``utt2num_samples``; the
            paths in ``wav.scp`` are ``out_dir/data/...`` as given (relative stays relative).
        fs: output sample rate in Hz.
        segments: ``utt -> recording start end``; only these utterances are written.
        audio_format: ``wav`` or ``flac``.

    Returns:
        ``utt -> number of samples`` at ``fs``.

    Raises:
        DataError: bad input (named by file and key); outputs written so far stay, complete, and a
            re-run resumes after them.
    """
    if fs <= 0:
        raise ValueError(f"fs must be positive, got {fs}")
    if audio_format not in AUDIO_FORMATS:
        raise ValueError(f"audio_format must be one of {AUDIO_FORMATS}, got '{audio_format}'")
    recordings = read_kv_file(wav_scp)
    jobs: Dict[str, List[Tuple[str, Optional[Segment]]]] = {}
    if segments is None:
        for utt in recordings:
            jobs[utt] = [(utt, None)]
    else:
        for lineno, (utt, seg) in enumerate(read_segments(segments).items(), 1):
            if seg.recording not in recordings:
                raise DataError(f"recording '{seg.recording}' is not in {wav_scp}",
                                path=str(segments), key=utt, line=lineno)
            jobs.setdefault(seg.recording, []).append((utt, seg))
    utt_source = str(segments if segments is not None else wav_scp)
    for items in jobs.values():
        for utt, _ in items:
            if "/" in utt or utt in (".", ".."):
                raise DataError("key cannot name a file (contains '/')", path=utt_source,
                                key=utt)

    out = Path(out_dir)
    data_dir = out / "data"
    num_samples: Dict[str, int] = {}
    outputs: Dict[str, str] = {}
    skipped = 0
    total = sum(len(items) for items in jobs.values())
    with tqdm(total=total, unit="utt", desc=f"format_wav_scp {out}", file=sys.stderr,
              mininterval=progress_mininterval()) as progress:
        for rec, items in jobs.items():
            pending = []
            for utt, seg in items:
                dest = data_dir / f"{utt}.{audio_format}"
                outputs[utt] = str(dest)
                done = _done_samples(dest, fs)
                if done is None:
                    pending.append((utt, seg, dest))
                else:
                    num_samples[utt] = done
                    skipped += 1
                    progress.update(1)
            if not pending:
                continue
            # One read per recording, however many segments it holds.
            wav, orig_sr = read_audio(recordings[rec], key=rec, scp=wav_scp)
            for utt, seg, dest in pending:
                piece = wav
                if seg is not None:
                    first, last = segment_to_samples(seg.start, seg.end, wav.shape[0], orig_sr,
                                                     key=utt, path=segments)
                    piece = wav[first:last]
                mono = resample(mix_to_mono(piece), orig_sr, fs)
                save_audio(dest, mono, fs, subtype="PCM_16")
                num_samples[utt] = int(mono.shape[0])
                progress.update(1)

    write_kv_file(out / "wav.scp", outputs)
    write_kv_file(out / "utt2num_samples", {utt: str(n) for utt, n in num_samples.items()})
    print(f"format_wav_scp: {out}: {total} utterances at {fs} Hz ({total - skipped} written, "
          f"{skipped} already done)", file=sys.stderr)
    return num_samples


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="format_wav_scp", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--fs", type=int, required=True, help="output sample rate in Hz")
    parser.add_argument("--segments", default=None,
                        help="segments file (utt recording start end); WAV_SCP is then keyed by "
                             "recording")
    parser.add_argument("--audio_format", default="wav", choices=AUDIO_FORMATS,
                        help="output format (16-bit PCM)")
    parser.add_argument("wav_scp", help="input wav.scp")
    parser.add_argument("out_dir", help="output directory")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()

    def format_all(args: argparse.Namespace) -> None:
        if args.fs <= 0:
            parser.error(f"argument --fs: must be positive, got {args.fs}")
        format_wav_scp(args.wav_scp, args.out_dir, args.fs, segments=args.segments,
                       audio_format=args.audio_format)

    return run_cli(parser, format_all, argv, errors=(DataError,))


if __name__ == "__main__":
    sys.exit(main())
