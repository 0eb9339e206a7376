"""Residual vector quantizer (RVQ) with EMA codebooks: SoundStream / EnCodec / SpeechTokenizer.

Level 1 quantises the latent, level 2 what level 1 left over, and so on; the quantized latent is
the sum of the chosen code vectors. Codebooks learn by EMA k-means (no gradients), the encoder
learns through the straight-through estimator and the commitment loss of each level.

Two ways of forming the residual (``residual_gradient``):

- ``"encodec"``: residual_{i+1} = residual_i - ste_i with ste_i = residual_i + (q_i -
  residual_i).detach(), EnCodec's (and official SpeechTokenizer's) code. Its gradient with respect
  to the input is exactly zero, so the commitment losses of levels 2.. never reach the encoder
  (EnCodec issue #25); the output still passes the gradient straight through level 1. Kept for
  faithful reproduction of the released models.
- ``"corrected"``: residual_{i+1} = residual_i - q_i (q_i a code vector, no gradient), so every
  residual keeps the identity gradient and every level's commitment loss reaches the encoder; the
  output is x + (sum q_i - x).detach(), whose gradient is again the identity.

In evaluation both modes compute residual_i - q_i and sum q_i (identical numbers).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

from sptok.quantization import distributed
from sptok.quantization.codebook import EuclideanCodebook
from sptok.quantization.usage import code_counts, perplexity_from_counts
from sptok.quantization.vq import VectorQuantizer

RESIDUAL_GRADIENTS = ("encodec", "corrected")


@dataclass
class QuantizerOutput:
    """Result of :meth:`ResidualVQ.forward` for an input [B, D, T] quantised with n_q levels.

    Attributes:
        quantized: [B, D, T] sum of the code vectors of the levels each item used (input dtype).
        codes: [B, n_q, T] long. With quantizer dropout, the codes of an item's dropped levels
            are computed but not used in ``quantized``, the losses or the codebook updates.
        commit_loss: [n_q] commitment loss of each level (already times commitment_weight).
        quantized_levels: n_q tensors [B, D, T]: each level's (straight-through) contribution,
            zero for items that dropped that level. ``quantized_levels[0]`` is RVQ-1's output,
            the student of the semantic distillation.
        n_levels: [B] long, number of levels each item used (n_q without dropout).
        perplexity: [n_q] exp(entropy) of each level's code distribution over counted frames
            (this rank's batch; no gradient).
    """

    quantized: torch.Tensor
    codes: torch.Tensor
    commit_loss: torch.Tensor
    quantized_levels: list[torch.Tensor] = field(default_factory=list)
    n_levels: Optional[torch.Tensor] = None
    perplexity: Optional[torch.Tensor] = None

    @property
    def penalty(self) -> torch.Tensor:
        """Scalar commitment penalty: the mean over levels, as official SpeechTokenizer returns."""
        return self.commit_loss.mean()

    @property
    def first_level(self) -> torch.Tensor:
        """[B, D, T] output of level 1 (RVQ-1)."""
        return self.quantized_levels[0]


class ResidualVQ(nn.Module):
    """Residual vector quantizer over latents [B, D, T].

    State-dict keys are ``vq.layers.{i}._codebook.{inited,cluster_size,embed,embed_avg}``, as in
    EnCodec and the official SpeechTokenizer (its ``quantizer.`` sub-dict loads as is).

    Args:
        dimension: latent dimension D (codebooks live in the latent space, no projection).
        n_q: number of levels.
        codebook_size: codes per level.
        decay: EMA decay of the codebooks.
        epsilon: Laplace smoothing of the EMA counts.
        kmeans_init: initialise each codebook by k-means on its first training batch.
        kmeans_iters: k-means iterations.
        threshold_ema_dead_code: a code whose EMA count falls below this is replaced by a random
            vector of the batch; 0 disables replacement.
        quantizer_dropout: in training, the probability that an item uses only its first k
            levels, k uniform in 1..n_q (DAC); 0 disables.
        commitment_weight: factor of each level's commitment loss.
        residual_gradient: ``"encodec"`` (upstream behaviour) or ``"corrected"``, see the module
            docstring.
        dead_code_every: check for dead codes every this many training steps (fewer broadcasts).
    """

    def __init__(self, dimension: int = 1024, n_q: int = 8, codebook_size: int = 1024,
                 decay: float = 0.99, epsilon: float = 1e-5, kmeans_init: bool = True,
                 kmeans_iters: int = 50, threshold_ema_dead_code: float = 2,
                 quantizer_dropout: float = 0.0, commitment_weight: float = 1.0,
                 residual_gradient: str = "encodec", dead_code_every: int = 1):
        super().__init__()
        if n_q < 1:
            raise ValueError(f"n_q must be >= 1, got {n_q}")
        if not 0.0 <= quantizer_dropout <= 1.0:
            raise ValueError(f"quantizer_dropout must lie in [0, 1], got {quantizer_dropout}")
        if residual_gradient not in RESIDUAL_GRADIENTS:
            raise ValueError(f"residual_gradient must be one of {RESIDUAL_GRADIENTS}, "
                             f"got {residual_gradient!r}")
        if dead_code_every < 1:
            raise ValueError(f"dead_code_every must be >= 1, got {dead_code_every}")
        self.dimension = dimension
        self.n_q = n_q
        self.codebook_size = codebook_size
        self.quantizer_dropout = quantizer_dropout
        self.residual_gradient = residual_gradient
        self.dead_code_every = dead_code_every
        self.threshold_ema_dead_code = float(threshold_ema_dead_code)
        # ModuleDict only to reproduce the official key layout "vq.layers.{i}".
        self.vq = nn.ModuleDict({"layers": nn.ModuleList([
            VectorQuantizer(dimension, codebook_size, commitment_weight=commitment_weight,
                            kmeans_init=kmeans_init, kmeans_iters=kmeans_iters, decay=decay,
                            epsilon=epsilon, threshold_ema_dead_code=threshold_ema_dead_code)
            for _ in range(n_q)])})
        self._training_steps = 0  # host-side counter for dead_code_every (same on every rank)

    @property
    def layers(self) -> nn.ModuleList:
        """The n_q :class:`VectorQuantizer` levels."""
        return self.vq["layers"]

    @property
    def codebooks(self) -> list[EuclideanCodebook]:
        return [layer.codebook for layer in self.layers]

    # ------------------------------------------------------------------ checks
    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[1] != self.dimension:
            raise ValueError(f"ResidualVQ expects latents [B, {self.dimension}, T], "
                             f"got shape {list(x.shape)}")

    def _check_levels(self, n_q: Optional[int], start_level: int) -> int:
        if not 0 <= start_level < self.n_q:
            raise ValueError(f"start_level must lie in [0, {self.n_q - 1}], got {start_level}")
        if n_q is None:
            return self.n_q - start_level
        if not 1 <= n_q <= self.n_q - start_level:
            raise ValueError(f"n_q must lie in [1, {self.n_q - start_level}] "
                             f"(start_level={start_level}, {self.n_q} levels), got {n_q}")
        return n_q

    def _frame_weights(self, x: torch.Tensor, mask: Optional[torch.Tensor],
                       lengths: Optional[torch.Tensor]) -> torch.Tensor:
        """[B, T] float: 1 on valid frames, 0 on padding."""
        batch, _, frames = x.shape
        if mask is not None and lengths is not None:
            raise ValueError("give either mask or lengths, not both")
        if lengths is not None:
            lengths = torch.as_tensor(lengths, device=x.device)
            if lengths.shape != (batch,) or lengths.dtype.is_floating_point:
                raise ValueError(f"lengths must be an integer tensor [B]={[batch]}, "
                                 f"got {lengths.dtype} {list(lengths.shape)}")
            if batch > 0 and (int(lengths.min()) < 0 or int(lengths.max()) > frames):
                raise ValueError(f"lengths must lie in [0, {frames}] (frames of the input), got "
                                 f"[{int(lengths.min())}, {int(lengths.max())}]")
            mask = torch.arange(frames, device=x.device)[None, :] < lengths[:, None]
        if mask is None:
            return x.new_ones(batch, frames, dtype=torch.float32)
        if mask.shape != (batch, frames):
            raise ValueError(f"mask must be [B, T]={[batch, frames]}, got {list(mask.shape)}")
        return mask.to(device=x.device, dtype=torch.bool).float()

    def _levels_per_item(self, batch: int, n_q: int, device: torch.device) -> torch.Tensor:
        """[B] number of levels each item uses: n_q, or with quantizer dropout in training,
        uniform in 1..n_q with probability quantizer_dropout."""
        full = torch.full((batch,), n_q, dtype=torch.long, device=device)
        if not self.training or self.quantizer_dropout <= 0:
            return full
        dropped = torch.rand(batch, device=device) < self.quantizer_dropout
        random_levels = torch.randint(1, n_q + 1, (batch,), device=device)
        return torch.where(dropped, random_levels, full)

    # ------------------------------------------------------------------ training forward
    def forward(self, x: torch.Tensor, n_q: Optional[int] = None,
                mask: Optional[torch.Tensor] = None,
                lengths: Optional[torch.Tensor] = None) -> QuantizerOutput:
        """Quantise latents x [B, D, T] with the first n_q levels (default all).

        In training this also updates the codebooks (k-means init on the first batch, EMA,
        dead-code replacement), collectively across DDP ranks.

        Args:
            x: [B, D, T] latents.
            n_q: number of levels (per batch, EnCodec-style bandwidth choice).
            mask: [B, T], True on valid frames; or
            lengths: [B] valid frames per item. Padded frames get codes but do not enter
                k-means, the EMA statistics, the commitment loss or the usage statistics.
        """
        self._check_input(x)
        n_q = self._check_levels(n_q, 0)
        batch, dim, frames = x.shape
        frame_weights = self._frame_weights(x, mask, lengths).reshape(-1)  # [N]
        n_levels = self._levels_per_item(batch, n_q, x.device)
        # keep[b, i]: item b uses level i. Expanded to rows of the flattened batch.
        keep = torch.arange(n_q, device=x.device)[None, :] < n_levels[:, None]
        keep_rows = keep[:, None, :].expand(batch, frames, n_q).reshape(-1, n_q).float()

        # Distances, EMA and losses in float32 whatever the autocast context: bf16 distances
        # pick wrong codes and EMA sums lose mass.
        with torch.autocast(device_type=x.device.type, enabled=False):
            flat = x.float().transpose(1, 2).reshape(batch * frames, dim)  # [N, D]
            residual = flat
            quantized_total = torch.zeros_like(flat)
            vectors_total = torch.zeros_like(flat)
            codes, losses, levels_out = [], [], []
            statistics, level_inputs, level_weights, counts_for_metrics = [], [], [], []
            for i, layer in enumerate(self.layers[:n_q]):
                weights = frame_weights * keep_rows[:, i]
                out = layer(residual, weights)
                kept_quantized = out.quantized * keep_rows[:, i:i + 1]
                quantized_total = quantized_total + kept_quantized
                vectors_total = vectors_total + out.vectors * keep_rows[:, i:i + 1]
                codes.append(out.codes)
                losses.append(out.commit_loss)
                levels_out.append(kept_quantized)
                if self.training:
                    counts, sums = layer.codebook.batch_statistics(residual.detach(), out.codes,
                                                                   weights)
                    statistics.append((counts, sums))
                    level_inputs.append(residual.detach())
                    level_weights.append(weights)
                    counts_for_metrics.append(counts.clone())
                if self.residual_gradient == "encodec":
                    residual = residual - out.quantized
                else:
                    residual = residual - out.vectors
            if self.training and self.residual_gradient == "corrected":
                quantized_total = flat + (vectors_total - flat).detach()

        codes_tensor = torch.stack([c.view(batch, frames) for c in codes], dim=1)
        if self.training:
            perplexity = perplexity_from_counts(torch.stack(counts_for_metrics))
            self._update_codebooks(n_q, statistics, level_inputs, level_weights)
        else:
            perplexity = perplexity_from_counts(code_counts(
                codes_tensor, self.codebook_size, frame_weights.view(batch, frames) > 0))

        def to_bdt(v: torch.Tensor) -> torch.Tensor:
            return v.view(batch, frames, dim).transpose(1, 2).to(x.dtype)

        return QuantizerOutput(
            quantized=to_bdt(quantized_total),
            codes=codes_tensor,
            commit_loss=torch.stack(losses),
            quantized_levels=[to_bdt(v) for v in levels_out],
            n_levels=n_levels,
            perplexity=perplexity.detach(),
        )

    @torch.no_grad()
    def _update_codebooks(self, n_q: int, statistics: list[tuple[torch.Tensor, torch.Tensor]],
                          level_inputs: list[torch.Tensor], level_weights: list[torch.Tensor]
                          ) -> None:
        """EMA update of the first n_q codebooks from this step's statistics, summed over ranks,
        then (every dead_code_every steps) dead-code replacement with rank 0's vectors."""
        codebooks = self.codebooks[:n_q]
        distributed.all_reduce_sum_([t for pair in statistics for t in pair])
        for codebook, (counts, sums) in zip(codebooks, statistics):
            # ``initialized`` is the same on every rank (broadcast at init).
            if codebook.initialized:
                codebook.ema_update_(counts, sums)
        self._training_steps += 1
        if self.threshold_ema_dead_code <= 0 or self._training_steps % self.dead_code_every:
            return
        candidates = torch.stack([codebook.dead_code_candidates(inputs, weights)
                                  for codebook, inputs, weights
                                  in zip(codebooks, level_inputs, level_weights)])
        distributed.broadcast_([candidates], src=0)
        for codebook, level_candidates in zip(codebooks, candidates):
            if codebook.initialized:
                codebook.replace_dead_codes_(level_candidates)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def encode(self, x: torch.Tensor, n_q: Optional[int] = None, start_level: int = 0,
               restart_residual: bool = False) -> torch.Tensor:
        """Codes [B, n_q, T] (long) of levels start_level .. start_level + n_q - 1 for x [B, D, T].

        By default the residual chain runs from level 0, so the result equals
        ``encode(x)[:, start_level:start_level + n_q]``. ``restart_residual=True`` reproduces
        official SpeechTokenizer's ``encode(st=...)``, which feeds x itself to level start_level.
        (Official ``n_q`` is an end level; here it is a number of levels.)
        """
        self._check_input(x)
        n_q = self._check_levels(n_q, start_level)
        batch, dim, frames = x.shape
        with torch.autocast(device_type=x.device.type, enabled=False):
            residual = x.float().transpose(1, 2).reshape(batch * frames, dim)
            codes = []
            first = start_level if restart_residual else 0
            for i in range(first, start_level + n_q):
                codebook = self.layers[i].codebook
                level_codes = codebook.nearest(residual)
                residual = residual - codebook.lookup(level_codes)
                if i >= start_level:
                    codes.append(level_codes.view(batch, frames))
        return torch.stack(codes, dim=1)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, start_level: int = 0) -> torch.Tensor:
        """Latents [B, D, T]: the sum of the code vectors of codes [B, k, T], whose rows are
        levels start_level .. start_level + k - 1 (any contiguous range of levels)."""
        if codes.dim() != 3:
            raise ValueError(f"codes must be [B, n_q, T], got shape {list(codes.shape)}")
        if codes.dtype.is_floating_point or codes.dtype == torch.bool or codes.is_complex():
            raise ValueError(f"codes must be an integer tensor, got {codes.dtype}")
        n_q = self._check_levels(codes.shape[1], start_level)
        if codes.numel() > 0:
            low, high = int(codes.min()), int(codes.max())
            if low < 0 or high >= self.codebook_size:
                raise ValueError(f"codes must lie in [0, {self.codebook_size - 1}] "
                                 f"(codebook_size), got values in [{low}, {high}]")
        codes = codes.long()
        quantized = None
        for i in range(n_q):
            vectors = self.layers[start_level + i].codebook.lookup(codes[:, i])  # [B, T, D]
            quantized = vectors if quantized is None else quantized + vectors
        return quantized.transpose(1, 2)

    # ------------------------------------------------------------------ meta
    def meta(self) -> dict[str, int]:
        """Numbers a downstream user needs: levels, codebook size, latent dimension."""
        return {"n_q": self.n_q, "codebook_size": self.codebook_size,
                "dimension": self.dimension}
