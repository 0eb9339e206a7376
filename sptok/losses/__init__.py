"""Training losses of the codec."""
from sptok.losses.distill import (align_frames, codec_num_frames, d_axis_distill_loss,
                                  t_axis_distill_loss, teacher_num_frames)
from sptok.losses.gan import (  # noqa: F401
    DiscriminatorAdversarialLoss,
    FeatureMatchingLoss,
    GeneratorAdversarialLoss,
    discriminator_adversarial_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from sptok.losses.mel import LogMelSpectrogram, MultiResolutionMelLoss  # noqa: F401
from sptok.losses.waveform import WaveformL1Loss, valid_sample_mask, waveform_l1_loss  # noqa: F401
