"""Batch sampler: fixed-size or dynamic (total length) batches, bucketed by length, sharded
across DDP ranks, deterministic per (seed, epoch) and resumable at any batch.

Batches are formed globally, for all ranks together, and each global batch is dealt out to the
ranks (rank ``r`` takes items ``r, r + W, r + 2W, ...``). So

* every rank runs the same number of steps per epoch (DDP needs that), with shards that are
  disjoint and differ in size by at most one item (training: equal sizes);
* without bucketing, W ranks with ``batch_size`` B see exactly the items that one process with
  batch size W * B would see (the sharding of torch's DistributedSampler);
* with bucketing, the ranks of one step get items of similar length, so no rank waits for a
  rank with longer items.

With item lengths the items are sorted by length and cut into batches (ESPnet's sorted
batches); each epoch breaks ties between equal lengths at random and shuffles the order of the
batches, so the number and sizes of batches stay the same in every epoch. Without lengths
each epoch shuffles the items and cuts the permutation into batches. Either way the batches of
an epoch are a function of (seed, epoch) alone, so a checkpoint only stores the epoch and the
number of batches already consumed (:meth:`BucketBatchSampler.set_epoch`).

Each batch comes as a :class:`BatchRequest` carrying a seed derived from (seed, epoch, batch
index, rank); :class:`SeededDataset` re-seeds the random generators with it before loading the
batch, so random crops are reproducible whichever DataLoader worker loads them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np
from torch.utils.data import Dataset, Sampler

from sptok.train.rng import derive_seed, seeded_rng

__all__ = ["BatchRequest", "BucketBatchSampler", "SeededDataset", "take_collated", "SPLIT_KEYS"]

# Integer keys for the data streams of each split in derive_seed.
SPLIT_KEYS = {"train": 0, "valid": 1}


@dataclass(frozen=True)
class BatchRequest:
    """The indices of one batch of this rank and the seed for its random draws."""

    indices: tuple[int, ...]
    seed: int

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)


class SeededDataset(Dataset):
    """Wraps a map-style dataset so that each batch is loaded *and collated* with python /
    numpy / torch CPU generators seeded by its :class:`BatchRequest`'s seed, restoring them
    afterwards (loading in the main process leaves the model's random stream untouched).

    torch's DataLoader hands a batch sampler's item unchanged to ``dataset.__getitems__`` and
    then applies its own ``collate_fn`` outside; collating here instead puts random crops
    done at collation time under the batch seed too. Use it with
    ``DataLoader(SeededDataset(ds, collate), batch_sampler=..., collate_fn=take_collated)``.
    """

    def __init__(self, dataset: Dataset, collate_fn: Callable[[list[Any]], Any]):
        self.dataset = dataset
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]

    def __getitems__(self, request: BatchRequest) -> list[Any]:
        if not isinstance(request, BatchRequest):
            raise TypeError(f"SeededDataset expects BatchRequest batches (from "
                            f"BucketBatchSampler), got {type(request).__name__}")
        with seeded_rng(request.seed):
            return [self.collate_fn([self.dataset[i] for i in request.indices])]


def take_collated(data: list[Any]) -> Any:
    """The DataLoader ``collate_fn`` that goes with :class:`SeededDataset`: the batch is
    already collated."""
    return data[0]


def _deal(global_batch: Sequence[int], num_replicas: int, rank: int) -> list[int]:
    return list(global_batch[rank::num_replicas])


class BucketBatchSampler(Sampler[BatchRequest]):
    """Yields this rank's batches of one epoch, as :class:`BatchRequest` s.

    Args:
        num_items: size of the dataset.
        batch_size: items per batch and rank (with ``batch_seconds``: ignored).
        lengths: length of each item (seconds, frames: any unit); enables bucketing.
        batch_seconds: dynamic batching: the padded size of a batch, ``items * longest item``,
            stays within this per rank (in the unit of ``lengths``); an item longer than the
            budget gets a batch of its own. Needs ``lengths``.
        shuffle: shuffle items (no lengths), or batches and equal-length items (lengths),
            each epoch; False keeps the dataset / length order (validation).
        drop_last: drop a last global batch with fewer than ``num_replicas * batch_size``
            items. Whatever it says, a global batch is cut to a multiple of ``num_replicas``
            items when ``even_shards`` (at most ``num_replicas - 1`` items per epoch are left
            out, reported in the log).
        seed: base seed of the shuffles and of the per-batch data seeds.
        num_replicas, rank: DDP world size and this process's rank.
        even_shards: every rank gets the same number of items per batch (training, where a
            rank without a batch would hang DDP); False lets the last batches be uneven or
            empty for some ranks (validation, which has no collectives per batch; empty
            batches are skipped).
        split: "train" or "valid": separates the data seeds of the two splits.
    """

    def __init__(self, num_items: int, batch_size: int, lengths: Optional[Sequence[float]] = None,
                 batch_seconds: Optional[float] = None, shuffle: bool = True,
                 drop_last: bool = False, seed: int = 0, num_replicas: int = 1, rank: int = 0,
                 even_shards: bool = True, split: str = "train"):
        if num_items <= 0:
            raise ValueError(f"BucketBatchSampler: the {split} dataset is empty")
        if batch_seconds is None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if batch_seconds is not None:
            if lengths is None:
                raise ValueError("batch_seconds (dynamic batching) needs item lengths: the task "
                                 "must implement item_length()")
            if batch_seconds <= 0:
                raise ValueError(f"batch_seconds must be positive, got {batch_seconds}")
        if lengths is not None and len(lengths) != num_items:
            raise ValueError(f"{len(lengths)} item lengths for {num_items} items")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        if split not in SPLIT_KEYS:
            raise ValueError(f"split must be one of {list(SPLIT_KEYS)}, got {split!r}")
        self.num_items = num_items
        self.batch_size = batch_size
        self.lengths = None if lengths is None else np.asarray(lengths, dtype=np.float64)
        self.batch_seconds = batch_seconds
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.even_shards = even_shards
        self.split = split
        self.epoch = 0
        self.start_batch = 0
        # Batches of the length-sorted items (ties by index): validation order, batch count.
        self._sorted_batches: Optional[list[list[int]]] = None
        if self.lengths is not None:
            self._sorted_batches = self._cut(np.argsort(self.lengths, kind="stable").tolist())
            if not self._sorted_batches:
                raise ValueError(self._too_small_message())
        elif len(self) == 0:
            raise ValueError(self._too_small_message())

    def _too_small_message(self) -> str:
        return (f"the {self.split} set ({self.num_items} items) is too small for one batch of "
                f"{self.batch_size} items on each of {self.num_replicas} ranks (drop_last="
                f"{self.drop_last})")

    def _cut(self, order: list[int]) -> list[list[int]]:
        """Global batches from items in ``order``."""
        if self.batch_seconds is not None:
            batches = self._cut_by_length(order)
        else:
            size = self.batch_size * self.num_replicas
            batches = [order[i:i + size] for i in range(0, len(order), size)]
            if self.drop_last and batches and len(batches[-1]) < size:
                batches.pop()
        if self.even_shards:
            batches = [b[:len(b) - len(b) % self.num_replicas] for b in batches]
            batches = [b for b in batches if b]
        return batches

    def _cut_by_length(self, order: list[int]) -> list[list[int]]:
        # Grow a batch one group of W items at a time (one item per rank) while every rank's
        # padded size, items * longest item, stays within the budget.
        assert self.lengths is not None and self.batch_seconds is not None
        step = self.num_replicas if self.even_shards else 1
        batches: list[list[int]] = []
        current: list[int] = []
        longest = 0.0
        for start in range(0, len(order), step):
            group = order[start:start + step]
            group_longest = max(float(self.lengths[i]) for i in group)
            new_longest = max(longest, group_longest)
            per_rank = math.ceil((len(current) + len(group)) / self.num_replicas)
            if current and per_rank * new_longest > self.batch_seconds:
                batches.append(current)
                current, new_longest = [], group_longest
            current.extend(group)
            longest = new_longest
        if current:
            batches.append(current)
        return batches

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch to iterate and skip its first ``start_batch`` batches (resume)."""
        if epoch < 0 or start_batch < 0:
            raise ValueError(f"set_epoch: epoch ({epoch}) and start_batch ({start_batch}) must "
                             "be non-negative")
        self.epoch = epoch
        self.start_batch = start_batch

    def global_batches(self, epoch: int) -> list[list[int]]:
        """All ranks' batches of ``epoch``, in iteration order."""
        rng = np.random.default_rng([self.seed, SPLIT_KEYS[self.split], epoch])
        if self._sorted_batches is not None:
            if not self.shuffle:
                return self._sorted_batches
            # Items of equal length (e.g. all cropped to the same duration) are ordered at
            # random, so they meet other items in each epoch; the cut depends only on the
            # sorted sequence of lengths, so every epoch has the same number and sizes of batches.
            assert self.lengths is not None
            order = np.lexsort((rng.random(self.num_items), self.lengths)).tolist()
            batches = self._cut(order)
            return [batches[i] for i in rng.permutation(len(batches))]
        order = rng.permutation(self.num_items).tolist() if self.shuffle else list(
            range(self.num_items))
        return self._cut(order)

    def batches(self, epoch: int) -> list[list[int]]:
        """This rank's batches of ``epoch`` (empty ones included when not ``even_shards``)."""
        return [_deal(b, self.num_replicas, self.rank) for b in self.global_batches(epoch)]

    def num_dropped(self, epoch: int = 0) -> int:
        """Items of the dataset that no rank sees in ``epoch``."""
        return self.num_items - sum(len(b) for b in self.global_batches(epoch))

    def __len__(self) -> int:
        """Batches per epoch (the same on every rank), before skipping ``start_batch``."""
        if self._sorted_batches is not None:
            return len(self._sorted_batches)
        size = self.batch_size * self.num_replicas
        full, rest = divmod(self.num_items, size)
        if self.even_shards:
            rest -= rest % self.num_replicas
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[BatchRequest]:
        epoch, start = self.epoch, self.start_batch
        for index, batch in enumerate(self.batches(epoch)):
            if index < start or not batch:
                continue
            seed = derive_seed(self.seed, SPLIT_KEYS[self.split], epoch, index, self.rank)
            yield BatchRequest(tuple(batch), seed)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "start_batch": self.start_batch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.set_epoch(int(state["epoch"]), int(state["start_batch"]))

