"""Random number generator states: seeding, saving, restoring, and deriving seeds from keys.

Exact resume needs every random draw of a run to be a function of the config's seed and of the
position in training, never of how the run was interrupted. Two sources are kept apart:

* the model's draws (dropout, quantizer dropout, random codebook restarts) come from the global
  generators of python / numpy / torch (/ CUDA) of each rank; their states are saved in the
  checkpoint and restored on resume;
* the data's draws (random crops, augmentation) are re-seeded for every batch from
  ``derive_seed(seed, split, epoch, batch_index, rank)`` inside whichever process loads the
  batch, so they do not depend on DataLoader worker count or on when a worker was started.
"""
from __future__ import annotations

import contextlib
import random
from typing import Any, Iterator

import numpy as np
import torch

__all__ = ["derive_seed", "seed_everything", "get_rng_state", "set_rng_state", "fork_rng",
           "seeded_rng"]


def derive_seed(*keys: int) -> int:
    """A 63-bit seed that is a well-mixed function of non-negative integer ``keys``.

    numpy's SeedSequence hashes the keys, so neighbouring keys (batch 7 and batch 8) give
    unrelated streams, unlike ``seed + index``.
    """
    if any(int(k) < 0 for k in keys):
        raise ValueError(f"derive_seed: keys must be non-negative integers, got {keys}")
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # numpy's legacy seeding takes 32 bits only
    torch.manual_seed(seed)  # also seeds every CUDA device


def get_rng_state(cuda: bool = True) -> dict[str, Any]:
    """The global generator states of this process (picklable; torch states are CPU tensors).

    Args:
        cuda: include the generator of the current CUDA device (this rank's, set by the
            trainer) when CUDA is initialised.
    """
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    # numpy's state as tensors and numbers, so that torch.load(weights_only=True) reads it
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                  "has_gauss": has_gauss, "cached_gaussian": cached_gaussian},
        "torch": torch.get_rng_state(),
    }
    if cuda and torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore states from :func:`get_rng_state`; the CUDA state (of the current device) is
    restored when both the saved state and this process have one (a checkpoint may move
    between CPU and GPU)."""
    random.setstate(state["python"])
    saved = state["numpy"]
    np.random.set_state((saved["kind"], saved["keys"].numpy().astype(np.uint32), saved["pos"],
                         saved["has_gauss"], saved["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    cuda_state = state.get("cuda")
    if cuda_state is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(cuda_state)


@contextlib.contextmanager
def fork_rng(cuda: bool = False) -> Iterator[None]:
    """Run a block without changing the global generators seen after it (validation, data
    loading in the main process). CUDA states are left alone unless ``cuda``: saving them
    synchronises the device."""
    # raw states: no conversion, as this runs for every batch
    python, numpy_state, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    gpu = None
    if cuda and torch.cuda.is_available() and torch.cuda.is_initialized():
        gpu = torch.cuda.get_rng_state()
    try:
        yield
    finally:
        random.setstate(python)
        np.random.set_state(numpy_state)
        torch.set_rng_state(cpu)
        if gpu is not None:
            torch.cuda.set_rng_state(gpu)


@contextlib.contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Seed python / numpy / torch CPU generators with ``seed`` inside the block and restore
    the previous states after it."""
    with fork_rng():
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.random.default_generator.manual_seed(seed)  # CPU only: data loading
        yield
