"""Optimizers and learning-rate schedules chosen by name in a training config.

    optim: adam                 # the generator's optimizer (non-GAN tasks: the model's)
    optim_conf: {lr: 1.0e-4, betas: [0.9, 0.99]}
    scheduler: cosine           # stepped once per optimizer update
    scheduler_conf: {warmup_steps: 1000}
    optim_d: adam               # the discriminator's, same choices
    scheduler_d: exponential

Every schedule here multiplies the optimizer's configured ``lr`` by a factor that is a closed
form of the update count (no chained state), starting with an optional linear warm-up. The
trainer passes ``total_steps`` (updates of the whole run) to schedules that take it. Any
``torch.optim`` optimizer or scheduler also works by import path
(``optim: torch.optim:SGD``), as do user classes.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import torch
from torch.optim.lr_scheduler import LRScheduler

from sptok.utils.registry import ClassChoices

__all__ = ["Adam", "AdamW", "FactorScheduler", "ConstantLR", "CosineLR", "ExponentialDecayLR",
           "NoamLR", "WarmupLinearLR", "optimizer_choices", "scheduler_choices",
           "build_optimizer", "build_scheduler"]

Params = Iterable[Union[torch.Tensor, dict[str, Any]]]


class Adam(torch.optim.Adam):
    """torch.optim.Adam with only the options a config needs (a readable --print_config)."""

    def __init__(self, params: Params, lr: float = 1e-3, betas: Sequence[float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=_betas(betas), eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)


class AdamW(torch.optim.AdamW):
    """torch.optim.AdamW (decoupled weight decay) with only the options a config needs."""

    def __init__(self, params: Params, lr: float = 1e-3, betas: Sequence[float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=_betas(betas), eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)


def _betas(betas: Sequence[float]) -> tuple[float, float]:
    if len(betas) != 2:
        raise ValueError(f"betas: expected two numbers [beta1, beta2], got {list(betas)}")
    return float(betas[0]), float(betas[1])


class FactorScheduler(LRScheduler):
    """Base of the schedules here: lr of update ``s`` (0-based) = configured lr * factor(s).

    ``factor`` is a pure function of ``s``, so a restored ``last_epoch`` (the update count)
    restores the schedule exactly. Warm-up, when ``warmup_steps`` > 0, ramps linearly from
    ``1 / warmup_steps`` at the first update to 1 at update ``warmup_steps - 1``; subclasses
    define the factor after it in :meth:`decay` (``s`` counted from the end of warm-up).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, warmup_steps: int = 0):
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be non-negative, got {warmup_steps}")
        self.warmup_steps = int(warmup_steps)
        super().__init__(optimizer)

    def decay(self, step: int) -> float:
        raise NotImplementedError

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        return self.decay(step - self.warmup_steps)

    def get_lr(self) -> list[float]:
        factor = self.factor(max(self.last_epoch, 0))
        return [base_lr * factor for base_lr in self.base_lrs]


class ConstantLR(FactorScheduler):
    """The configured lr after an optional warm-up."""

    def decay(self, step: int) -> float:
        return 1.0


class CosineLR(FactorScheduler):
    """Half a cosine from the configured lr down to ``min_lr_ratio`` times it, reached at the
    last update of the run (``total_steps``, given by the trainer).

    Args:
        warmup_steps: linear warm-up updates before the cosine.
        min_lr_ratio: final lr as a fraction of the configured one.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int,
                 warmup_steps: int = 0, min_lr_ratio: float = 0.0):
        if total_steps is None or total_steps < 1:
            raise ValueError(f"cosine schedule: total_steps must be a positive number of "
                             f"updates, got {total_steps}")
        if warmup_steps >= total_steps:
            raise ValueError(f"cosine schedule: warmup_steps ({warmup_steps}) must be smaller "
                             f"than the total number of updates ({total_steps})")
        self.total_steps = int(total_steps)
        self.min_lr_ratio = float(min_lr_ratio)
        super().__init__(optimizer, warmup_steps)

    def decay(self, step: int) -> float:
        span = max(self.total_steps - self.warmup_steps - 1, 1)
        progress = min(step / span, 1.0)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * cosine


class ExponentialDecayLR(FactorScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` updates (after warm-up), not going
    below ``min_lr_ratio`` times the configured lr. ``step_size: 1`` is torch's ExponentialLR
    per update; e.g. gamma 0.98 with step_size = updates per epoch is a 0.98 decay per epoch.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, gamma: float = 0.999,
                 step_size: int = 1, warmup_steps: int = 0, min_lr_ratio: float = 0.0):
        if not 0 < gamma <= 1:
            raise ValueError(f"exponential schedule: gamma must be in (0, 1], got {gamma}")
        if step_size < 1:
            raise ValueError(f"exponential schedule: step_size must be at least 1, got "
                             f"{step_size}")
        self.gamma = float(gamma)
        self.step_size = int(step_size)
        self.min_lr_ratio = float(min_lr_ratio)
        super().__init__(optimizer, warmup_steps)

    def decay(self, step: int) -> float:
        return max(self.gamma ** (step // self.step_size), self.min_lr_ratio)


class NoamLR(FactorScheduler):
    """The Transformer schedule (ESPnet's WarmupLR): the factor rises linearly to 1 at update
    ``warmup_steps`` and then decays as ``sqrt(warmup_steps / update)``."""

    def __init__(self, optimizer: torch.optim.Optimizer, warmup_steps: int = 25000):
        if warmup_steps < 1:
            raise ValueError(f"noam schedule: warmup_steps must be at least 1, got "
                             f"{warmup_steps}")
        super().__init__(optimizer, warmup_steps)

    def factor(self, step: int) -> float:
        n = step + 1
        return self.warmup_steps ** 0.5 * min(n ** -0.5, n * self.warmup_steps ** -1.5)


class WarmupLinearLR(FactorScheduler):
    """Linear warm-up, then a straight line down to ``min_lr_ratio`` times the configured lr
    at the last update of the run (``total_steps``, given by the trainer)."""

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int,
                 warmup_steps: int = 0, min_lr_ratio: float = 0.0):
        if total_steps is None or total_steps < 1:
            raise ValueError(f"warmup_linear schedule: total_steps must be a positive number "
                             f"of updates, got {total_steps}")
        if warmup_steps >= total_steps:
            raise ValueError(f"warmup_linear schedule: warmup_steps ({warmup_steps}) must be "
                             f"smaller than the total number of updates ({total_steps})")
        self.total_steps = int(total_steps)
        self.min_lr_ratio = float(min_lr_ratio)
        super().__init__(optimizer, warmup_steps)

    def decay(self, step: int) -> float:
        span = max(self.total_steps - self.warmup_steps - 1, 1)
        progress = min(step / span, 1.0)
        return 1.0 - (1.0 - self.min_lr_ratio) * progress


OPTIMIZERS: dict[str, type] = {"adam": Adam, "adamw": AdamW}
SCHEDULERS: dict[str, type] = {
    "constant": ConstantLR,
    "cosine": CosineLR,
    "exponential": ExponentialDecayLR,
    "noam": NoamLR,
    "warmup_linear": WarmupLinearLR,
}


def optimizer_choices(name: str, default: str = "adam") -> ClassChoices:
    """Optimizer choices for the config key ``name`` (``optim`` or ``optim_d``)."""
    return ClassChoices(name, OPTIMIZERS, default=default, type_check=torch.optim.Optimizer,
                        injected=("params",))


def scheduler_choices(name: str, default: str = "constant") -> ClassChoices:
    """Schedule choices for ``name`` (``scheduler`` or ``scheduler_d``); ``none`` keeps the
    lr constant without warm-up."""
    return ClassChoices(name, SCHEDULERS, default=default, optional=True,
                        type_check=LRScheduler, injected=("optimizer", "total_steps"))


def build_optimizer(choices: ClassChoices, name: str, conf: Optional[Mapping[str, Any]],
                    params: Params) -> torch.optim.Optimizer:
    """The optimizer chosen by ``name`` over ``params``."""
    params = list(params)
    if not params:
        raise ValueError(f"{choices.name}: no trainable parameters to optimise (all frozen?)")
    return choices.build(name, conf, params=params)


def build_scheduler(choices: ClassChoices, name: Optional[str],
                    conf: Optional[Mapping[str, Any]], optimizer: torch.optim.Optimizer,
                    total_steps: int) -> Optional[LRScheduler]:
    """The schedule chosen by ``name`` (None for ``none``); ``total_steps`` goes only to
    classes whose constructor has that argument."""
    choices.check_conf(name, conf)
    cls = choices.get_class(name)
    if cls is None:
        return None
    try:
        accepts_total = "total_steps" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        accepts_total = False
    extra = {"total_steps": total_steps} if accepts_total else {}
    try:
        return cls(optimizer, **dict(conf or {}), **extra)
    except Exception as e:
        e.add_note(f"while building {choices.name} '{name}' from {choices.conf_key}="
                   f"{dict(conf or {})}")
        raise
