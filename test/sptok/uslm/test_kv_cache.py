import pytest
import torch

from sptok.uslm.kv_cache import KVCache


def test_append_returns_all_positions_and_grows():
    cache = KVCache(capacity=2)
    k1, v1 = torch.randn(2, 3, 2, 4), torch.randn(2, 3, 2, 4)
    keys, values = cache.append(k1, v1)
    assert torch.equal(keys, k1) and torch.equal(values, v1)
    k2, v2 = torch.randn(2, 3, 1, 4), torch.randn(2, 3, 1, 4)
    keys, values = cache.append(k2, v2)  # beyond the capacity: grows, keeps the old positions
    assert cache.length == 3 and cache.keys.shape[2] >= 3
    assert torch.equal(keys, torch.cat([k1, k2], dim=2))
    assert torch.equal(values, torch.cat([v1, v2], dim=2))


def test_capacity_avoids_reallocation():
    cache = KVCache(capacity=10)
    cache.append(torch.randn(1, 1, 4, 2), torch.randn(1, 1, 4, 2))
    buffer = cache.keys
    for _ in range(6):
        cache.append(torch.randn(1, 1, 1, 2), torch.randn(1, 1, 1, 2))
    assert cache.keys is buffer and cache.length == 10


def test_keep_rows():
    cache = KVCache()
    keys = torch.arange(3.0)[:, None, None, None].expand(3, 1, 2, 1).contiguous()
    cache.append(keys, keys.clone())
    cache.keep(torch.tensor([2, 0]))
    assert cache.keys[:, 0, 0, 0].tolist() == [2.0, 0.0]
    with pytest.raises(ValueError, match="holds 2 rows"):
        cache.append(torch.randn(3, 1, 1, 1), torch.randn(3, 1, 1, 1))
