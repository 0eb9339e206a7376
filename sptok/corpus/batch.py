"""Synthesise many utterances in parallel, resumably.

A manifest (``<wav_dir>/synth_manifest.tsv``: ``utt_id key``) records which synthesis recipe
(:func:`sptok.corpus.synth.synthesis_key`: voice, shift, text, ...) each wav file was made with.
On a rerun, a wav file is kept only if the manifest says it was made with the same recipe;
files made otherwise (another seed, another voice table) are deleted before the new manifest is
written, so the manifest never vouches for a stale file, even after a crash.

The work happens in the engines' and sox's own processes, so ``nj`` threads keep ``nj`` CPU cores
busy.
"""
from __future__ import annotations

import concurrent.futures as cf
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

import soundfile as sf
from tqdm import tqdm

from sptok.corpus.synth import SynthesisError, synthesis_key, synthesize
from sptok.corpus.voices import Speaker
from sptok.data.kaldi_dir import read_kv_file, write_kv_file
from sptok.utils.fileio import PathLike

MANIFEST_NAME = "synth_manifest.tsv"


@dataclass(frozen=True)
class SynthJob:
    """One wav file to make: ``speaker`` says ``prompt`` into ``wav_path``."""

    utt_id: str
    speaker: Speaker
    prompt: str
    wav_path: Path


def _existing_samples(path: Path, sample_rate: int) -> int | None:
    """Length of a finished file, or None if it is missing or not what synthesis writes."""
    if not path.is_file():
        return None
    try:
        info = sf.info(str(path))
    except RuntimeError:
        return None
    if info.samplerate != sample_rate or info.channels != 1 or info.frames == 0:
        return None
    return info.frames


def synthesize_jobs(jobs: Sequence[SynthJob], wav_dir: PathLike, nj: int = 1,
                    sample_rate: int = 16000, progress: bool = True) -> Dict[str, int]:
    """Make every job's wav file, skipping files a previous run finished with the same recipe.

    Args:
        jobs: utterances to make; their ``wav_path`` should lie under ``wav_dir``.
        wav_dir: folder that holds the manifest.
        nj: number of utterances synthesised at once.
        sample_rate: output sample rate.
        progress: show a tqdm progress bar.

    Returns:
        utt_id -> number of samples, for every job.
    Raises:
        SynthesisError: an utterance failed (files finished before stay, for a rerun).
    """
    if nj < 1:
        raise ValueError(f"nj must be >= 1, got {nj}")
    if len({j.utt_id for j in jobs}) != len(jobs):
        raise ValueError("duplicate utt_id in synthesis jobs")
    wav_dir = Path(wav_dir)
    wav_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = wav_dir / MANIFEST_NAME
    old = read_kv_file(manifest_path) if manifest_path.is_file() else {}
    keys = {j.utt_id: synthesis_key(j.speaker, j.prompt, sample_rate) for j in jobs}

    samples: Dict[str, int] = {}
    todo: List[SynthJob] = []
    for job in jobs:
        same_recipe = old.get(job.utt_id) == keys[job.utt_id]
        n = _existing_samples(job.wav_path, sample_rate) if same_recipe else None
        if n is None:
            job.wav_path.unlink(missing_ok=True)
            todo.append(job)
        else:
            samples[job.utt_id] = n
    write_kv_file(manifest_path, keys)

    bar = tqdm(total=len(jobs), initial=len(samples), desc="synthesise", unit="utt",
               disable=not progress, dynamic_ncols=True)
    with cf.ThreadPoolExecutor(max_workers=nj) as pool:
        futures = {pool.submit(synthesize, j.speaker, j.prompt, j.wav_path, sample_rate): j
                   for j in todo}
        try:
            for fut in cf.as_completed(futures):
                samples[futures[fut].utt_id] = fut.result()
                bar.update(1)
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        finally:
            bar.close()
    missing = [j.utt_id for j in jobs if j.utt_id not in samples]
    if missing:
        raise SynthesisError(f"{len(missing)} utterances were not synthesised, e.g. {missing[:3]}")
    return samples
