"""Process group set-up from torchrun's environment, and the few collectives the trainer uses.

One process by default. Launched by ``torchrun`` (single node ``--nproc_per_node N``, or several
nodes with a c10d rendezvous) the environment holds RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR
and MASTER_PORT, and :func:`setup_distributed` joins the group with ``init_method="env://"``:
NCCL when training on CUDA, gloo on CPU.
"""
from __future__ import annotations

import inspect
import logging
import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import torch
import torch.distributed as dist

__all__ = ["DistributedInfo", "distributed_info", "select_device", "setup_distributed",
           "cleanup_distributed", "barrier", "all_gather_objects", "broadcast_object",
           "reduce_weighted_sums", "is_initialized", "world_rank", "unwrap", "maybe_ddp"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedInfo:
    """Where this process stands in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def distributed_info() -> DistributedInfo:
    """Rank, world size and local rank from torchrun's environment (defaults: one process)."""
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", rank if world_size > 1 else 0)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"RANK={rank} / WORLD_SIZE={world_size} from the environment are "
                         "inconsistent")
    return DistributedInfo(rank=rank, world_size=world_size, local_rank=local_rank)


def select_device(choice: str, info: DistributedInfo) -> torch.device:
    """The device of this process: ``cuda:LOCAL_RANK`` for ``cuda`` (and for ``auto`` when
    CUDA is available), else CPU."""
    if choice not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device: expected auto, cpu or cuda, got {choice!r}")
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("device: cuda was asked for but CUDA is not available")
    count = torch.cuda.device_count()
    if info.local_rank >= count:
        raise ValueError(f"LOCAL_RANK {info.local_rank} but only {count} CUDA devices are "
                         "visible: start at most one process per GPU")
    torch.cuda.set_device(info.local_rank)
    return torch.device("cuda", info.local_rank)


def setup_distributed(info: DistributedInfo, device: torch.device) -> None:
    """Join the process group when WORLD_SIZE > 1 (no-op otherwise, or if already joined)."""
    if not info.enabled or (dist.is_available() and dist.is_initialized()):
        return
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs: dict[str, Any] = {}
    if device.type == "cuda":
        kwargs["device_id"] = device  # lets NCCL bind the communicator to this GPU eagerly
    dist.init_process_group(backend=backend, init_method="env://", rank=info.rank,
                            world_size=info.world_size, **kwargs)
    logger.info("joined process group: rank %d of %d (local rank %d), backend %s",
                info.rank, info.world_size, info.local_rank, backend)


def cleanup_distributed() -> None:
    """Leave the process group if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    if _active():
        dist.barrier()


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (``[obj]`` when not distributed)."""
    if not _active():
        return [obj]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not _active():
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def reduce_weighted_sums(sums: Mapping[str, float],
                         weights: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """Sum ``sums`` and ``weights`` (per stat name) over ranks. Ranks may report different
    stat names (a loss only some batches have): objects are gathered, not tensors, so names
    need not match and no rank can hang on a tensor of another shape."""
    total_sums: dict[str, float] = {}
    total_weights: dict[str, float] = {}
    for rank_sums, rank_weights in all_gather_objects((dict(sums), dict(weights))):
        for key, value in rank_sums.items():
            total_sums[key] = total_sums.get(key, 0.0) + value
            total_weights[key] = total_weights.get(key, 0.0) + rank_weights[key]
    return total_sums, total_weights


def is_initialized() -> bool:
    """True when this process belongs to a process group with more than one rank."""
    return _active()


def world_rank() -> tuple[int, int]:
    """(rank, world size) of the joined process group, (0, 1) without one."""
    if not _active():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DistributedDataParallel wrapper (or the module itself)."""
    return getattr(module, "module", module) if isinstance(
        module, torch.nn.parallel.DistributedDataParallel) else module


def maybe_ddp(module: Optional[torch.nn.Module], info: DistributedInfo, device: torch.device,
              broadcast_buffers: bool, find_unused_parameters: bool
              ) -> Optional[torch.nn.Module]:
    """``module`` wrapped in DistributedDataParallel when distributed and it has trainable
    parameters; otherwise ``module`` itself."""
    if module is None or not info.enabled:
        return module
    if not any(p.requires_grad for p in module.parameters()):
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    ddp = torch.nn.parallel.DistributedDataParallel
    # Newer torch renamed the option; parameters and buffers are synchronised from rank 0 at
    # construction either way (every rank built or loaded the same model anyway).
    if "forward_sync_buffers" in inspect.signature(ddp.__init__).parameters:
        buffers = {"forward_sync_buffers": broadcast_buffers}
    else:
        buffers = {"broadcast_buffers": broadcast_buffers}
    return ddp(module, device_ids=device_ids, find_unused_parameters=find_unused_parameters,
               **buffers)
