"""Several discriminators run as one, selected by name (``mpd``, ``msd``, ``msstft``).

YAML form handled by :func:`build_discriminator`::

    discriminators: [mpd, msd, msstft]          # every one with its defaults, or
    discriminators:
      mpd: {periods: [2, 3, 5, 7, 11]}
      msstft: {filters: 32, n_ffts: [1024, 2048, 512, 256, 128]}

Names resolve through :data:`discriminator_choices` (a :class:`~sptok.utils.registry.ClassChoices`):
register your own class there, or give an import path ``package.module:Class`` as the name.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from sptok.discriminators.base import DiscriminatorOutput, FeatureMaps, check_waveform
from sptok.discriminators.mpd import MultiPeriodDiscriminator
from sptok.discriminators.msd import MultiScaleDiscriminator
from sptok.discriminators.msstft import MultiScaleSTFTDiscriminator
from sptok.utils.registry import ClassChoices, ConfigError

discriminator_choices = ClassChoices(
    "discriminator",
    {"mpd": MultiPeriodDiscriminator, "msd": MultiScaleDiscriminator, "msstft": MultiScaleSTFTDiscriminator},
    type_check=nn.Module,
)

DiscriminatorSpec = Union[Sequence[str], Mapping[str, Optional[Mapping]]]


class CombinedDiscriminator(nn.Module):
    """Runs several multi-discriminators on the same waveform and concatenates their outputs.

    Args:
        discriminators: name -> discriminator; each maps ``[B, 1, N]`` to (logits, feature maps)
            and has ``sub_names``. The insertion order fixes the output order.
    """

    def __init__(self, discriminators: Mapping[str, nn.Module]) -> None:
        super().__init__()
        if len(discriminators) == 0:
            raise ValueError("discriminators: need at least one discriminator")
        self.discriminators = nn.ModuleDict(discriminators)

    @property
    def sub_names(self) -> List[str]:
        """One ``name/sub`` label per output, e.g. ``mpd/p2``, in output order."""
        return [f"{name}/{sub}" for name, d in self.discriminators.items() for sub in d.sub_names]

    def forward(self, y: torch.Tensor) -> DiscriminatorOutput:
        """``y [B, 1, N]`` -> (logits ``[B, L_k]`` of every sub-discriminator, their feature maps)."""
        check_waveform(y, type(self).__name__)
        logits: List[torch.Tensor] = []
        feature_maps: List[FeatureMaps] = []
        for discriminator in self.discriminators.values():
            sub_logits, sub_feature_maps = discriminator(y)
            logits.extend(sub_logits)
            feature_maps.extend(sub_feature_maps)
        return logits, feature_maps


def build_discriminator(spec: DiscriminatorSpec) -> CombinedDiscriminator:
    """Build a :class:`CombinedDiscriminator` from a list of names or a name -> options mapping.

    Raises:
        ConfigError (a ValueError): unknown or repeated name, options the discriminator does not
            accept, or option values it rejects; the message names the discriminator.
    """
    if isinstance(spec, str) or not isinstance(spec, (Sequence, Mapping)):
        raise ConfigError(f"discriminators: expected a list of names or a mapping name -> options, got {spec!r}")
    if isinstance(spec, Mapping):
        items = [(name, conf) for name, conf in spec.items()]
    else:
        duplicates = sorted({str(name) for name in spec if list(spec).count(name) > 1})
        if duplicates:
            raise ConfigError(f"discriminators: repeated name(s) {', '.join(duplicates)}")
        items = [(name, None) for name in spec]
    built: Dict[str, nn.Module] = {}
    for name, conf in items:
        try:
            # Module names cannot hold '.': an import-path name is stored with '_' instead.
            built[str(name).replace(".", "_").replace(":", "_")] = discriminator_choices.build(name, conf)
        except ValueError as error:  # ConfigError, or a value the constructor rejects
            raise ConfigError(f"discriminators: {name}: {error}") from error
    if not built:
        raise ConfigError("discriminators: need at least one discriminator")
    return CombinedDiscriminator(built)


def score_real_and_fake(
    discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor
) -> Tuple[List[torch.Tensor], List[torch.Tensor], List[FeatureMaps], List[FeatureMaps]]:
    """Score real and generated waveforms in one forward pass over their concatenated batch.

    One pass instead of two halves the kernel launches and keeps DDP to one forward per backward.
    The discriminators here have no batch statistics, so this equals two separate calls (in
    training mode spectral normalisation then runs one power iteration instead of two).

    Args:
        real, fake: ``[B, 1, N]`` each (same shape).

    Returns:
        ``(real_logits, fake_logits, real_feature_maps, fake_feature_maps)``.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake waveforms differ in shape: {tuple(real.shape)} vs {tuple(fake.shape)}")
    batch = real.size(0)
    logits, feature_maps = discriminator(torch.cat([real, fake], dim=0))
    real_logits = [logit[:batch] for logit in logits]
    fake_logits = [logit[batch:] for logit in logits]
    real_maps = [[fmap[:batch] for fmap in maps] for maps in feature_maps]
    fake_maps = [[fmap[batch:] for fmap in maps] for maps in feature_maps]
    return real_logits, fake_logits, real_maps, fake_maps
