"""Waveform discriminators of the codec: multi-period, multi-scale, multi-scale STFT, combined."""
from sptok.discriminators.base import DiscriminatorOutput, FeatureMaps
from sptok.discriminators.combined import (
    CombinedDiscriminator,
    build_discriminator,
    discriminator_choices,
    score_real_and_fake,
)
from sptok.discriminators.mpd import MultiPeriodDiscriminator, PeriodDiscriminator
from sptok.discriminators.msd import MultiScaleDiscriminator, ScaleDiscriminator
from sptok.discriminators.msstft import MultiScaleSTFTDiscriminator, STFTDiscriminator

__all__ = [
    "CombinedDiscriminator",
    "DiscriminatorOutput",
    "FeatureMaps",
    "MultiPeriodDiscriminator",
    "MultiScaleDiscriminator",
    "MultiScaleSTFTDiscriminator",
    "PeriodDiscriminator",
    "STFTDiscriminator",
    "ScaleDiscriminator",
    "build_discriminator",
    "discriminator_choices",
    "score_real_and_fake",
]
