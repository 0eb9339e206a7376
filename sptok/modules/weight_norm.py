"""Folding weight norm into plain weights for inference."""
from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _WeightNorm


def has_weight_norm(module: nn.Module) -> bool:
    """True if ``module`` itself has a weight-norm parametrization on ``weight``."""
    return (parametrize.is_parametrized(module, "weight")
            and any(isinstance(p, _WeightNorm) for p in module.parametrizations["weight"]))


def remove_weight_norm(model: nn.Module) -> nn.Module:
    """Replace every weight-norm parametrization in ``model`` by its current weight, in place.

    Outputs are unchanged and each forward no longer recomputes g * v / ||v||. Old-style
    ``torch.nn.utils.weight_norm`` hooks (weight_g / weight_v) are folded as well.
    Returns ``model``.
    """
    for module in model.modules():
        if has_weight_norm(module):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
        elif hasattr(module, "weight_g") and hasattr(module, "weight_v"):
            nn.utils.remove_weight_norm(module)
    return model
