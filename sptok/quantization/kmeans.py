"""Plain k-means (Lloyd's algorithm) for codebook initialisation."""
from __future__ import annotations

import torch

from sptok.quantization.sampling import sample_vectors


def squared_distances(samples: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances [N, K] between samples [N, D] and centres [K, D].

    Expanded as |x|^2 - 2 x.c + |c|^2 (one matmul, O(N K) memory) in EnCodec's order of
    operations, so nearest-code decisions match the reference implementation bit for bit.
    """
    return (samples.pow(2).sum(1, keepdim=True) - 2 * samples @ centres.t()
            + centres.pow(2).sum(1)[None, :])


@torch.no_grad()
def kmeans(samples: torch.Tensor, num_clusters: int, num_iters: int = 50
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster ``samples`` [N, D] into ``num_clusters`` centres.

    Centres start at randomly chosen samples; a cluster that loses all its samples keeps its
    previous centre (EnCodec's rule).

    Returns:
        centres [K, D] and counts [K] (float): the number of samples assigned to each centre by
        the last assignment step.
    """
    if samples.dim() != 2:
        raise ValueError(f"kmeans: samples must be [N, D], got shape {list(samples.shape)}")
    if num_iters < 1:
        raise ValueError(f"kmeans: num_iters must be >= 1, got {num_iters}")
    samples = samples.float()
    centres = sample_vectors(samples, num_clusters)
    counts = torch.zeros(num_clusters, device=samples.device)
    for _ in range(num_iters):
        assignment = squared_distances(samples, centres).argmin(dim=-1)
        counts = torch.bincount(assignment, minlength=num_clusters).to(samples.dtype)
        sums = torch.zeros_like(centres).index_add_(0, assignment, samples)
        empty = counts == 0
        new_centres = sums / counts.clamp_min(1)[:, None]
        centres = torch.where(empty[:, None], centres, new_centres)
    return centres, counts
