"""BiLSTM-CTC probe: shapes, padding invariance, likelihoods, greedy decoding."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sptok.slmtokbench.downstream import CTCDownstream, ctc_log_likelihood, greedy_decode


@pytest.mark.parametrize("kind", ["feats", "units"])
def test_forward_is_padding_invariant(kind):
    torch.manual_seed(0)
    if kind == "feats":
        model = CTCDownstream(6, feat_dim=5, hidden_size=8).eval()
        inputs = torch.randn(2, 9, 5)
    else:
        model = CTCDownstream(6, num_ids=10, embed_dim=4, hidden_size=8).eval()
        inputs = torch.randint(0, 10, (2, 9, 2))
    lengths = torch.tensor([9, 5])
    out = model(inputs, lengths)
    assert out.shape == (2, 9, 6) and out.dtype == torch.float32
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(2, 9))
    alone = model(inputs[1:, :5], lengths[1:])
    torch.testing.assert_close(out[1, :5], alone[0])


def test_constructor_errors():
    with pytest.raises(ValueError, match="exactly one of"):
        CTCDownstream(5, feat_dim=3, num_ids=4)
    with pytest.raises(ValueError, match="exactly one of"):
        CTCDownstream(5)
    with pytest.raises(ValueError, match="blank and at least one"):
        CTCDownstream(1, feat_dim=3)


def test_greedy_decode_merges_repeats_and_drops_blanks():
    path = torch.tensor([[0, 1, 1, 0, 1, 2, 2, 0, 3]])
    log_probs = F.one_hot(path, 4).float().log_softmax(-1)
    assert greedy_decode(log_probs, torch.tensor([9])) == [[1, 1, 2, 3]]
    assert greedy_decode(log_probs, torch.tensor([5])) == [[1, 1]]


def test_log_likelihood_of_a_sure_path():
    # A model certain of the path "1 0 1" gives log q(1 1) ~ 0 and log q(1) ~ -inf-ish.
    path = torch.tensor([[1, 0, 1]])
    log_probs = (F.one_hot(path, 3).float() * 50).log_softmax(-1)
    loglik = ctc_log_likelihood(log_probs.expand(3, 3, 3), torch.tensor([3, 3, 3]),
                                [[1, 1], [1], [1, 1, 1]])
    assert loglik[0].item() == pytest.approx(0.0, abs=1e-6)
    assert loglik[1].item() < -40
    assert loglik[2].item() == float("-inf")  # 1 1 1 needs 5 frames
    with pytest.raises(ValueError, match="2 targets for a batch of 3"):
        ctc_log_likelihood(log_probs.expand(3, 3, 3), torch.tensor([3, 3, 3]), [[1], [1]])
