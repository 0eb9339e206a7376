"""The codec as the generic trainer sees it: generator, discriminator and their loss functions.

Implements the task side of ``notes/train_interface.md``: ``generator``, ``discriminator``,
``forward_generator``, ``discriminator_loss``, ``generator_loss``, ``validation_stats`` and
``media``. Per batch the trainer runs forward_generator, then (with a discriminator) one
discriminator step on the detached output, then one generator step.

Generator loss (SpeechTokenizer's public training code; every weight is a ``model_conf`` key)::

    lambda_feat * feature matching + lambda_adv * LSGAN + lambda_mel * multi-resolution mel
    + lambda_commit * mean commitment + lambda_wav * waveform L1 + lambda_distill * distillation

Discriminator warm-up: for the first ``discriminator_warmup_steps`` generator steps the
generator trains on the reconstruction losses only and the discriminator is not run. A trainer
that asks :meth:`SpeechTokenizerGAN.discriminator_enabled` skips the discriminator step entirely;
one that does not gets a zero loss whose gradients are exactly zero (an Adam step with zero
gradients and no history leaves the weights unchanged; decoupled weight decay still applies).
The step count is a buffer, so it is saved in checkpoints and resumes with them.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

from sptok.discriminators.combined import score_real_and_fake
from sptok.losses.gan import (discriminator_adversarial_loss, feature_matching_loss,
                              generator_adversarial_loss)
from sptok.losses.waveform import waveform_l1_loss
from sptok.models.speechtokenizer import SpeechTokenizerModel
from sptok.models.teacher_targets import TeacherTargets

Stats = Dict[str, Any]


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel (or similar) wrapper."""
    return getattr(module, "module", module)


class SpeechTokenizerGAN(nn.Module):
    """Trainable SpeechTokenizer: generator + discriminators + losses + distillation targets.

    Args:
        generator: the codec (:class:`SpeechTokenizerModel`).
        discriminator: waveform discriminator (``[B, 1, N] -> (logits, feature maps)``), or None
            to train on the reconstruction losses only.
        mel_loss: multi-resolution mel loss module ``(estimate, target, lengths) -> scalar``
            (with ``resolution_losses`` for per-resolution logging).
        distill_loss: ``(student [B,T,D], teacher [B,T',D], lengths) -> scalar``, or None.
        teacher: source of the distillation targets, or None (no distillation).
        lambda_feat: feature-matching weight (public code: 2).
        lambda_adv: adversarial weight (1).
        lambda_mel: weight of the mel loss, whose own per-resolution weights are 45, 1, 1, 1.
        lambda_commit: weight of the commitment loss averaged over levels (10).
        lambda_wav: waveform L1 weight (500).
        lambda_distill: distillation weight (120; the released checkpoint's config says 0.15 on
            another scale, see the reference notes).
        discriminator_warmup_steps: training batches (generator_loss calls with gradients;
            updates when accum_grad is 1) trained without the discriminator.
        feat_match_normalize_by_real: EnCodec's relative feature-matching L1 instead of the
            HiFi-GAN/SpeechTokenizer absolute one.
        valid_n_q: extra level counts scored in validation (``mel_distance_q<k>``): shows how
            much of the signal the first levels carry.
    """

    def __init__(self, generator: SpeechTokenizerModel, discriminator: Optional[nn.Module],
                 mel_loss: nn.Module, distill_loss: Optional[nn.Module],
                 teacher: Optional[TeacherTargets], lambda_feat: float = 2.0,
                 lambda_adv: float = 1.0, lambda_mel: float = 1.0, lambda_commit: float = 10.0,
                 lambda_wav: float = 500.0, lambda_distill: float = 120.0,
                 discriminator_warmup_steps: int = 0, feat_match_normalize_by_real: bool = False,
                 valid_n_q: Sequence[int] = (1,)):
        super().__init__()
        if (teacher is None) != (distill_loss is None):
            raise ValueError("teacher and distill_loss must be both set or both 'none' "
                             f"(got teacher={type(teacher).__name__ if teacher else None}, "
                             f"distill_loss={type(distill_loss).__name__ if distill_loss else None})")
        if (teacher is None) != (generator.semantic_head is None):
            raise ValueError("the generator has a semantic head only when distilling")
        if teacher is not None and teacher.feature_dim != generator.semantic_dim:
            raise ValueError(f"teacher feature_dim {teacher.feature_dim} differs from the "
                             f"semantic head output {generator.semantic_dim}")
        if discriminator_warmup_steps < 0:
            raise ValueError(f"discriminator_warmup_steps must be >= 0, got "
                             f"{discriminator_warmup_steps}")
        for k in valid_n_q:
            if not 1 <= int(k) <= generator.n_q:
                raise ValueError(f"valid_n_q: {k} is not a level count in [1, {generator.n_q}]")
        self.generator = generator
        self.discriminator = discriminator
        self.mel_loss = mel_loss
        self.distill_loss = distill_loss
        self.teacher = teacher  # not an nn.Module: never trained, never checkpointed
        self.lambda_feat = float(lambda_feat)
        self.lambda_adv = float(lambda_adv)
        self.lambda_mel = float(lambda_mel)
        self.lambda_commit = float(lambda_commit)
        self.lambda_wav = float(lambda_wav)
        self.lambda_distill = float(lambda_distill)
        self.discriminator_warmup_steps = int(discriminator_warmup_steps)
        self.feat_match_normalize_by_real = bool(feat_match_normalize_by_real)
        self.valid_n_q = [int(k) for k in valid_n_q]
        # Generator steps taken (training generator_loss calls); decides the warm-up.
        self.register_buffer("generator_steps", torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------ state
    def discriminator_enabled(self) -> bool:
        """Whether this step trains with the discriminator (after the warm-up)."""
        return (self.discriminator is not None
                and int(self.generator_steps) >= self.discriminator_warmup_steps)

    @staticmethod
    def _batch_wav(batch: Mapping[str, Any]) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        if "wav" not in batch:
            raise ValueError(f"batch has no 'wav' (keys: {sorted(batch)})")
        return batch["wav"], batch.get("lengths")

    # ------------------------------------------------------------------ forward
    def forward_generator(self, generator: nn.Module, batch: Mapping[str, Any]) -> Dict[str, Any]:
        """Run the generator (``generator`` may be a DDP wrapper) and fetch the teacher targets.

        Returns the generator's dict (see :meth:`SpeechTokenizerModel.forward`) plus
        ``teacher_feats`` [B, T', D] and ``teacher_lengths`` [B] when distilling.
        """
        wav, lengths = self._batch_wav(batch)
        out = dict(generator(wav, lengths))
        if self.teacher is not None:
            feats, feat_lengths = self.teacher.targets(batch, wav, out["lengths"])
            out["teacher_feats"] = feats
            out["teacher_lengths"] = feat_lengths
        return out

    def forward(self, wav: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> Dict[str, Any]:
        """The generator's forward (so ``model(wav)`` does what one expects)."""
        return self.generator(wav, lengths)

    # ------------------------------------------------------------------ losses
    def _distill(self, out: Mapping[str, Any]) -> torch.Tensor:
        lengths = torch.minimum(out["frame_lengths"], out["teacher_lengths"].to(out["frame_lengths"]))
        # float32 whatever the autocast: cosines over whole utterances lose too much in bf16.
        with torch.autocast(device_type=out["semantic"].device.type, enabled=False):
            return self.distill_loss(out["semantic"].float(), out["teacher_feats"].float(), lengths)

    def _mel(self, estimate: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor
             ) -> Tuple[torch.Tensor, Stats]:
        if hasattr(self.mel_loss, "resolution_losses"):
            per_resolution = self.mel_loss.resolution_losses(estimate, target, lengths)
            total = sum(w * l for w, l in zip(self.mel_loss.weights, per_resolution))
            stats = {f"mel_l1_r{i}": l.detach() for i, l in enumerate(per_resolution)}
            return total, stats
        return self.mel_loss(estimate, target, lengths), {}

    def generator_loss(self, discriminator: Optional[nn.Module], batch: Mapping[str, Any],
                       out: Mapping[str, Any]) -> Tuple[torch.Tensor, Stats]:
        """Weighted generator loss and its terms (detached) for logging (the trainer logs
        the total itself, as ``loss_g``)."""
        wav, _ = self._batch_wav(batch)
        wav_hat, lengths = out["wav_hat"], out["lengths"]
        loss_mel, stats = self._mel(wav_hat, wav, lengths)
        loss_wav = waveform_l1_loss(wav_hat, wav, lengths)
        loss_commit = out["commit_loss"].mean()
        loss = (self.lambda_mel * loss_mel + self.lambda_wav * loss_wav
                + self.lambda_commit * loss_commit)
        stats.update(loss_mel=loss_mel.detach(), loss_wav=loss_wav.detach(),
                     loss_commit=loss_commit.detach())
        if self.distill_loss is not None:
            loss_distill = self._distill(out)
            loss = loss + self.lambda_distill * loss_distill
            stats["loss_distill"] = loss_distill.detach()
        if discriminator is not None and self.discriminator_enabled():
            _, fake_logits, real_maps, fake_maps = score_real_and_fake(discriminator, wav, wav_hat)
            loss_adv = generator_adversarial_loss(fake_logits)
            loss_feat = feature_matching_loss(real_maps, fake_maps,
                                              normalize_by_real=self.feat_match_normalize_by_real)
            loss = loss + self.lambda_adv * loss_adv + self.lambda_feat * loss_feat
            stats.update(loss_adv=loss_adv.detach(), loss_feat=loss_feat.detach())
        perplexity = out.get("perplexity")
        if perplexity is not None:
            stats.update({f"perplexity_q{i + 1}": p for i, p in enumerate(perplexity.detach())})
        if torch.is_grad_enabled() and self.training:
            self.generator_steps += 1
        return loss, stats

    def discriminator_loss(self, discriminator: Optional[nn.Module], batch: Mapping[str, Any],
                           out: Mapping[str, Any]) -> Tuple[torch.Tensor, Stats]:
        """LSGAN discriminator loss on real audio and the detached reconstruction; stats: mean
        scores ``d_real`` / ``d_fake`` (the trainer logs the loss itself, as ``loss_d``)."""
        if discriminator is None:
            raise ValueError("discriminator_loss called without a discriminator")
        if not self.discriminator_enabled():
            # Warm-up: exactly zero gradients without running the discriminator.
            zero = sum(p.sum() for p in discriminator.parameters()) * 0.0
            return zero, {}
        wav, _ = self._batch_wav(batch)
        real_logits, fake_logits, _, _ = score_real_and_fake(discriminator, wav,
                                                             out["wav_hat"].detach())
        loss = discriminator_adversarial_loss(real_logits, fake_logits)
        stats = {
            "d_real": torch.stack([l.detach().mean() for l in real_logits]).mean(),
            "d_fake": torch.stack([l.detach().mean() for l in fake_logits]).mean(),
        }
        return loss, stats

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def validation_stats(self, generator: nn.Module, batch: Mapping[str, Any]) -> Dict[str, float]:
        """Cheap quality numbers on a validation batch (the caller sets eval mode).

        ``mel_distance``: log-mel L1 at the first mel resolution (upstream's "mel error"),
        also ``mel_distance_q<k>`` decoding only the first k levels; ``mel_loss`` (weighted,
        all resolutions); ``wav_l1``; ``commit_loss``; ``distill_loss`` when distilling;
        ``perplexity`` mean codebook perplexity over levels.
        """
        wav, lengths = self._batch_wav(batch)
        out = self.forward_generator(generator, batch)
        mel_total, per_resolution = self._mel(out["wav_hat"], wav, out["lengths"])
        stats: Dict[str, float] = {
            "mel_distance": float(per_resolution.get("mel_l1_r0", mel_total)),
            "mel_loss": float(mel_total),
            "wav_l1": float(waveform_l1_loss(out["wav_hat"], wav, out["lengths"])),
            "commit_loss": float(out["commit_loss"].mean()),
        }
        if out.get("perplexity") is not None:
            stats["perplexity"] = float(out["perplexity"].float().mean())
        if self.distill_loss is not None:
            stats["distill_loss"] = float(self._distill(out))
        plain = unwrap(generator)
        for k in self.valid_n_q:
            if k == plain.n_q:
                stats[f"mel_distance_q{k}"] = stats["mel_distance"]
                continue
            partial = plain(wav, lengths, n_q=k)
            mel_k, per_res_k = self._mel(partial["wav_hat"], wav, partial["lengths"])
            stats[f"mel_distance_q{k}"] = float(per_res_k.get("mel_l1_r0", mel_k))
        return stats

    def media(self, batch: Mapping[str, Any], out: Mapping[str, Any]) -> Dict[str, Tuple]:
        """The first item's input and reconstruction, for TensorBoard."""
        wav, _ = self._batch_wav(batch)
        length = int(out["lengths"][0])
        rate = unwrap(self.generator).sample_rate
        return {
            "audio/input": ("audio", wav[0, 0, :length].detach().float().cpu(), rate),
            "audio/reconstruction": ("audio", out["wav_hat"][0, 0, :length].detach().float().cpu(),
                                     rate),
        }
