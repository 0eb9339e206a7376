"""The contrastive (CLUB) MI estimator on data of known dependence, and the N x N CTC matrix."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sptok.slmtokbench.mutual_info import (estimate_batch, mi_batches, pairwise_log_likelihood,
                                           summarize)


def gaussian_loglik(rho: float, n: int, seed: int = 0) -> torch.Tensor:
    """loglik[i, j] = log p(y_j | x_i) for (x, y) standard bivariate normal with correlation rho,
    under the true conditional N(rho x, 1 - rho^2)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=gen, dtype=torch.float64)
    y = rho * x + math.sqrt(1 - rho ** 2) * torch.randn(n, generator=gen, dtype=torch.float64)
    var = 1 - rho ** 2
    return -0.5 * (y[None, :] - rho * x[:, None]) ** 2 / var - 0.5 * math.log(2 * math.pi * var)


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.8])
def test_club_matches_gaussian_closed_form(rho):
    # With the true conditional, E[CLUB] = rho^2 / (1 - rho^2) >= I(X;Y) = -log(1 - rho^2) / 2.
    estimate = estimate_batch(gaussian_loglik(rho, 2000))
    expected = rho ** 2 / (1 - rho ** 2)
    assert estimate.club == pytest.approx(expected, abs=0.1)
    assert estimate.club >= -0.5 * math.log(1 - rho ** 2) - 0.1
    assert estimate.infonce <= math.log(2000) + 1e-9


def test_independent_is_zero_and_copy_is_high():
    n, k, eps = 64, 1000, 1e-3
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, k, (n,), generator=gen)
    y_copy, y_indep = x.clone(), torch.randint(0, k, (n,), generator=gen)

    def loglik(y):  # q(y|x) = 1 - eps on y == x, eps spread over the other labels
        same = x[:, None] == y[None, :]
        return torch.where(same, torch.tensor(math.log(1 - eps)),
                           torch.tensor(math.log(eps / (k - 1)))).double()

    copy, indep = estimate_batch(loglik(y_copy)), estimate_batch(loglik(y_indep))
    assert copy.club > 10 and abs(indep.club) < 0.5
    assert copy.infonce == pytest.approx(math.log(n), abs=0.1)  # InfoNCE saturates at log N
    assert indep.infonce < 0.5
    # A q that ignores x gives exactly 0, whatever the transcripts' likelihoods.
    marginal = torch.randn(n, dtype=torch.float64)[None, :].expand(n, n)
    assert estimate_batch(marginal).club == pytest.approx(0.0, abs=1e-12)


def test_infeasible_pairs_and_normalisation():
    inf = float("-inf")
    loglik = torch.tensor([[-1.0, -5.0, inf], [-4.0, -2.0, -6.0], [-3.0, -3.0, inf]],
                          dtype=torch.float64)
    est = estimate_batch(loglik)
    # row 0: -1 - mean(-1, -5) = 2; row 1: -2 - mean(-4, -2, -6) = 2; row 2 skipped (own pair -inf)
    assert est.club == pytest.approx(2.0) and est.rows == 2 and est.infeasible_pairs == 2
    norm = estimate_batch(loglik, target_lengths=[1, 2, 4], normalize="target_length")
    # row 0: -1 - mean(-1, -2.5) = 0.75; row 1: -1 - mean(-4, -1, -1.5) = 1.1666..
    assert norm.club == pytest.approx((0.75 + (-1 + 6.5 / 3)) / 2)
    with pytest.raises(ValueError, match="needs target_lengths"):
        estimate_batch(loglik, normalize="target_length")
    with pytest.raises(ValueError, match="no utterance has a possible"):
        estimate_batch(torch.full((2, 2), inf))
    with pytest.raises(ValueError, match="square"):
        estimate_batch(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="normalize must be"):
        estimate_batch(torch.zeros(2, 2), normalize="frames")


def test_pairwise_matrix_equals_single_ctc_losses():
    torch.manual_seed(0)
    lengths = torch.tensor([7, 4, 6])
    log_probs = torch.randn(3, 7, 5).log_softmax(-1)
    targets = [[1, 2, 2], [3], [4, 1, 1, 1]]
    matrix = pairwise_log_likelihood(log_probs, lengths, targets)
    for i in range(3):
        for j in range(3):
            frames = int(lengths[i])
            loss = F.ctc_loss(log_probs[i, :frames, None], torch.tensor([targets[j]]),
                              torch.tensor([frames]), torch.tensor([len(targets[j])]),
                              reduction="sum")
            assert matrix[i, j].item() == pytest.approx(-loss.item(), rel=1e-5)
    assert matrix[1, 2] == float("-inf")  # 4 frames cannot hold 1 1 1 with blanks between


def test_batches_and_summary():
    gen = torch.Generator().manual_seed(0)
    batches = mi_batches(70, 32, gen)
    assert [len(b) for b in batches] == [32, 32]  # the remainder of 6 is dropped
    assert len(set(batches[0]) | set(batches[1])) == 64
    assert [len(b) for b in mi_batches(5, 32, gen)] == [5] and mi_batches(1, 32) == []
    with pytest.raises(ValueError, match="at least 2"):
        mi_batches(10, 1)
    summary = summarize([estimate_batch(gaussian_loglik(0.5, 100, s)) for s in range(4)])
    assert summary["mi_batches"] == 4 and summary["mi_unit"] == "nats"
    assert summary["mi_min"] <= summary["mi_mean"] <= summary["mi_max"] and summary["mi_std"] > 0
    with pytest.raises(ValueError, match="no batch"):
        summarize([])
