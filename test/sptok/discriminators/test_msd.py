"""Tests of the multi-scale discriminator."""
from __future__ import annotations

import pytest
import torch

from sptok.discriminators.msd import MultiScaleDiscriminator

TINY = dict(channels=(4, 8, 8), kernel_sizes=(5, 5, 3), strides=(1, 2, 1), groups=(1, 2, 1))


def test_shapes():
    torch.manual_seed(0)
    msd = MultiScaleDiscriminator(**TINY)
    logits, feature_maps = msd(torch.randn(2, 1, 4000))
    assert msd.sub_names == ["s0", "s1", "s2"]
    # Scales: 4000 samples, then avg-pooled (4, 2, pad 2) to 2001, then 1001; one stride-2 conv.
    assert [tuple(logit.shape) for logit in logits] == [(2, 2000), (2, 1001), (2, 501)]
    for scale_length, logit, maps in zip((4000, 2001, 1001), logits, feature_maps):
        steps = logit.size(1)
        assert [tuple(m.shape) for m in maps] == [(2, 4, scale_length), (2, 8, steps), (2, 8, steps), (2, 1, steps)]
        assert torch.equal(maps[-1].flatten(1), logit)


def test_norms_follow_hifigan():
    msd = MultiScaleDiscriminator(**TINY)
    first, second = msd.discriminators[0].convs[0], msd.discriminators[1].convs[0]
    assert "_u" in dict(first.parametrizations.weight[0].named_buffers())  # spectral norm
    assert hasattr(second.parametrizations.weight, "original0")  # weight norm (g, v)
    plain = MultiScaleDiscriminator(spectral_norm_first=False, **TINY)
    assert hasattr(plain.discriminators[0].convs[0].parametrizations.weight, "original0")


def test_gradient_reaches_input():
    torch.manual_seed(0)
    y = torch.randn(2, 1, 4000, requires_grad=True)
    logits, _ = MultiScaleDiscriminator(**TINY)(y)
    sum(logit.sum() for logit in logits).backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_paper_size_parameter_count():
    msd = MultiScaleDiscriminator()
    assert len(msd.discriminators) == 3
    assert sum(p.numel() for p in msd.parameters()) == 29_618_821


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(groups=(1, 3, 1)), "groups"),
        (dict(strides=(1, 2)), "same length"),
        (dict(kernel_sizes=(5, 4, 3)), "odd"),
        (dict(scales=0), "scales"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiScaleDiscriminator(**{**TINY, **kwargs})
