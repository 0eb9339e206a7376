"""One Euclidean codebook learnt by exponential moving averages (EnCodec / SoundStream style).

The code vectors are not parameters: each training step assigns the input vectors to their
nearest codes and moves every code towards the mean of its vectors by an EMA of per-code counts
and sums (online k-means). The first training batch initialises the codebook by k-means; a code
whose EMA count drops below a threshold is replaced by a random vector of the batch.

Distributed training: the caller sums the per-step statistics over ranks
(:func:`sptok.quantization.distributed.all_reduce_sum_`) before :meth:`EuclideanCodebook.ema_update_`,
and broadcasts rank 0's dead-code candidates before :meth:`EuclideanCodebook.replace_dead_codes_`;
initialisation broadcasts by itself. Every rank then applies the same update to the same buffers.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sptok.quantization import distributed
from sptok.quantization.kmeans import kmeans, squared_distances
from sptok.quantization.sampling import sample_weighted_rows


class EuclideanCodebook(nn.Module):
    """A codebook of ``codebook_size`` vectors of dimension ``dim``.

    Buffers (names, shapes and meaning as in EnCodec and official SpeechTokenizer checkpoints):
        inited [1]: 1.0 once initialised (always 1.0 without k-means init).
        cluster_size [K]: EMA of the number of vectors assigned to each code per step.
        embed [K, D]: the code vectors, embed_avg / smoothed cluster_size.
        embed_avg [K, D]: EMA of the sum of the vectors assigned to each code.

    Args:
        dim: vector dimension D.
        codebook_size: number of codes K.
        kmeans_init: initialise from the first training batch by k-means (else random uniform).
        kmeans_iters: k-means iterations.
        decay: EMA decay.
        epsilon: Laplace smoothing of the counts (keeps unused codes from dividing by zero).
        threshold_ema_dead_code: codes whose EMA count is below this are replaced; 0 disables.
    """

    def __init__(self, dim: int, codebook_size: int, kmeans_init: bool = True,
                 kmeans_iters: int = 50, decay: float = 0.99, epsilon: float = 1e-5,
                 threshold_ema_dead_code: float = 2.0):
        super().__init__()
        if dim < 1 or codebook_size < 1:
            raise ValueError(f"dim and codebook_size must be >= 1, got {dim}, {codebook_size}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must lie in [0, 1), got {decay}")
        if epsilon <= 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon}")
        if kmeans_iters < 1:
            raise ValueError(f"kmeans_iters must be >= 1, got {kmeans_iters}")
        if threshold_ema_dead_code < 0:
            raise ValueError(f"threshold_ema_dead_code must be >= 0, got {threshold_ema_dead_code}")
        self.dim = dim
        self.codebook_size = codebook_size
        self.kmeans_init = kmeans_init
        self.kmeans_iters = kmeans_iters
        self.decay = decay
        self.epsilon = epsilon
        self.threshold_ema_dead_code = float(threshold_ema_dead_code)

        if kmeans_init:
            embed = torch.zeros(codebook_size, dim)
            cluster_size = torch.zeros(codebook_size)
        else:
            embed = torch.empty(codebook_size, dim)
            nn.init.kaiming_uniform_(embed)
            # A count of 1 per code keeps embed == embed_avg / cluster_size from the start, so the
            # first EMA step blends instead of dividing the random init by ~epsilon.
            cluster_size = torch.ones(codebook_size)
        self.register_buffer("inited", torch.tensor([float(not kmeans_init)]))
        self.register_buffer("cluster_size", cluster_size)
        self.register_buffer("embed", embed)
        self.register_buffer("embed_avg", embed * cluster_size[:, None])
        # Host-side copy of ``inited`` so that a training step does not sync on it.
        self._initialized_cache = not kmeans_init

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, codebook_size={self.codebook_size}, decay={self.decay}, "
                f"kmeans_init={self.kmeans_init}, threshold_ema_dead_code="
                f"{self.threshold_ema_dead_code}")

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._initialized_cache = False  # re-read ``inited`` on next use

    @property
    def initialized(self) -> bool:
        """Whether the codebook holds trained or initialised vectors (syncs once, then cached)."""
        if not self._initialized_cache:
            self._initialized_cache = bool(self.inited.item() > 0)
        return self._initialized_cache

    @torch.no_grad()
    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """Index [N] (long) of the nearest code for each vector of x [N, D]."""
        # max of the negated distances, exactly as EnCodec, so codes match on ties too.
        return (-squared_distances(x.float(), self.embed)).max(dim=-1).indices

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Code vectors [..., D] for the indices ``codes`` [...]."""
        return nn.functional.embedding(codes, self.embed)

    @torch.no_grad()
    def init_from_data_(self, samples: torch.Tensor) -> None:
        """k-means initialisation on rank 0's ``samples`` [N, D], broadcast to all ranks.

        A collective when distributed. Nothing changes if rank 0 has no samples (N == 0): the
        codebook stays uninitialised and the next batch tries again.
        """
        if distributed.rank() == 0 and samples.shape[0] > 0:
            centres, counts = kmeans(samples, self.codebook_size, self.kmeans_iters)
            self.embed.copy_(centres)
            # Sum (not mean) of each cluster, so embed == embed_avg / cluster_size holds from
            # the first EMA step on. (EnCodec copies the means here, which shrinks every code by
            # roughly its cluster count at the first update.)
            self.embed_avg.copy_(centres * counts[:, None])
            self.cluster_size.copy_(counts)
            self.inited.fill_(1.0)
        distributed.broadcast_([self.inited, self.cluster_size, self.embed, self.embed_avg])
        self._initialized_cache = False

    @torch.no_grad()
    def batch_statistics(self, x: torch.Tensor, codes: torch.Tensor, weights: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-code count [K] and vector sum [K, D] of one batch.

        Args:
            x: [N, D] vectors; codes: [N] their codes; weights: [N] 1 for vectors that count,
                0 for padding and dropped levels.
        """
        assignment = nn.functional.one_hot(codes, self.codebook_size).to(x.dtype) * weights[:, None]
        # A dense matmul rather than index_add: deterministic on GPU, so every rank computes
        # identical local sums for identical data.
        return assignment.sum(0), assignment.t() @ x

    @torch.no_grad()
    def ema_update_(self, counts: torch.Tensor, sums: torch.Tensor) -> None:
        """Move the codebook towards the batch's cluster means (in place).

        Args:
            counts: [K] and sums: [K, D] from :meth:`batch_statistics`, already summed over ranks.
                A batch with no counted vector leaves the codebook unchanged.
        """
        has_data = counts.sum() > 0
        # EnCodec's arithmetic, operation by operation (checkpoint-faithful training).
        cluster_size = (self.cluster_size * self.decay).add_(counts, alpha=1 - self.decay)
        embed_avg = (self.embed_avg * self.decay).add_(sums, alpha=1 - self.decay)
        total = cluster_size.sum()
        smoothed = ((cluster_size + self.epsilon)
                    / (total + self.codebook_size * self.epsilon) * total)
        embed = embed_avg / smoothed[:, None]
        self.cluster_size.copy_(torch.where(has_data, cluster_size, self.cluster_size))
        self.embed_avg.copy_(torch.where(has_data, embed_avg, self.embed_avg))
        self.embed.copy_(torch.where(has_data, embed, self.embed))

    @torch.no_grad()
    def dead_code_candidates(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Random replacement vectors drawn from this batch, one per code, without a device sync.

        Args:
            x: [N, D] batch vectors; weights: [N], only rows with weight > 0 are drawn.

        Returns:
            [K, D + 1]: the candidate vectors, and in the last column 1.0 if the batch had any
            counted vector (else 0.0: nothing may be replaced).
        """
        indices, found = sample_weighted_rows(weights, self.codebook_size)
        vectors = x[indices] if x.shape[0] > 0 else x.new_zeros(self.codebook_size, self.dim)
        flag = found.to(x.dtype).expand(self.codebook_size, 1)
        return torch.cat([vectors, flag], dim=1)

    @torch.no_grad()
    def replace_dead_codes_(self, candidates: torch.Tensor) -> None:
        """Replace every code whose EMA count is below the threshold by its candidate vector.

        Args:
            candidates: [K, D + 1] from :meth:`dead_code_candidates`, identical on every rank
                (broadcast from rank 0). A replaced code restarts with count = threshold, so
                that it survives while it attracts that many vectors per step.
        """
        if self.threshold_ema_dead_code <= 0:
            return
        vectors, found = candidates[:, :-1], candidates[:, -1] > 0
        dead = (self.cluster_size < self.threshold_ema_dead_code) & found
        count = torch.full_like(self.cluster_size, self.threshold_ema_dead_code)
        self.embed.copy_(torch.where(dead[:, None], vectors, self.embed))
        self.embed_avg.copy_(torch.where(dead[:, None], vectors * count[:, None], self.embed_avg))
        self.cluster_size.copy_(torch.where(dead, count, self.cluster_size))
