"""Tests of the combined discriminator, its builder and the joint real/fake scoring."""
from __future__ import annotations

import math

import pytest
import torch

from sptok.discriminators import (
    CombinedDiscriminator,
    build_discriminator,
    discriminator_choices,
    score_real_and_fake,
)
from sptok.losses.gan import discriminator_adversarial_loss, feature_matching_loss, generator_adversarial_loss

TINY_CONFS = {
    "mpd": {"periods": [2, 3], "channels": [4, 8, 8]},
    "msd": {"scales": 2, "channels": [4, 8, 8], "kernel_sizes": [5, 5, 3], "strides": [1, 2, 1], "groups": [1, 2, 1]},
    "msstft": {"n_ffts": [128, 256], "filters": 4},
}


def _speech_like(batch: int = 2, num_samples: int = 4000) -> torch.Tensor:
    t = torch.arange(num_samples) / 16000
    f0 = torch.tensor([150.0, 220.0])[:batch, None]
    wave = sum(torch.sin(2 * math.pi * k * f0 * t) / k for k in range(1, 6))
    return (0.3 * wave).unsqueeze(1)


def test_outputs_are_concatenated_in_order():
    torch.manual_seed(0)
    disc = build_discriminator(TINY_CONFS).eval()  # eval: spectral norm does not iterate
    assert isinstance(disc, CombinedDiscriminator)
    y = torch.randn(2, 1, 4000)
    logits, feature_maps = disc(y)
    assert disc.sub_names == [
        "mpd/p2", "mpd/p3", "msd/s0", "msd/s1", "msstft/stft128", "msstft/stft256"
    ]
    assert len(logits) == len(feature_maps) == 6
    expected_logits = []
    for sub in disc.discriminators.values():
        expected_logits.extend(sub(y)[0])
    assert all(torch.equal(a, b) for a, b in zip(logits, expected_logits))


def test_build_from_names_uses_defaults():
    disc = build_discriminator(["msstft"])
    assert [d.n_fft for d in disc.discriminators["msstft"].discriminators] == [1024, 2048, 512, 256, 128]


def test_defaults_are_printable_yaml():
    assert discriminator_choices.default_conf("mpd")["periods"] == [2, 3, 5, 7, 11]
    assert discriminator_choices.default_conf("msstft")["n_ffts"] == [1024, 2048, 512, 256, 128]
    assert discriminator_choices.default_conf("msd")["scales"] == 3


def test_import_path_names_a_custom_discriminator():
    disc = build_discriminator({"sptok.discriminators.mpd:MultiPeriodDiscriminator": {"periods": [2], "channels": [4]}})
    assert disc.sub_names == ["sptok_discriminators_mpd_MultiPeriodDiscriminator/p2"]


@pytest.mark.parametrize(
    "spec, message",
    [
        (["mpd", "msdd"], r"unknown choice 'msdd' \(did you mean 'msd'\?\)"),
        (["mpd", "mpd"], "repeated"),
        ({"mpd": {"period": [2]}}, r"discriminators: mpd: .*unknown keyword 'period' \(did you mean 'periods'\?\)"),
        ({"msd": {"groups": [1, 3, 1], "channels": [4, 8, 8]}}, "discriminators: msd: .*groups"),
        ("mpd", "expected a list"),
        ([], "at least one"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        build_discriminator(spec)


def test_joint_scoring_equals_separate_calls():
    torch.manual_seed(0)
    disc = build_discriminator(TINY_CONFS).eval()  # eval: spectral norm does not iterate
    real, fake = torch.randn(2, 1, 4000), torch.randn(2, 1, 4000)
    real_logits, fake_logits, real_maps, fake_maps = score_real_and_fake(disc, real, fake)
    for joint, (logits, maps) in ((real_logits, disc(real)), (fake_logits, disc(fake))):
        assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(joint, logits))
    expected_maps = disc(fake)[1]
    for joint, separate in zip(fake_maps, expected_maps):
        assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(joint, separate))
    assert len(real_maps) == len(fake_maps) == 6
    with pytest.raises(ValueError, match="differ in shape"):
        score_real_and_fake(disc, real, fake[:, :, :3000])


def test_one_discriminator_step_lowers_its_loss():
    torch.manual_seed(0)
    disc = build_discriminator(TINY_CONFS)
    real = _speech_like()
    fake = 0.1 * torch.randn_like(real)
    optimizer = torch.optim.Adam(disc.parameters(), lr=1e-3, betas=(0.5, 0.9))

    def d_loss() -> torch.Tensor:
        real_logits, fake_logits, _, _ = score_real_and_fake(disc, real, fake)
        return discriminator_adversarial_loss(real_logits, fake_logits)

    before = d_loss()
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = d_loss()
    assert after.item() < before.item()


def test_generator_losses_reach_the_generated_waveform():
    torch.manual_seed(0)
    disc = build_discriminator(TINY_CONFS)
    real = _speech_like()
    fake = (0.1 * torch.randn_like(real)).requires_grad_()
    real_logits, fake_logits, real_maps, fake_maps = score_real_and_fake(disc, real, fake)
    loss = generator_adversarial_loss(fake_logits) + 2 * feature_matching_loss(real_maps, fake_maps)
    loss.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0 and torch.isfinite(fake.grad).all()
