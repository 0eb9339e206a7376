"""The few collectives the quantizer needs, as no-ops when torch.distributed is not in use.

Codebooks are buffers updated outside autograd, so DDP's gradient all-reduce never touches them:
the quantizer keeps them identical on every rank itself, by broadcasting what rank 0 decides
(k-means init, dead-code replacement) and by summing EMA statistics over ranks before the update.
Every function here is a collective when distributed: all ranks must call it in the same order
with tensors of the same shapes.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True when a process group with more than one rank is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of ranks (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def _flatten(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    # One collective for many tensors: fewer launches and, on GPU, fewer stream syncs.
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) != 1:
        raise ValueError(f"coalesced collectives need one dtype, got {sorted(map(str, dtypes))}")
    return torch.cat([t.reshape(-1) for t in tensors])


def _unflatten_into(flat: torch.Tensor, tensors: Sequence[torch.Tensor]) -> None:
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset:offset + n].view_as(t))
        offset += n


@torch.no_grad()
def all_reduce_sum_(tensors: Sequence[torch.Tensor]) -> None:
    """Replace each tensor by its sum over ranks (in place, one collective for all of them)."""
    tensors = list(tensors)
    if not is_distributed() or not tensors:
        return
    flat = _flatten(tensors)
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    _unflatten_into(flat, tensors)


@torch.no_grad()
def broadcast_(tensors: Sequence[torch.Tensor], src: int = 0) -> None:
    """Overwrite each tensor with rank ``src``'s copy (in place, one collective for all of them)."""
    tensors = list(tensors)
    if not is_distributed() or not tensors:
        return
    flat = _flatten(tensors)
    dist.broadcast(flat, src=src)
    _unflatten_into(flat, tensors)
