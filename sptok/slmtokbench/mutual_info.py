"""Mutual information between tokens and text, by a contrastive variational bound.

SLMTokBench (Zhang et al., SpeechTokenizer, ICLR 2024, section 2 / appendix) estimates I(X; Y)
between a token sequence X and its transcript Y with

    MI ~ 1/N^2 * sum_i sum_j [ log q(y_i | x_i) - log q(y_j | x_i) ]

over N utterances, where q(y | x) is the variational conditional learnt by the downstream CTC
model. This is the sampled vCLUB estimator (Cheng et al., "CLUB: A Contrastive Log-ratio Upper
Bound of Mutual Information", ICML 2020): the likelihood of the paired transcripts minus that of
transcripts drawn from the marginal (the other utterances). When q equals the true conditional
it upper-bounds I(X; Y); with a learnt q it is an estimate (neither bound is guaranteed). It is
zero in expectation when q ignores x or when X and Y are independent, and it is **not** capped
at log N (unlike InfoNCE), so for whole sentences it reaches tens to hundreds of nats.

Units: nats (natural log) per utterance pair; ``normalize="target_length"`` divides every
log q(y_j | x_i) by the length of y_j (nats per output symbol), one plausible reading of the
paper's unstated scale (PyTorch's CTCLoss with ``reduction="mean"`` divides by target length).

Impossible pairs: CTC gives q(y_j | x_i) = 0 (log = -inf) when y_j needs more frames than x_i
has. Such pairs are left out of the negative term (and counted): the estimate then averages the
feasible negatives of each row. Rows whose own pair is impossible are skipped.

For reference the InfoNCE lower bound, mean_i [log q(y_i|x_i) - log 1/N sum_j q(y_j|x_i)],
which is at most log N, is reported too.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence

import torch

from sptok.slmtokbench.downstream import ctc_log_likelihood

NORMALIZATIONS = ("none", "target_length")


def pairwise_log_likelihood(log_probs: torch.Tensor, lengths: torch.Tensor,
                            targets: Sequence[Sequence[int]]) -> torch.Tensor:
    """Matrix [N, N] with entry (i, j) = log q(y_j | x_i) in nats.

    Args:
        log_probs: [N, T, V] CTC log-probabilities of the N token sequences x_i.
        lengths: [N] frames of each x_i.
        targets: the N transcripts y_j as id lists (no blank).
    """
    n = log_probs.shape[0]
    if len(targets) != n:
        raise ValueError(f"{len(targets)} transcripts for {n} token sequences")
    rows = []
    for i in range(n):
        # One input against all N transcripts: N CTC losses, memory O(N T S) per row.
        frames = int(lengths[i])
        row_lp = log_probs[i:i + 1, :frames].expand(n, frames, log_probs.shape[-1]).contiguous()
        rows.append(ctc_log_likelihood(row_lp, lengths[i].expand(n), targets))
    return torch.stack(rows).double().cpu()


@dataclass
class BatchEstimate:
    """MI estimates of one batch of N utterances (nats)."""
    club: float
    infonce: float
    n: int
    #: rows used (their own pair is possible)
    rows: int
    #: impossible (i, j) pairs among the N^2
    infeasible_pairs: int


def estimate_batch(loglik: torch.Tensor, target_lengths: Optional[Sequence[int]] = None,
                   normalize: str = "none") -> BatchEstimate:
    """CLUB and InfoNCE estimates from a matrix loglik[i, j] = log q(y_j | x_i).

    ``normalize="target_length"`` divides column j by ``target_lengths[j]`` first.
    """
    if loglik.dim() != 2 or loglik.shape[0] != loglik.shape[1] or loglik.shape[0] < 2:
        raise ValueError(f"need a square [N, N] matrix with N >= 2, got {list(loglik.shape)}")
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got '{normalize}'")
    scores = loglik.double()
    if normalize == "target_length":
        if target_lengths is None:
            raise ValueError("normalize='target_length' needs target_lengths")
        denom = torch.tensor([max(int(n), 1) for n in target_lengths], dtype=torch.float64)
        scores = scores / denom[None, :]
    n = scores.shape[0]
    if torch.isnan(scores).any() or (scores == float("inf")).any():
        raise ValueError("log-likelihood matrix holds NaN or +inf")
    finite = torch.isfinite(scores)
    diag = torch.diagonal(scores)
    rows = torch.isfinite(diag)
    if not rows.any():
        raise ValueError("no utterance has a possible CTC alignment with its own transcript "
                         "(token sequences shorter than their transcripts?)")
    masked = torch.where(finite, scores, torch.zeros_like(scores))
    negative = masked.sum(dim=1) / finite.sum(dim=1)  # mean over feasible j, per row
    club = (diag[rows] - negative[rows]).mean().item()
    infonce = (diag[rows] - torch.logsumexp(scores[rows], dim=1) + math.log(n)).mean().item()
    return BatchEstimate(club=club, infonce=infonce, n=n, rows=int(rows.sum()),
                         infeasible_pairs=int((~finite).sum()))


def summarize(estimates: Iterable[BatchEstimate]) -> Dict[str, float]:
    """Mean and spread over batches: mi_mean / mi_std / mi_min / mi_max (CLUB), mi_infonce_mean,
    mi_batches, mi_batch_size, mi_infeasible_frac; all MI values in nats."""
    estimates = list(estimates)
    if not estimates:
        raise ValueError("no batch to estimate mutual information from (need >= 2 utterances)")
    club = torch.tensor([e.club for e in estimates], dtype=torch.float64)
    infonce = torch.tensor([e.infonce for e in estimates], dtype=torch.float64)
    pairs = sum(e.n * e.n for e in estimates)
    return {
        "mi_mean": club.mean().item(),
        "mi_std": club.std(unbiased=False).item(),
        "mi_min": club.min().item(),
        "mi_max": club.max().item(),
        "mi_infonce_mean": infonce.mean().item(),
        "mi_batches": len(estimates),
        "mi_batch_size": max(e.n for e in estimates),
        "mi_infeasible_frac": sum(e.infeasible_pairs for e in estimates) / pairs,
        "mi_unit": "nats",
    }


def mi_batches(num_items: int, batch_size: int, generator: Optional[torch.Generator] = None
               ) -> List[List[int]]:
    """Random disjoint batches of ``batch_size`` indices (pairs drawn from the product of the
    marginals); a remainder is dropped unless it is the only batch. Fewer than 2 items: none."""
    if batch_size < 2:
        raise ValueError(f"MI batch size must be at least 2, got {batch_size}")
    if num_items < 2:
        return []
    order = torch.randperm(num_items, generator=generator).tolist()
    if num_items <= batch_size:
        return [order]
    return [order[k:k + batch_size] for k in range(0, num_items - batch_size + 1, batch_size)]
