"""BucketBatchSampler and SeededDataset: coverage, budgets, determinism, DDP shards."""
import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sptok.train.sampler import BatchRequest, BucketBatchSampler, SeededDataset, take_collated


def lengths_of(n: int, seed: int = 0) -> list[float]:
    return np.random.default_rng(seed).uniform(0.5, 6.0, n).round(3).tolist()


def flat(batches):
    return [i for b in batches for i in b]


@pytest.mark.parametrize("lengths", [None, lengths_of(53)])
def test_every_index_once_per_epoch(lengths):
    sampler = BucketBatchSampler(53, batch_size=4, lengths=lengths, drop_last=False, seed=3)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        got = flat(list(sampler))
        assert sorted(got) == list(range(53))
    assert len(sampler) == len(list(sampler)) == 14


def test_drop_last_drops_only_the_incomplete_batch():
    sampler = BucketBatchSampler(53, batch_size=4, drop_last=True, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 13
    assert all(len(b) == 4 for b in batches)
    assert sampler.num_dropped() == 1


def test_batch_seconds_budget_and_bucketing():
    lengths = lengths_of(200, seed=1)
    sampler = BucketBatchSampler(200, batch_size=1, lengths=lengths, batch_seconds=20.0, seed=0)
    batches = list(sampler)
    assert sorted(flat(batches)) == list(range(200))
    for batch in batches:
        padded = len(batch) * max(lengths[i] for i in batch)
        assert padded <= 20.0
    # bucketing: items of a batch have similar lengths (sorted groups), so the spread inside
    # a batch is much smaller than over the data
    spreads = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    assert np.mean(spreads) < 0.2 * (max(lengths) - min(lengths))
    # greedy: merging a batch with the next-longer one would break the budget
    sizes = {len(b) for b in batches}
    assert len(sizes) > 1  # short items make bigger batches
    rounded = [round(x) for x in lengths]  # many ties: shuffled among themselves per epoch
    tied = BucketBatchSampler(200, batch_size=1, lengths=rounded, batch_seconds=20.0, seed=0)
    for epoch in range(3):
        tied.set_epoch(epoch)
        assert len(list(tied)) == len(tied)
        assert all(len(b) * max(rounded[i] for i in b) <= 20 for b in tied)


def test_item_longer_than_the_budget_gets_its_own_batch():
    lengths = [1.0, 1.0, 30.0, 1.0]
    sampler = BucketBatchSampler(4, batch_size=1, lengths=lengths, batch_seconds=5.0)
    batches = [list(b) for b in sampler]
    assert [2] in batches
    assert sorted(flat(batches)) == [0, 1, 2, 3]


def test_same_order_for_same_seed_and_epoch_different_otherwise():
    def order(seed, epoch, lengths=None):
        s = BucketBatchSampler(40, batch_size=4, lengths=lengths, seed=seed)
        s.set_epoch(epoch)
        return [b.indices for b in s]

    assert order(0, 1) == order(0, 1)
    assert order(0, 1) != order(0, 2)
    assert order(0, 1) != order(1, 1)
    lengths = lengths_of(40)
    assert order(0, 1, lengths) == order(0, 1, lengths)
    assert order(0, 1, lengths) != order(0, 2, lengths)
    # distinct lengths: bucketed batches keep their composition, only their order changes
    assert sorted(order(0, 1, lengths)) == sorted(order(0, 2, lengths))
    # equal lengths (crops) are shuffled among themselves: compositions change, not sizes
    ties = [3.0] * 30 + [1.0] * 10
    one, two = order(0, 1, ties), order(0, 2, ties)
    assert sorted(one) != sorted(two)
    assert sorted(len(b) for b in one) == sorted(len(b) for b in two)
    assert sorted(i for b in one for i in b) == list(range(40))


def test_batch_seeds_are_per_epoch_batch_and_rank():
    s = BucketBatchSampler(16, batch_size=4, seed=0)
    seeds0 = [b.seed for b in s]
    s.set_epoch(1)
    seeds1 = [b.seed for b in s]
    assert len(set(seeds0 + seeds1)) == 8
    other_rank = BucketBatchSampler(16, batch_size=2, seed=0, num_replicas=2, rank=1)
    assert not set(b.seed for b in other_rank) & set(seeds0)


def test_resume_mid_epoch_skips_consumed_batches():
    s = BucketBatchSampler(30, batch_size=4, seed=5)
    s.set_epoch(2)
    full = list(s)
    s.set_epoch(2, start_batch=3)
    assert list(s) == full[3:]
    s.load_state_dict({"epoch": 2, "start_batch": 5})
    assert list(s) == full[5:]
    assert s.state_dict() == {"epoch": 2, "start_batch": 5}


@pytest.mark.parametrize("lengths,batch_seconds", [(None, None), (lengths_of(61), None),
                                                   (lengths_of(61), 15.0)])
@pytest.mark.parametrize("world", [2, 3])
def test_ddp_shards_disjoint_and_equal(lengths, batch_seconds, world):
    ranks = [BucketBatchSampler(61, batch_size=3, lengths=lengths, batch_seconds=batch_seconds,
                                seed=7, num_replicas=world, rank=r, drop_last=False)
             for r in range(world)]
    for epoch in (0, 1):
        for s in ranks:
            s.set_epoch(epoch)
        per_rank = [list(s) for s in ranks]
        assert len({len(p) for p in per_rank}) == 1  # same number of steps on every rank
        assert len({len(s) for s in ranks}) == 1
        for step in zip(*per_rank):
            assert len({len(b) for b in step}) == 1  # same batch size on every rank
        seen = [flat(p) for p in per_rank]
        union = set().union(*map(set, seen))
        assert sum(len(x) for x in seen) == len(union)  # disjoint
        assert 61 - len(union) < world  # at most world - 1 items left out
        assert ranks[0].num_dropped(epoch) == 61 - len(union)


def test_ddp_sharding_matches_one_process_with_the_global_batch():
    """W ranks with batch B see exactly the items of one process with batch W * B."""
    single = BucketBatchSampler(40, batch_size=8, seed=2)
    shards = [BucketBatchSampler(40, batch_size=4, seed=2, num_replicas=2, rank=r)
              for r in range(2)]
    for big, *parts in zip(single, *shards):
        assert sorted(big.indices) == sorted(flat(parts))


def test_validation_sharding_keeps_everything_without_empty_batches():
    ranks = [BucketBatchSampler(7, batch_size=2, shuffle=False, drop_last=False,
                                num_replicas=3, rank=r, even_shards=False, split="valid")
             for r in range(3)]
    seen = [flat(list(s)) for s in ranks]
    assert sorted(flat(seen)) == list(range(7))
    assert all(len(b) > 0 for s in ranks for b in s)


def test_bad_arguments():
    with pytest.raises(ValueError, match="item_length"):
        BucketBatchSampler(10, 2, batch_seconds=3.0)
    with pytest.raises(ValueError, match="too small"):
        BucketBatchSampler(3, 4, drop_last=True)
    with pytest.raises(ValueError, match="empty"):
        BucketBatchSampler(0, 4)
    with pytest.raises(ValueError, match="lengths"):
        BucketBatchSampler(4, 2, lengths=[1.0, 2.0])


class NoisyItems(torch.utils.data.Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        return {"x": torch.rand(3) + i, "n": float(np.random.rand()), "r": random.random()}


def collate_with_noise(items):
    return {"x": torch.stack([it["x"] for it in items]) + torch.randn(()),
            "n": torch.tensor([it["n"] for it in items]),
            "r": torch.tensor([it["r"] for it in items])}


@pytest.mark.parametrize("workers", [0, 1])
def test_seeded_loading_is_reproducible_and_leaves_global_rng_alone(workers):
    sampler = BucketBatchSampler(12, batch_size=4, seed=9)
    loader = DataLoader(SeededDataset(NoisyItems(), collate_with_noise), batch_sampler=sampler,
                        collate_fn=take_collated, num_workers=workers,
                        generator=torch.Generator().manual_seed(0))
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = list(loader)
    if workers == 0:
        assert torch.equal(before, torch.get_rng_state())
    torch.manual_seed(456)  # another global state: same batches
    second = list(loader)
    for a, b in zip(first, second):
        for key in a:
            assert torch.equal(a[key], b[key])
    # a batch is the same whether loaded from the start of the epoch or after a resume
    sampler.set_epoch(0, start_batch=2)
    resumed = list(loader)
    assert torch.equal(resumed[0]["x"], first[2]["x"])


def test_seeded_dataset_needs_batch_requests():
    ds = SeededDataset(NoisyItems(), collate_with_noise)
    with pytest.raises(TypeError, match="BatchRequest"):
        ds.__getitems__([0, 1])
    assert len(BatchRequest((1, 2), 0)) == 2
