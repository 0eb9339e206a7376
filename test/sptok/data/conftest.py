"""Fixtures for the data-layer tests: small audio files and Kaldi data directories."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf


def _tone(seconds: float, sample_rate: int, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    """A quiet sine [N] or [N, C] (channels at different amplitudes)."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    mono = 0.3 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    if channels == 1:
        return mono
    return np.stack([mono * (c + 1) / channels for c in range(channels)], axis=1)


@pytest.fixture
def tone() -> Callable[..., np.ndarray]:
    """The signal :func:`write_wav` writes."""
    return _tone


@pytest.fixture
def write_wav(tmp_path: Path) -> Callable[..., Path]:
    def _write(name: str, seconds: float = 0.5, sample_rate: int = 16000, channels: int = 1,
               subtype: str = "PCM_16") -> Path:
        path = tmp_path / "audio" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), _tone(seconds, sample_rate, channels), sample_rate, subtype=subtype)
        return path
    return _write


def write_table(path: Path, lines) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def make_data_dir(tmp_path: Path, write_wav) -> Callable[..., Path]:
    """A valid data dir: speakers A and B; utterances A-1, A-2, B-1 of 0.5, 0.25, 0.5 s, 16 kHz."""
    def _make(name: str = "data", with_segments: bool = False,
              num_samples: bool = True, prefix: str = "") -> Path:
        d = tmp_path / name
        d.mkdir(parents=True)
        utts = {f"{prefix}A-1": 0.5, f"{prefix}A-2": 0.25, f"{prefix}B-1": 0.5}
        spk = {u: u[len(prefix)] for u in utts}
        if with_segments:
            rec = write_wav(f"{name}-rec.wav", seconds=2.0)
            write_table(d / "wav.scp", [f"{prefix}rec1 {rec}"])
            starts = {u: 0.5 * i for i, u in enumerate(utts)}
            write_table(d / "segments", [f"{u} {prefix}rec1 {starts[u]:.2f} "
                                         f"{starts[u] + dur:.2f}" for u, dur in utts.items()])
        else:
            paths = {u: write_wav(f"{name}-{u}.wav", seconds=dur) for u, dur in utts.items()}
            write_table(d / "wav.scp", [f"{u} {p}" for u, p in paths.items()])
            if num_samples:
                write_table(d / "utt2num_samples", [f"{u} {int(dur * 16000)}"
                                                    for u, dur in utts.items()])
        write_table(d / "text", [f"{u} HELLO WORLD {i}" for i, u in enumerate(utts)])
        write_table(d / "utt2spk", [f"{u} {spk[u]}" for u in utts])
        write_table(d / "spk2utt", [f"A {prefix}A-1 {prefix}A-2", f"B {prefix}B-1"])
        return d
    return _make
