"""Random choice of data vectors, used to seed k-means and to revive dead codes."""
from __future__ import annotations

import torch


def sample_vectors(samples: torch.Tensor, num: int) -> torch.Tensor:
    """``num`` rows of ``samples`` [N, D], distinct when N >= num (EnCodec's rule and RNG calls).

    Returns:
        [num, D].
    """
    n = samples.shape[0]
    if n == 0:
        raise ValueError("sample_vectors: no vectors to sample from")
    if n >= num:
        indices = torch.randperm(n, device=samples.device)[:num]
    else:
        indices = torch.randint(0, n, (num,), device=samples.device)
    return samples[indices]


def sample_weighted_rows(weights: torch.Tensor, num: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick ``num`` row indices among the rows with positive weight, without a host-device sync.

    Rows are distinct while there are at least ``num`` positive rows; the remaining picks repeat
    positive rows at random. Shapes never depend on the data, so this runs inside a training step
    on GPU without stalling it (Mimi's advice for dead-code replacement).

    Args:
        weights: [N] non-negative; rows with weight 0 (padding, dropped levels) are never picked.
        num: number of picks.

    Returns:
        indices [num] (long) and found [] (bool scalar tensor): False when no row has positive
        weight, in which case ``indices`` are meaningless.
    """
    n = weights.shape[0]
    device = weights.device
    if n == 0:
        return torch.zeros(num, dtype=torch.long, device=device), torch.zeros((), dtype=torch.bool,
                                                                               device=device)
    positive = weights > 0
    found = positive.any()
    # Random keys in [1, 2) for positive rows and [0, 1) for the rest: top-k takes distinct
    # positive rows first, in random order.
    keys = torch.rand(n, device=device) + positive.float()
    distinct = keys.topk(min(num, n)).indices
    # With replacement, for picks beyond the number of positive rows; uniform over all rows when
    # none is positive (multinomial refuses an all-zero distribution; ``found`` flags the case).
    probs = torch.where(found, positive.float(), torch.ones_like(weights, dtype=torch.float))
    repeated = torch.multinomial(probs, num, replacement=True)
    head = torch.where(positive[distinct], distinct, repeated[:distinct.shape[0]])
    return torch.cat([head, repeated[distinct.shape[0]:]]), found
