"""Tests of the multi-period discriminator."""
from __future__ import annotations

import pytest
import torch

from sptok.discriminators.mpd import MultiPeriodDiscriminator, PeriodDiscriminator

TINY = dict(periods=(2, 3, 5), channels=(4, 8, 8))


def _conv_length(length: int, kernel: int = 5, stride: int = 3, padding: int = 2) -> int:
    return (length + 2 * padding - kernel) // stride + 1


@pytest.mark.parametrize("num_samples", [4000, 4001])
def test_shapes(num_samples):
    torch.manual_seed(0)
    mpd = MultiPeriodDiscriminator(**TINY)
    logits, feature_maps = mpd(torch.randn(2, 1, num_samples))
    assert len(logits) == len(feature_maps) == 3
    assert mpd.sub_names == ["p2", "p3", "p5"]
    for period, logit, maps in zip(TINY["periods"], logits, feature_maps):
        rows = -(-num_samples // period)  # reflect-padded to a whole number of periods
        rows = _conv_length(_conv_length(rows))  # two strided convs, then one of stride 1
        assert logit.shape == (2, rows * period)
        assert [tuple(m.shape) for m in maps] == [
            (2, 4, _conv_length(-(-num_samples // period)), period),
            (2, 8, rows, period),
            (2, 8, rows, period),
            (2, 1, rows, period),
        ]
        # HiFi-GAN convention: the last feature map is the logit map.
        assert torch.equal(maps[-1].flatten(1), logit)


def test_gradient_reaches_input():
    torch.manual_seed(0)
    y = torch.randn(2, 1, 4000, requires_grad=True)
    logits, _ = MultiPeriodDiscriminator(**TINY)(y)
    sum(logit.sum() for logit in logits).backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_samples_are_judged_per_utterance():
    torch.manual_seed(0)
    mpd = MultiPeriodDiscriminator(**TINY)
    y = torch.randn(2, 1, 4000)
    changed = y.clone()
    changed[1] = torch.randn(1, 4000)
    before, _ = mpd(y)
    after, _ = mpd(changed)
    for a, b in zip(before, after):
        assert torch.allclose(a[0], b[0])
        assert not torch.allclose(a[1], b[1])


def test_paper_size_parameter_count():
    mpd = MultiPeriodDiscriminator()
    assert [d.period for d in mpd.discriminators] == [2, 3, 5, 7, 11]
    assert sum(p.numel() for p in mpd.parameters()) == 41_105_770


def test_spectral_norm_option():
    period = PeriodDiscriminator(2, channels=(4, 4), norm="spectral_norm")
    assert "_u" in dict(period.convs[0].parametrizations.weight[0].named_buffers())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(periods=()), "periods"),
        (dict(periods=(0,)), "periods"),
        (dict(channels=()), "channels"),
        (dict(norm="batch_norm"), "norm"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiPeriodDiscriminator(**{**TINY, **kwargs})


def test_bad_input_shape():
    with pytest.raises(ValueError, match=r"\[B, 1, N\]"):
        MultiPeriodDiscriminator(**TINY)(torch.randn(2, 4000))
