"""Tests of the multi-scale STFT discriminator."""
from __future__ import annotations

import pytest
import torch
import torchaudio

from sptok.discriminators.msstft import MultiScaleSTFTDiscriminator, STFTDiscriminator

TINY = dict(n_ffts=(128, 256), filters=4)


def test_shapes():
    torch.manual_seed(0)
    msstft = MultiScaleSTFTDiscriminator(**TINY)
    logits, feature_maps = msstft(torch.randn(2, 1, 4000))
    assert msstft.sub_names == ["stft128", "stft256"]
    assert [d.hop_length for d in msstft.discriminators] == [32, 64]
    for n_fft, logit, maps in zip(TINY["n_ffts"], logits, feature_maps):
        frames = (4000 - n_fft) // (n_fft // 4) + 1  # not centred
        bins = [n_fft // 2 + 1]
        for _ in range(3):  # three convs strided by 2 along frequency (dilations 1, 2, 4)
            bins.append((bins[-1] - 1) // 2 + 1)
        assert [tuple(m.shape) for m in maps] == [(2, 4, frames, b) for b in bins + bins[-1:]]
        assert logit.shape == (2, frames * bins[-1])


def test_spectrogram_matches_torchaudio():
    """Same input image as EnCodec's torchaudio Spectrogram(normalized=True, center=False, power=None)."""
    torch.manual_seed(0)
    y = torch.randn(2, 1, 3000)
    disc = STFTDiscriminator(n_fft=256, hop_length=64, win_length=200, filters=4)
    reference = torchaudio.transforms.Spectrogram(
        n_fft=256, hop_length=64, win_length=200, normalized=True, center=False, power=None
    )(y)  # [B, 1, F, T] complex
    expected = torch.cat([reference.real, reference.imag], dim=1).transpose(2, 3)
    assert torch.allclose(disc.spectrogram(y), expected, atol=1e-5)


def test_gradient_reaches_input():
    torch.manual_seed(0)
    y = torch.randn(2, 1, 4000, requires_grad=True)
    logits, _ = MultiScaleSTFTDiscriminator(**TINY)(y)
    sum(logit.sum() for logit in logits).backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_paper_size_parameter_count():
    msstft = MultiScaleSTFTDiscriminator()
    assert [d.n_fft for d in msstft.discriminators] == [1024, 2048, 512, 256, 128]
    assert [d.hop_length for d in msstft.discriminators] == [256, 512, 128, 64, 32]
    assert sum(p.numel() for p in msstft.parameters()) == 472_490
    assert list(msstft.state_dict()) and not any("window" in key for key in msstft.state_dict())


def test_filters_growth():
    disc = STFTDiscriminator(n_fft=128, filters=4, filters_scale=2, max_filters=16)
    widths = [conv.out_channels for conv in disc.convs]
    assert widths == [4, 8, 16, 16, 16]
    logits, _ = disc(torch.randn(1, 1, 1000))
    assert logits.dim() == 2


def test_too_short_input():
    with pytest.raises(ValueError, match="shorter than n_fft"):
        MultiScaleSTFTDiscriminator(**TINY)(torch.randn(1, 1, 200))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(hop_lengths=(32,)), "same length"),
        (dict(win_lengths=(256, 256)), "win_lengths"),
        (dict(n_ffts=()), "n_ffts"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiScaleSTFTDiscriminator(**{**TINY, **kwargs})
