"""Tests of the multi-resolution log-mel loss."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import torchaudio

from sptok.losses.mel import LogMelSpectrogram, MultiResolutionMelLoss


def _tone(num_samples: int = 4000, batch: int = 2) -> torch.Tensor:
    t = torch.arange(num_samples) / 16000
    return torch.stack([0.5 * torch.sin(2 * math.pi * f * t) for f in (200.0, 330.0)[:batch]]).unsqueeze(1)


def test_paper_defaults():
    loss = MultiResolutionMelLoss()
    assert [(r.n_fft, r.win_length, r.hop_length) for r in loss.resolutions] == [
        (1024, 1024, 240), (512, 512, 120), (256, 256, 60), (128, 128, 30)
    ]
    assert loss.weights == [45.0, 1.0, 1.0, 1.0]
    assert all(r.mel_basis.shape[0] == 80 for r in loss.resolutions)
    assert len(loss.state_dict()) == 0  # filterbanks and windows are not checkpointed


@pytest.mark.filterwarnings("ignore:At least one mel filterbank has all zero values")
@pytest.mark.parametrize("n_fft, hop, win", [(1024, 240, 1024), (128, 30, 128), (512, 100, 400)])
def test_log_mel_matches_torchaudio(n_fft, hop, win):
    torch.manual_seed(0)
    signal = torch.randn(2, 4000)
    ours = LogMelSpectrogram(16000, n_fft, hop, win, n_mels=80)(signal)
    pad = (n_fft - hop) // 2
    reference = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, n_fft=n_fft, win_length=win, hop_length=hop, n_mels=80,
        power=1.0, center=False, norm="slaney", mel_scale="htk",
    )(F.pad(signal.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1))
    assert torch.allclose(ours, torch.log(reference.clamp(min=1e-5)), atol=1e-4)
    if win == n_fft and (n_fft - hop) % 2 == 0:
        assert ours.size(-1) == 4000 // hop


def test_zero_for_identical_and_positive_otherwise():
    torch.manual_seed(0)
    loss = MultiResolutionMelLoss()
    target = _tone()
    assert loss(target.clone(), target).item() == 0.0
    assert loss(target + 0.01 * torch.randn_like(target), target).item() > 0
    losses = loss.resolution_losses(0.5 * target, target)
    assert all(value.item() > 0 for value in losses)
    assert loss(0.5 * target, target).item() == pytest.approx(sum(w * v.item() for w, v in zip(loss.weights, losses)), rel=1e-5)


def test_weights_select_resolutions():
    torch.manual_seed(0)
    estimate, target = torch.randn(2, 1, 3000), _tone(3000)
    single = MultiResolutionMelLoss(n_ffts=[512], hop_lengths=[120], weights=[1.0])
    weighted = MultiResolutionMelLoss(weights=[0.0, 2.0, 0.0, 0.0])
    assert torch.allclose(weighted(estimate, target), 2 * single(estimate, target))


def test_masking_ignores_padding():
    torch.manual_seed(0)
    loss = MultiResolutionMelLoss()
    target = _tone()
    estimate = (target + 0.05 * torch.randn_like(target)).requires_grad_()
    lengths = torch.tensor([4000, 2500])
    masked = loss(estimate, target, lengths)
    other_estimate = estimate.detach().clone()
    other_target = target.clone()
    other_estimate[1, :, 2500:] = torch.randn(1, 1500)
    other_target[1, :, 2500:] = 0.0
    assert torch.allclose(loss(other_estimate, other_target, lengths), masked.detach())
    # Without lengths the padding does count.
    assert not torch.allclose(loss(other_estimate, other_target), loss(estimate.detach(), target))
    # Full lengths are the same as no lengths.
    assert torch.allclose(loss(estimate, target, torch.tensor([4000, 4000])), loss(estimate, target))
    masked.backward()
    assert torch.isfinite(estimate.grad).all()
    assert estimate.grad[1, :, 2500:].abs().sum() == 0
    assert estimate.grad[1, :, :2500].abs().sum() > 0


def test_gradients_reach_input():
    torch.manual_seed(0)
    estimate = torch.randn(2, 1, 4000, requires_grad=True)
    MultiResolutionMelLoss()(estimate, _tone()).backward()
    assert estimate.grad is not None and estimate.grad.abs().sum() > 0 and torch.isfinite(estimate.grad).all()


def test_longer_estimate_is_trimmed():
    torch.manual_seed(0)
    loss = MultiResolutionMelLoss()
    estimate, target = torch.randn(2, 1, 4160), _tone()
    assert torch.equal(loss(estimate, target), loss(estimate[..., :4000], target))


def test_autocast_does_not_lower_precision():
    torch.manual_seed(0)
    loss = MultiResolutionMelLoss()
    estimate, target = torch.randn(2, 1, 4000), _tone()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        value = loss(estimate, target)
    assert value.dtype == torch.float32
    assert torch.allclose(value, loss(estimate, target))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(weights=[1.0, 1.0]), "same length"),
        (dict(win_lengths=[2048, 512, 256, 128]), "win_lengths"),
        (dict(f_max=9000.0), "f_max"),
        (dict(clamp_min=0.0), "clamp_min"),
        (dict(n_ffts=[], hop_lengths=[], weights=[]), "at least one"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiResolutionMelLoss(**kwargs)


def test_bad_inputs():
    loss = MultiResolutionMelLoss()
    with pytest.raises(ValueError, match="lengths must lie"):
        loss(torch.zeros(2, 1, 4000), torch.zeros(2, 1, 4000), torch.tensor([4000, 4001]))
    with pytest.raises(ValueError, match="too few"):
        loss(torch.zeros(1, 1, 300), torch.zeros(1, 1, 300))
