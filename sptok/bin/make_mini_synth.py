"""Synthesise the embedded multi-speaker English corpus of the mini recipe (no download).

Sentences come from a seeded template grammar over CMU-dictionary words (covering all 39 ARPAbet
phonemes); Debian's flite, festival and espeak-ng voices (mbrola's with --mbrola true) and fixed
sox pitch/tempo shifts of them make ~25 speakers. Writes 16 kHz mono 16-bit wav files under
--wav_dir and Kaldi data directories train, dev, test (train speakers, new sentences) and
test_unseen (speakers absent from train) under --out_dir, plus --out_dir/mini_synth_stats.txt.
The same seed gives the same files; a rerun keeps the files already made.

Usage: python -m sptok.bin.make_mini_synth --out_dir data --wav_dir downloads/mini_synth \\
           --hours 2.5 --seed 1 --nj 2 [--mbrola false]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional

from sptok.corpus.batch import SynthJob, synthesize_jobs
from sptok.corpus.export import stats_table, wav_path, write_data_dirs, write_stats
from sptok.corpus.plan import plan_corpus
from sptok.corpus.sentences import check_phoneme_coverage, generate_sentences, missing_phonemes
from sptok.corpus.synth import SynthesisError
from sptok.corpus.voices import MissingEngineError, check_voices, default_speakers
from sptok.data.errors import DataError
from sptok.utils.cli import run_cli, str2bool

MIN_SENTENCE_POOL = 2000
STATS_NAME = "mini_synth_stats.txt"



def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make_mini_synth", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out_dir", default="data", help="Kaldi data dirs go to OUT_DIR/<set>")
    parser.add_argument("--wav_dir", default="downloads/mini_synth",
                        help="wav files go to WAV_DIR/<speaker>/<utt>.wav")
    parser.add_argument("--hours", type=float, default=2.5,
                        help="target total length (every set keeps a minimum size)")
    parser.add_argument("--seed", type=int, default=1, help="fixes sentences and assignment")
    parser.add_argument("--nj", type=int, default=1, help="utterances synthesised at once")
    parser.add_argument("--mbrola", type=str2bool, default=False,
                        help="add mbrola voices (non-free; Debian contrib: mbrola, mbrola-us1..3, "
                             "mbrola-en1)")
    parser.add_argument("--fs", type=int, default=16000, help="output sample rate in Hz")
    return parser


def _log(message: str) -> None:
    print(f"make_mini_synth: {message}", file=sys.stderr, flush=True)


def _validate(dirs: List[Path], fs: int) -> None:
    """Check the written directories with sptok.data (when that module provides a validator)."""
    try:
        from sptok.data.kaldi_dir import validate_data_dir
    except ImportError:  # older sptok.data without the validator
        _log("sptok.data.kaldi_dir.validate_data_dir not available; data dirs not validated")
        return
    for d in dirs:
        _log(str(validate_data_dir(d, check_audio=False, require_text=True, fs=fs)))


def run(out_dir: str, wav_dir: str, hours: float, seed: int, nj: int = 1, mbrola: bool = False,
        fs: int = 16000, progress: bool = True) -> str:
    """Make the corpus (see the module docstring) and return its statistics table.

    Raises:
        MissingEngineError: an engine, a voice or sox is not installed.
        SynthesisError: an utterance could not be synthesised.
        ValueError: bad options.
    """
    if hours <= 0:
        raise ValueError(f"--hours must be > 0, got {hours}")
    if nj < 1:
        raise ValueError(f"--nj must be >= 1, got {nj}")
    if fs < 8000:
        raise ValueError(f"--fs must be >= 8000, got {fs}")
    start = time.time()
    speakers = default_speakers(mbrola=mbrola)
    check_voices(speakers)
    plan = plan_corpus(speakers, hours=hours, seed=seed)
    pool = generate_sentences(max(MIN_SENTENCE_POOL, 1 + max(u.sentence.index for u in plan)),
                              seed)
    check_phoneme_coverage(pool)
    train_missing = missing_phonemes(u.sentence for u in plan if u.subset == "train")
    _log(f"{len(plan)} utterances, {len(speakers)} speakers, {len(pool)} sentences in the pool "
         f"(all 39 ARPAbet phonemes); train misses phonemes: {' '.join(train_missing) or 'none'}")

    jobs = [SynthJob(u.utt_id, u.speaker, u.sentence.prompt, wav_path(wav_dir, u)) for u in plan]
    num_samples = synthesize_jobs(jobs, wav_dir, nj=nj, sample_rate=fs, progress=progress)
    dirs = write_data_dirs(plan, num_samples, wav_dir, out_dir)
    _validate(dirs, fs)
    table = stats_table(plan, num_samples, sample_rate=fs)
    write_stats(Path(out_dir) / STATS_NAME, table)
    _log(f"done in {time.time() - start:.0f} s; data dirs in {out_dir}, audio in {wav_dir}")
    return table


def _make_corpus(args: argparse.Namespace) -> None:
    print(run(args.out_dir, args.wav_dir, args.hours, args.seed, nj=args.nj, mbrola=args.mbrola,
              fs=args.fs), end="")


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(get_parser(), _make_corpus, argv,
                   errors=(MissingEngineError, SynthesisError, DataError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
