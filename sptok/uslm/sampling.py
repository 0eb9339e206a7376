"""Next-token choice for AR decoding: greedy, or sampling with temperature, top-k and top-p.

Sampling draws ONE uniform number per item and step and inverts the item's cumulative
distribution. With one ``torch.Generator`` per item, an item's tokens therefore depend only on
its own logits and its own generator, not on which other items share the batch: batched
decoding gives the same tokens as decoding the items one by one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import torch

Generators = Union[None, torch.Generator, Sequence[torch.Generator]]


@dataclass(frozen=True)
class SamplingOptions:
    """How to pick the next token.

    Attributes:
        greedy: take the most likely token (temperature, top_k, top_p are then ignored).
        temperature: divide the logits by this (> 0) before the softmax.
        top_k: keep only the k most likely tokens (0: all).
        top_p: keep the smallest set of most likely tokens whose probability reaches top_p
            (nucleus sampling; 1.0: all).
    """

    greedy: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature} "
                             "(use greedy=True for argmax decoding)")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0: off), got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Set the logits of tokens outside the top-k / top-p set to -inf.

    Args:
        logits: [B, V].
        top_k: keep the k largest per row (0: no top-k filter).
        top_p: keep the smallest prefix of the sorted distribution whose mass reaches top_p;
            the most likely token is always kept (1.0: no top-p filter).

    Returns:
        [B, V] filtered copy.
    """
    logits = logits.clone()
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits.masked_fill_(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = sorted_logits.float().softmax(dim=-1)
        mass_before = probs.cumsum(dim=-1) - probs
        drop_sorted = mass_before >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits.masked_fill_(drop, float("-inf"))
    return logits


def draw_uniform(batch: int, generator: Generators, device: torch.device) -> torch.Tensor:
    """[batch] uniform numbers in [0, 1): from one generator per item, one shared generator,
    or the global RNG."""
    if generator is None:
        return torch.rand(batch, device=device)
    if isinstance(generator, torch.Generator):
        return torch.rand(batch, generator=generator, device=generator.device).to(device)
    if len(generator) != batch:
        raise ValueError(f"got {len(generator)} generators for {batch} items")
    return torch.stack([torch.rand((), generator=g, device=g.device).to(device)
                        for g in generator])


def choose_tokens(logits: torch.Tensor, options: SamplingOptions,
                  generator: Generators = None) -> torch.Tensor:
    """Pick one token per row.

    Args:
        logits: [B, V].
        options: greedy or sampling settings.
        generator: None (global RNG), one generator for the batch, or one per row.

    Returns:
        [B] long token ids.
    """
    if options.greedy:
        return logits.argmax(dim=-1)
    filtered = filter_logits(logits.float() / options.temperature, options.top_k, options.top_p)
    cdf = filtered.softmax(dim=-1).cumsum(dim=-1)
    uniform = draw_uniform(logits.shape[0], generator, logits.device)
    threshold = uniform[:, None] * cdf[:, -1:]
    # right=True: the first token whose cumulative mass exceeds the threshold, so tokens of
    # probability zero (filtered out) can never be chosen.
    tokens = torch.searchsorted(cdf, threshold, right=True).squeeze(-1)
    return tokens.clamp(max=logits.shape[-1] - 1)


def make_generators(seed: int, count: int, device: Optional[torch.device] = None
                    ) -> list[torch.Generator]:
    """One generator per item, seeded ``seed, seed + 1, ...``."""
    generators = []
    for index in range(count):
        generator = torch.Generator(device=device or "cpu")
        generator.manual_seed(seed + index)
        generators.append(generator)
    return generators
