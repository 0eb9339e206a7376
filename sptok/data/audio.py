"""Audio input/output for Kaldi ``wav.scp`` values.

A ``wav.scp`` value is either a file path (any format libsndfile reads: wav, flac, ogg, ...) or a
shell command ending in ``|`` whose stdout is an audio file (``sox in.sph -t wav - |``). Audio comes
back as float32 numpy arrays in [-1, 1]; resampling uses ``torchaudio.functional.resample``, which
works without torchaudio's native libraries.

Every error is a :class:`~sptok.data.errors.DataError` that names the ``wav.scp`` file (or the
audio file when no scp is given), the key and the audio file or command.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import soundfile as sf

from sptok.data.errors import DataError
from sptok.utils.fileio import PathLike, atomic_path

#: A segment may end this many seconds after the end of its recording; the excess is cut off.
#: Same tolerance as Kaldi's ``extract-segments --max-overshoot``.
MAX_SEGMENT_OVERSHOOT = 0.5

#: Characters of a failing pipe command's stderr quoted in the error message.
_STDERR_TAIL = 2000


def is_pipe(spec: str) -> bool:
    """True when a ``wav.scp`` value is a command whose stdout is the audio (``cmd |``)."""
    return spec.rstrip().endswith("|")


def _error(message: str, key: Optional[str], scp: Optional[PathLike], spec: str) -> DataError:
    if scp is None:
        return DataError(message, path=spec, key=key)
    return DataError(message, path=str(scp), key=key)


def _run_pipe(spec: str, key: Optional[str], scp: Optional[PathLike]) -> bytes:
    command = spec.rstrip()[:-1].strip()
    if not command:
        raise _error("empty pipe command", key, scp, spec)
    # pipefail: a failing first stage of `a | b |` must not be hidden by a succeeding last stage.
    bash = shutil.which("bash")
    script = f"set -o pipefail; {command}" if bash else command
    proc = subprocess.run(script, shell=True, executable=bash, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, check=False)
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", errors="replace").strip()[-_STDERR_TAIL:]
        raise _error(f"pipe command failed with exit status {proc.returncode}: '{command}'; "
                     f"stderr: {stderr or '(empty)'}", key, scp, spec)
    if not proc.stdout:
        raise _error(f"pipe command wrote no audio to stdout: '{command}'", key, scp, spec)
    return proc.stdout


def read_audio(spec: str, *, key: Optional[str] = None,
               scp: Optional[PathLike] = None) -> Tuple[np.ndarray, int]:
    """Read a ``wav.scp`` value at its own sample rate.

    Args:
        spec: a file path, or a shell command ending in ``|`` that writes an audio file to stdout.
        key: the ``wav.scp`` key, named in errors.
        scp: the ``wav.scp`` file, named in errors.

    Returns:
        ``(wav, sample_rate)`` with ``wav`` float32 of shape [N, C].

    Raises:
        DataError: missing or unreadable file, failing command (its stderr is quoted), audio that
            cannot be decoded, has no samples, or holds NaN/Inf.
    """
    spec = spec.strip()
    if is_pipe(spec):
        source: object = io.BytesIO(_run_pipe(spec, key, scp))
        what = f"output of '{spec}'"
    else:
        path = Path(spec)
        what = f"audio file '{spec}'"
        if not path.exists():
            raise _error(f"{what} not found", key, scp, spec)
        if not path.is_file():
            raise _error(f"{what} is not a regular file", key, scp, spec)
        if not os.access(path, os.R_OK):
            raise _error(f"{what} is not readable (permission denied)", key, scp, spec)
        if path.stat().st_size == 0:
            raise _error(f"{what} is empty (0 bytes)", key, scp, spec)
        source = str(path)
    try:
        wav, sample_rate = sf.read(source, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise _error(f"cannot decode {what}: {exc}", key, scp, spec) from exc
    if wav.shape[0] == 0:
        raise _error(f"{what} has no samples", key, scp, spec)
    finite = np.isfinite(wav)
    if not finite.all():
        bad = int(np.argwhere(~finite)[0][0])
        raise _error(f"{what} holds non-finite samples (NaN or Inf), first at sample {bad}",
                     key, scp, spec)
    return wav, int(sample_rate)


def segment_to_samples(start: float, end: float, num_samples: int, sample_rate: int, *,
                       key: Optional[str] = None, path: Optional[PathLike] = None,
                       max_overshoot: float = MAX_SEGMENT_OVERSHOOT) -> Tuple[int, int]:
    """Sample range ``[first, last)`` of a segment given in seconds.

    An end up to ``max_overshoot`` seconds past the recording is cut to the recording's end (time
    stamps are often rounded); anything further, or a start past the end, is an error.
    """
    duration = num_samples / sample_rate
    where = str(path) if path is not None else None
    if not 0 <= start < end:
        raise DataError(f"segment times must satisfy 0 <= start < end, got {start} {end}",
                        path=where, key=key)
    first = int(round(start * sample_rate))
    last = int(round(end * sample_rate))
    if first >= num_samples:
        raise DataError(f"segment starts at {start} s, after the end of its recording "
                        f"({duration:.3f} s)", path=where, key=key)
    if end > duration + max_overshoot:
        raise DataError(f"segment ends at {end} s, more than {max_overshoot} s after the end of "
                        f"its recording ({duration:.3f} s)", path=where, key=key)
    last = min(last, num_samples)
    if last <= first:
        raise DataError(f"segment {start}-{end} s holds no samples at {sample_rate} Hz",
                        path=where, key=key)
    return first, last


def mix_to_mono(wav: np.ndarray) -> np.ndarray:
    """Average the channels: [N, C] -> [N] (a [N] input is returned as is)."""
    if wav.ndim == 1:
        return wav
    if wav.shape[1] == 1:
        return wav[:, 0]
    return wav.mean(axis=1, dtype=np.float32)


def resample(wav: np.ndarray, orig_sr: int, new_sr: int) -> np.ndarray:
    """Band-limited (windowed sinc) resampling of a float32 [N] signal.

    The output has ``ceil(N * new_sr / orig_sr)`` samples.
    """
    if orig_sr <= 0 or new_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {new_sr}")
    if orig_sr == new_sr:
        return wav
    # Imported here: torch is heavy and most users of this module never resample.
    import torch
    import torchaudio.functional

    out = torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(wav)),
                                         orig_sr, new_sr)
    return out.numpy().astype(np.float32, copy=False)


def load_audio(spec: str, sample_rate: Optional[int],
               segment: Optional[Tuple[float, float]] = None, *, key: Optional[str] = None,
               scp: Optional[PathLike] = None,
               max_overshoot: float = MAX_SEGMENT_OVERSHOOT) -> np.ndarray:
    """Load one utterance as the model sees it: mono, at ``sample_rate``.

    Args:
        spec: a ``wav.scp`` value (path, or command ending in ``|``).
        sample_rate: output rate; ``None`` keeps the file's rate.
        segment: ``(start, end)`` in seconds within the recording (a ``segments`` line).
        key: utterance / recording key, named in errors.
        scp: the ``wav.scp`` file, named in errors.
        max_overshoot: seconds a segment may end past the recording's end.

    Returns:
        float32 array [N].
    """
    wav, orig_sr = read_audio(spec, key=key, scp=scp)
    if segment is not None:
        first, last = segment_to_samples(segment[0], segment[1], wav.shape[0], orig_sr, key=key,
                                         path=scp if scp is not None else spec,
                                         max_overshoot=max_overshoot)
        wav = wav[first:last]
    mono = mix_to_mono(wav)
    if sample_rate is not None and sample_rate != orig_sr:
        mono = resample(mono, orig_sr, sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def save_audio(path: PathLike, wav: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> None:
    """Write audio atomically (temporary name, then rename); the format follows the suffix.

    Args:
        path: output file (``.wav``, ``.flac``, ...).
        wav: float array [N] or [N, C] in [-1, 1]; values outside are clipped for PCM subtypes
            (libsndfile would wrap them around otherwise).
        sample_rate: in Hz.
        subtype: libsndfile subtype, 16-bit PCM by default.
    """
    wav = np.asarray(wav)
    if wav.ndim not in (1, 2) or wav.shape[0] == 0:
        raise ValueError(f"{path}: audio must be a non-empty [N] or [N, C] array, "
                         f"got shape {wav.shape}")
    if not np.isfinite(wav).all():
        raise ValueError(f"{path}: audio holds non-finite samples (NaN or Inf)")
    if sample_rate <= 0:
        raise ValueError(f"{path}: sample rate must be positive, got {sample_rate}")
    if subtype.startswith("PCM"):
        wav = np.clip(wav, -1.0, 1.0)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), wav, sample_rate, subtype=subtype)


def audio_file_info(path: PathLike) -> Optional[Tuple[int, int, int]]:
    """``(sample_rate, num_samples, channels)`` of an audio file, or None if it cannot be read."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError):
        return None
    return int(info.samplerate), int(info.frames), int(info.channels)
