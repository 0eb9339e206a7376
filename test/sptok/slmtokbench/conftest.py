"""Toy token streams for the text-alignment tests: unit ids that spell their transcript."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Dict, Tuple

import numpy as np
import pytest
import torch

from sptok.data.ark import CodesWriter
from sptok.data.kaldi_dir import write_kv_file

TOY_LETTERS = "abcde"
#: unit ids: 0 filler, 1..5 the letters, 6 the word break
TOY_VOCAB = len(TOY_LETTERS) + 2


def random_transcript(rng: np.random.Generator) -> str:
    words = ["".join(rng.choice(list(TOY_LETTERS), size=rng.integers(1, 5)))
             for _ in range(rng.integers(1, 4))]
    return " ".join(words)


def spell(text: str, rng: np.random.Generator) -> np.ndarray:
    """Unit ids [T] spelling ``text``: each symbol 1-2 frames, filler frames in between (always
    between equal neighbours, as CTC needs)."""
    ids = []
    previous = None
    for char in text:
        unit = TOY_VOCAB - 1 if char == " " else TOY_LETTERS.index(char) + 1
        if previous == unit or rng.random() < 0.3:
            ids.append(0)
        ids.extend([unit] * int(rng.integers(1, 3)))
        previous = unit
    return np.array(ids + [0], dtype=np.int64)


def make_toy_set(root: Path, name: str, n: int, seed: int, dependent: bool = True
                 ) -> Tuple[Path, Path, Dict[str, str]]:
    """Write ``root/name/units.{ark,scp}`` ([T, 1] code matrices) and ``root/name/text``.

    dependent=False: the units spell another random transcript than the one in ``text``
    (tokens and text independent)."""
    rng = np.random.default_rng(seed)
    texts = {}
    folder = root / name
    with CodesWriter(folder / "units.ark", folder / "units.scp", TOY_VOCAB) as writer:
        for k in range(n):
            key = f"{name}_{k:04d}"
            text = random_transcript(rng)
            spelled = text if dependent else random_transcript(rng)
            units = spell(spelled, rng)
            if not dependent:  # long enough for any transcript of the other utterances
                units = np.concatenate([units, np.zeros(16, dtype=np.int64)])
            writer[key] = units[:, None]
            texts[key] = text.upper()  # LibriSpeech-style upper case; the vocab lower-cases
    write_kv_file(folder / "text", texts)
    return folder / "units.scp", folder / "text", texts


@pytest.fixture
def toy():
    """The toy-data helpers (test modules cannot import conftest under importlib mode)."""
    return SimpleNamespace(make=make_toy_set, vocab_size=TOY_VOCAB, spell=spell)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny LSTMs run fastest on one thread (and the test machines are shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
