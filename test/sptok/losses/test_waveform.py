"""Tests of the waveform L1 loss and its length handling."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sptok.losses.waveform import WaveformL1Loss, valid_sample_mask, waveform_l1_loss


def test_equals_plain_l1_without_lengths():
    torch.manual_seed(0)
    estimate, target = torch.randn(3, 1, 100), torch.randn(3, 1, 100)
    assert torch.allclose(waveform_l1_loss(estimate, target), F.l1_loss(estimate, target))
    assert torch.allclose(WaveformL1Loss()(estimate[:, 0], target[:, 0]), F.l1_loss(estimate, target))


def test_exact_with_lengths():
    target = torch.zeros(2, 1, 6)
    estimate = torch.tensor([[[1.0, 1, 1, 1, 9, 9]], [[3.0, 3, 9, 9, 9, 9]]])
    # Valid: 4 samples of error 1 and 2 samples of error 3 -> (4 + 6) / 6.
    loss = waveform_l1_loss(estimate, target, torch.tensor([4, 2]))
    assert loss.item() == pytest.approx(10 / 6)


def test_padding_is_ignored_even_when_not_finite():
    torch.manual_seed(0)
    estimate = torch.randn(2, 1, 50, requires_grad=True)
    target = torch.randn(2, 1, 50)
    lengths = torch.tensor([50, 30])
    loss = waveform_l1_loss(estimate, target, lengths)
    garbage_estimate = estimate.detach().clone()
    garbage_estimate[1, :, 30:] = float("nan")
    garbage_target = target.clone()
    garbage_target[1, :, 30:] = float("inf")
    assert torch.equal(waveform_l1_loss(garbage_estimate, garbage_target, lengths), loss.detach())
    loss.backward()
    assert estimate.grad[1, :, 30:].abs().sum() == 0 and estimate.grad[1, :, :30].abs().sum() > 0


def test_longer_estimate_is_trimmed():
    torch.manual_seed(0)
    estimate, target = torch.randn(2, 1, 120), torch.randn(2, 1, 100)
    assert torch.equal(waveform_l1_loss(estimate, target), waveform_l1_loss(estimate[..., :100], target))


def test_mask():
    assert valid_sample_mask(torch.tensor([2, 0, 3]), 3).tolist() == [
        [True, True, False],
        [False, False, False],
        [True, True, True],
    ]


@pytest.mark.parametrize(
    "estimate, target, lengths, message",
    [
        (torch.zeros(2, 2, 10), torch.zeros(2, 1, 10), None, "estimate must be"),
        (torch.zeros(3, 10), torch.zeros(2, 10), None, "batch sizes differ"),
        (torch.zeros(2, 10), torch.zeros(2, 10), torch.tensor([10, 11]), r"lengths must lie in \[1, 10\]"),
        (torch.zeros(2, 10), torch.zeros(2, 10), torch.tensor([0, 5]), "lengths must lie"),
        (torch.zeros(2, 10), torch.zeros(2, 10), torch.tensor([5]), r"lengths must be \[B\]"),
    ],
)
def test_bad_inputs(estimate, target, lengths, message):
    with pytest.raises(ValueError, match=message):
        waveform_l1_loss(estimate, target, lengths)
