"""Synthesise one utterance: engine -> raw wav -> sox (shift, level, 16 kHz mono 16-bit).

Every step is deterministic (no dither, fixed effects), so the same speaker and text give the same
bytes. The output appears under its final name only when complete (temporary name + rename).
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path
from typing import List

import soundfile as sf

from sptok.corpus.voices import BaseVoice, Speaker
from sptok.utils.fileio import PathLike, atomic_path

# Bump when the synthesis chain changes, so resumed runs redo files made the old way.
SYNTH_VERSION = 1


class SynthesisError(RuntimeError):
    """An engine or sox failed on one utterance."""


def engine_command(base: BaseVoice, text_file: Path, raw_wav: Path) -> List[str]:
    """Command line that makes ``base`` speak the text in ``text_file`` into ``raw_wav``."""
    if base.engine == "flite":
        return ["flite", "-voice", base.voice, "-f", str(text_file), "-o", str(raw_wav)]
    if base.engine == "festival":
        return ["text2wave", "-eval", f"({base.voice})", str(text_file), "-o", str(raw_wav)]
    if base.engine == "espeak-ng":
        return ["espeak-ng", "-v", base.voice, "-f", str(text_file), "-w", str(raw_wav)]
    raise ValueError(f"unknown engine {base.engine!r} of voice {base.id}")


def sox_command(speaker: Speaker, raw_wav: Path, out_wav: Path, sample_rate: int) -> List[str]:
    """sox command: pitch/tempo shift, resample to ``sample_rate``, mono 16-bit, peak level."""
    cmd = ["sox", "-D", "-V1", str(raw_wav), "-r", str(sample_rate), "-c", "1", "-b", "16",
           "-e", "signed-integer", str(out_wav), "remix", "-"]
    if speaker.pitch_cents:
        cmd += ["pitch", str(speaker.pitch_cents)]
    if speaker.tempo != 1.0:
        cmd += ["tempo", "-s", f"{speaker.tempo:g}"]
    return cmd + ["rate", "-v", str(sample_rate), "gain", "-n", f"{speaker.peak_db:g}"]


def synthesis_key(speaker: Speaker, prompt: str, sample_rate: int) -> str:
    """Hash of everything that determines the audio of one utterance (for resuming)."""
    recipe = [SYNTH_VERSION, speaker.base.engine, speaker.base.voice, speaker.pitch_cents,
              speaker.tempo, speaker.peak_db, sample_rate, prompt]
    return hashlib.sha1(json.dumps(recipe).encode("utf-8")).hexdigest()[:16]


def _run(cmd: List[str], what: str) -> None:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=300)
    # festival reports a bad voice on stderr but exits 0 after falling back to another voice
    if proc.returncode != 0 or "SIOD ERROR" in proc.stderr:
        raise SynthesisError(f"{what}: `{' '.join(cmd)}` failed (exit {proc.returncode}): "
                             f"{proc.stderr.strip()[-500:]}")


def synthesize(speaker: Speaker, prompt: str, out_path: PathLike, sample_rate: int = 16000) -> int:
    """Speak ``prompt`` with ``speaker`` into the wav file ``out_path``.

    Returns:
        number of samples written.
    Raises:
        SynthesisError: the engine or sox failed, or produced no audio.
    """
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="sptok_synth_") as tmp:
        text_file = Path(tmp) / "prompt.txt"
        text_file.write_text(prompt + "\n", encoding="utf-8")
        raw_wav = Path(tmp) / "raw.wav"
        what = f"speaker {speaker.id}, {out_path.name}"
        _run(engine_command(speaker.base, text_file, raw_wav), what)
        if not raw_wav.is_file() or raw_wav.stat().st_size <= 44:
            raise SynthesisError(f"{what}: {speaker.base.engine} wrote no audio")
        with atomic_path(out_path) as tmp_out:
            _run(sox_command(speaker, raw_wav, tmp_out, sample_rate), what)
            num_samples = sf.info(str(tmp_out)).frames
            if num_samples == 0:
                raise SynthesisError(f"{what}: sox wrote an empty file")
    return num_samples
