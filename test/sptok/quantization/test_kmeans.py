import torch

from sptok.quantization.kmeans import kmeans, squared_distances
from sptok.quantization.sampling import sample_vectors, sample_weighted_rows


def toy_mixture(n_per_cluster: int = 100, noise: float = 0.05, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0, 3.0], [3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [3.0, 3.0, 3.0]])
    samples = centres.repeat_interleave(n_per_cluster, 0)
    samples = samples + noise * torch.randn(samples.shape, generator=generator)
    return centres, samples[torch.randperm(samples.shape[0], generator=generator)]


def test_squared_distances_match_direct_formula():
    torch.manual_seed(0)
    a, b = torch.randn(7, 5), torch.randn(3, 5)
    direct = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    torch.testing.assert_close(squared_distances(a, b), direct, rtol=1e-5, atol=1e-5)


def test_kmeans_finds_mixture_centres():
    centres, samples = toy_mixture()
    torch.manual_seed(0)
    found, counts = kmeans(samples, 4, num_iters=20)
    # every true centre has exactly one found centre next to it, holding its 100 samples
    distance = squared_distances(centres, found).sqrt()
    nearest = distance.argmin(dim=1)
    assert sorted(nearest.tolist()) == [0, 1, 2, 3]
    assert distance.min(dim=1).values.max() < 0.05
    assert counts[nearest].tolist() == [100.0] * 4


def test_sample_vectors_distinct_when_enough():
    torch.manual_seed(0)
    samples = torch.arange(10.0)[:, None]
    picked = sample_vectors(samples, 6)
    assert picked.shape == (6, 1) and len(set(picked[:, 0].tolist())) == 6
    assert sample_vectors(samples[:2], 5).shape == (5, 1)


def test_sample_weighted_rows_only_positive_rows():
    torch.manual_seed(0)
    weights = torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    indices, found = sample_weighted_rows(weights, 4)
    assert bool(found)
    assert len(set(indices.tolist())) == 4  # distinct: 5 positive rows for 4 picks
    assert all(weights[i] > 0 for i in indices.tolist())
    # more picks than positive rows: every positive row once, then repeats of positive rows
    indices, found = sample_weighted_rows(weights, 12)
    assert set(indices.tolist()) == {1, 3, 4, 6, 7}
    assert indices.shape == (12,)


def test_sample_weighted_rows_reports_no_data():
    _, found = sample_weighted_rows(torch.zeros(5), 3)
    assert not bool(found)
    indices, found = sample_weighted_rows(torch.zeros(0), 3)
    assert not bool(found) and indices.shape == (3,)
