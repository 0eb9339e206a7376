"""HuBERT's first-iteration targets: k-means clusters of MFCC + delta + delta-delta frames.

The MFCC frames use a 25 ms window every 20 ms without edge padding (Kaldi ``snip_edges``), so
frame ``t`` covers samples ``[320 t, 320 t + 400)``: exactly the receptive field of the conv
feature extractor's frame ``t``. The targets are therefore aligned 1:1 with the model's 50 Hz
frames, with the same count ``floor((N - 400) / 320) + 1``. (fairseq computes MFCCs at 100 Hz and
takes every other label; this keeps one code path at 50 Hz.)

k-means runs on globally standardised features (zero mean, unit variance per dimension) so that
c0's large scale does not dominate the distances.
"""
from __future__ import annotations

import logging
from typing import Dict, Optional

import torch
import torchaudio
from torch import Tensor

_LG = logging.getLogger(__name__)

FRAME_LENGTH_MS = 25.0
FRAME_SHIFT_MS = 20.0
NUM_CEPS = 13


def mfcc_frames(wav: Tensor, sample_rate: int = 16000) -> Tensor:
    """MFCC + deltas + delta-deltas of one waveform.

    Args:
        wav: [N] float waveform in [-1, 1], N >= 400.
    Returns:
        [T, 39] float32, T = floor((N - 400) / 320) + 1.
    """
    if wav.ndim != 1:
        raise ValueError(f"wav must be 1-D [N], got shape {tuple(wav.shape)}")
    mfcc = torchaudio.compliance.kaldi.mfcc(
        wav.float().unsqueeze(0), sample_frequency=sample_rate, frame_length=FRAME_LENGTH_MS,
        frame_shift=FRAME_SHIFT_MS, num_ceps=NUM_CEPS, use_energy=False, snip_edges=True, dither=0.0)
    ceps = mfcc.transpose(0, 1)  # [13, T]
    delta = torchaudio.functional.compute_deltas(ceps)
    delta2 = torchaudio.functional.compute_deltas(delta)
    return torch.cat([ceps, delta, delta2], dim=0).transpose(0, 1).contiguous()


def _sq_distances(x: Tensor, centroids: Tensor) -> Tensor:
    """[M, K] squared Euclidean distances."""
    return (x.pow(2).sum(1, keepdim=True) - 2.0 * x @ centroids.T + centroids.pow(2).sum(1)[None, :]).clamp(min=0)


class KMeans:
    """Euclidean k-means on standardised features, fitted in torch (k-means++ init, Lloyd steps).

    Attributes:
        centroids: [K, D] in the standardised space.
        mean, std: [D] standardisation statistics.
    """

    def __init__(self, centroids: Tensor, mean: Tensor, std: Tensor):
        self.centroids = centroids.float()
        self.mean = mean.float()
        self.std = std.float()

    @property
    def num_clusters(self) -> int:
        return self.centroids.shape[0]

    @classmethod
    def fit(cls, feats: Tensor, num_clusters: int, num_iters: int = 30, seed: int = 0,
            max_frames: Optional[int] = 200_000, chunk: int = 65536) -> "KMeans":
        """Fit on ``feats`` [M, D] (a random subset of ``max_frames`` rows if larger).

        Empty clusters are re-seeded with the points farthest from their centroids.
        """
        if feats.ndim != 2 or feats.shape[0] < num_clusters:
            raise ValueError(f"k-means needs at least {num_clusters} frames [M, D], got shape "
                             f"{tuple(feats.shape)}")
        gen = torch.Generator().manual_seed(seed)
        if max_frames is not None and feats.shape[0] > max_frames:
            feats = feats[torch.randperm(feats.shape[0], generator=gen)[:max_frames]]
        mean = feats.mean(0)
        std = feats.std(0).clamp(min=1e-5)
        x = (feats - mean) / std
        centroids = cls._init_plus_plus(x, num_clusters, gen)
        inertia = float("inf")
        for it in range(num_iters):
            labels, dist = cls._assign(x, centroids, chunk)
            inertia = float(dist.mean())
            sums = torch.zeros_like(centroids).index_add_(0, labels, x)
            counts = torch.bincount(labels, minlength=num_clusters).to(x.dtype)
            empty = (counts == 0).nonzero().flatten()
            centroids = sums / counts.clamp(min=1)[:, None]
            if len(empty):
                far = dist.topk(len(empty)).indices
                centroids[empty] = x[far]
            _LG.debug("k-means iteration %d: mean squared distance %.4f, %d empty", it, inertia, len(empty))
        _LG.info("k-means: %d clusters on %d frames, mean squared distance %.4f", num_clusters, x.shape[0], inertia)
        return cls(centroids, mean, std)

    @staticmethod
    def _init_plus_plus(x: Tensor, k: int, gen: torch.Generator, sample: int = 20000) -> Tensor:
        # k-means++ on a subsample: the seeding cost is O(k * sample) instead of O(k * M).
        if x.shape[0] > sample:
            x = x[torch.randperm(x.shape[0], generator=gen)[:sample]]
        first = int(torch.randint(x.shape[0], (1,), generator=gen))
        centroids = [x[first]]
        closest = (x - x[first]).pow(2).sum(1)
        for _ in range(1, k):
            probs = closest / closest.sum() if float(closest.sum()) > 0 else torch.full_like(closest, 1 / len(closest))
            idx = int(torch.multinomial(probs, 1, generator=gen))
            centroids.append(x[idx])
            closest = torch.minimum(closest, (x - x[idx]).pow(2).sum(1))
        return torch.stack(centroids)

    @staticmethod
    def _assign(x: Tensor, centroids: Tensor, chunk: int = 65536):
        labels, dists = [], []
        for start in range(0, x.shape[0], chunk):
            d = _sq_distances(x[start:start + chunk], centroids)
            dist, label = d.min(1)
            labels.append(label)
            dists.append(dist)
        return torch.cat(labels), torch.cat(dists)

    def predict(self, feats: Tensor) -> Tensor:
        """Cluster ids [M] (int64) of raw (unstandardised) features [M, D]."""
        x = (feats.float() - self.mean) / self.std
        return self._assign(x, self.centroids)[0]

    def state_dict(self) -> Dict[str, Tensor]:
        return {"centroids": self.centroids, "mean": self.mean, "std": self.std}

    @classmethod
    def from_state_dict(cls, state: Dict[str, Tensor]) -> "KMeans":
        return cls(state["centroids"], state["mean"], state["std"])
