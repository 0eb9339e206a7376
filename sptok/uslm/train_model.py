"""USLM wrapped for the generic trainer (non-GAN: no discriminator).

:class:`USLM` holds the AR and/or the NAR model; its ``forward(batch)`` returns every loss in
one call, so DDP sees one forward per step. :class:`USLMTrainModel` adds the trainer's contract
(``generator``, ``discriminator = None``, ``forward_generator``, ``generator_loss``,
``validation_stats``); see /work/notes/train_interface.md.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import torch
from torch import nn

from sptok.uslm.ar_model import USLMARModel
from sptok.uslm.nar_model import USLMNARModel

VALIDATION_SEED = 1234


class USLM(nn.Module):
    """AR and/or NAR model trained together (USLM's ``train_stage`` 0, 1 or 2).

    Args:
        ar: the AR model or None (NAR-only training).
        nar: the NAR model or None (AR-only training).
    """

    def __init__(self, ar: Optional[USLMARModel], nar: Optional[USLMNARModel]):
        super().__init__()
        if ar is None and nar is None:
            raise ValueError("USLM needs an AR model, a NAR model, or both")
        self.ar = ar
        self.nar = nar

    def forward(self, batch: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
        """Loss of a batch: ``loss`` = AR loss + NAR loss, stats prefixed ``ar_`` / ``nar_``."""
        out: Dict[str, torch.Tensor] = {}
        total = 0
        for name, model in (("ar", self.ar), ("nar", self.nar)):
            if model is None:
                continue
            result = model(batch)
            total = total + result["loss"]
            out.update({f"{name}_{key}": value for key, value in result.items()})
        out["loss"] = total
        return out


def _detached(stats: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    return {key: value.detach() for key, value in stats.items() if key != "loss"}


class USLMTrainModel(nn.Module):
    """The trainer-facing model: ``generator`` is a :class:`USLM`, ``discriminator`` is None."""

    def __init__(self, generator: USLM):
        super().__init__()
        self.generator = generator
        self.discriminator: Optional[nn.Module] = None

    def forward_generator(self, generator: nn.Module, batch: Mapping[str, Any]
                          ) -> Dict[str, torch.Tensor]:
        """Run ``generator`` (the USLM or its DDP wrapper) on the batch."""
        return generator(batch)

    def generator_loss(self, discriminator: Optional[nn.Module], batch: Mapping[str, Any],
                       out: Mapping[str, torch.Tensor]
                       ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """The loss computed in the forward pass and its detached stats."""
        stats = _detached(out)
        stats["loss"] = out["loss"].detach()
        return out["loss"], stats

    def discriminator_loss(self, discriminator: Optional[nn.Module], batch: Mapping[str, Any],
                           out: Mapping[str, torch.Tensor]) -> Tuple[torch.Tensor, Dict]:
        raise RuntimeError("USLM has no discriminator; the trainer must not call "
                           "discriminator_loss")

    def validation_stats(self, generator: nn.Module, batch: Mapping[str, Any]
                         ) -> Dict[str, float]:
        """Losses and accuracies of a validation batch.

        The NAR prompt lengths and levels are random; they are drawn from a fixed seed here
        (without disturbing the training RNG) so that validation numbers are comparable.
        """
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(VALIDATION_SEED)
            out = generator(batch)
        return {key: float(value) for key, value in out.items()}
