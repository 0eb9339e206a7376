import pytest
import torch

from sptok.quantization.codebook import EuclideanCodebook


def ema_step(codebook: EuclideanCodebook, x: torch.Tensor, weights=None) -> torch.Tensor:
    weights = torch.ones(x.shape[0]) if weights is None else weights
    codes = codebook.nearest(x)
    codebook.ema_update_(*codebook.batch_statistics(x, codes, weights))
    return codes


def test_ema_update_moves_codes_towards_their_data():
    torch.manual_seed(0)
    codebook = EuclideanCodebook(dim=2, codebook_size=2, kmeans_init=False, decay=0.9,
                                 threshold_ema_dead_code=0)
    codebook.embed.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    codebook.embed_avg.copy_(codebook.embed * codebook.cluster_size[:, None])
    target = torch.tensor([1.0, -1.0])
    distances = []
    for _ in range(60):
        x = target + 0.01 * torch.randn(32, 2)
        codes = ema_step(codebook, x)
        assert codes.eq(0).all()
        distances.append(float((codebook.embed[0] - target).norm()))
    # strictly closer at every step until the batch-mean noise floor (~0.01 / sqrt(32))
    assert all(b < a for a, b in zip(distances[:15], distances[1:15]))
    assert distances[-1] < 0.005
    # an unused code keeps its direction, it only has its count decay
    assert codebook.cluster_size[1] < 0.01


def test_batch_statistics_respect_weights():
    codebook = EuclideanCodebook(dim=2, codebook_size=3, kmeans_init=False)
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]])
    codes = torch.tensor([0, 0, 2])
    counts, sums = codebook.batch_statistics(x, codes, torch.tensor([1.0, 1.0, 0.0]))
    assert counts.tolist() == [2.0, 0.0, 0.0]
    assert sums.tolist() == [[4.0, 6.0], [0.0, 0.0], [0.0, 0.0]]


def test_ema_update_without_counted_vectors_changes_nothing():
    codebook = EuclideanCodebook(dim=3, codebook_size=4, kmeans_init=False)
    before = {k: v.clone() for k, v in codebook.state_dict().items()}
    codebook.ema_update_(torch.zeros(4), torch.zeros(4, 3))
    for key, value in codebook.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_kmeans_init_and_cache_follow_loaded_state():
    torch.manual_seed(0)
    codebook = EuclideanCodebook(dim=2, codebook_size=2, kmeans_iters=5)
    assert not codebook.initialized
    x = torch.cat([torch.zeros(5, 2), torch.ones(5, 2)])
    codebook.init_from_data_(x)
    assert codebook.initialized and codebook.inited.item() == 1.0
    assert sorted(codebook.embed.sum(1).tolist()) == [0.0, 2.0]
    assert codebook.cluster_size.tolist() == [5.0, 5.0]
    # EMA-consistent: embed == embed_avg / cluster_size
    torch.testing.assert_close(codebook.embed_avg / codebook.cluster_size[:, None], codebook.embed)
    fresh = EuclideanCodebook(dim=2, codebook_size=2)
    codebook.load_state_dict(fresh.state_dict())
    assert not codebook.initialized
    # no data on rank 0: stays uninitialised
    codebook.init_from_data_(torch.zeros(0, 2))
    assert not codebook.initialized


def test_dead_codes_replaced_by_batch_vectors_only():
    torch.manual_seed(0)
    codebook = EuclideanCodebook(dim=2, codebook_size=4, kmeans_init=False,
                                 threshold_ema_dead_code=2)
    codebook.cluster_size.copy_(torch.tensor([5.0, 1.0, 3.0, 0.5]))
    old = codebook.embed.clone()
    x = torch.tensor([[1.0, 1.0], [2.0, 2.0], [999.0, 999.0]])
    weights = torch.tensor([1.0, 1.0, 0.0])  # the last row is padding
    candidates = codebook.dead_code_candidates(x, weights)
    assert candidates.shape == (4, 3)
    codebook.replace_dead_codes_(candidates)
    assert torch.equal(codebook.embed[[0, 2]], old[[0, 2]])
    for k in (1, 3):
        assert codebook.embed[k].tolist() in ([1.0, 1.0], [2.0, 2.0])
    assert codebook.cluster_size.tolist() == [5.0, 2.0, 3.0, 2.0]
    torch.testing.assert_close(codebook.embed_avg[[1, 3]], 2 * codebook.embed[[1, 3]])
    # no counted vector in the batch: nothing is replaced
    codebook.cluster_size.fill_(0.0)
    before = codebook.embed.clone()
    codebook.replace_dead_codes_(codebook.dead_code_candidates(x, torch.zeros(3)))
    assert torch.equal(codebook.embed, before)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="decay"):
        EuclideanCodebook(2, 4, decay=1.0)
    with pytest.raises(ValueError, match="threshold_ema_dead_code"):
        EuclideanCodebook(2, 4, threshold_ema_dead_code=-1)
