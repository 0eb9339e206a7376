"""USLM's non-autoregressive model: predicts RVQ level k (2..n_q) of all frames at once.

Input (one item)::

    text:   p_0 ... p_{S-1}                                   (text positions 0..S-1)
    audio:  prompt frames 0..P-1: sum of the embeddings of ALL n_q levels
            target frames P..T-1: sum of the embeddings of levels 1..k-1
                                                              (audio positions 0..T-1)

Attention is bidirectional over all real positions. Every layer norm takes its scale and bias
from an embedding of k (:class:`~sptok.uslm.transformer.LevelLayerNorm`), and level k has its
own output projection; the loss is CE on the target frames of level k only.

Training takes the acoustic prompt from the utterance itself: a random prefix of
``[prompt_min_ratio, prompt_max_ratio]`` of its frames, at most ``prompt_max_frames``
(150 = 3 s at 50 Hz), as VALL-E training does. Level schedules:

* ``uslm``: every step trains level 2 AND one random level of 3..n_q (USLM: level 2 carries most
  of the timbre); both run in one forward pass over the batch stacked twice, and the loss is the
  sum of the two per-frame means (USLM adds the two level losses).
* ``valle``: one random level of 2..n_q per item.

Levels are drawn per item (not per batch as upstream): one batch then trains several levels.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from sptok.uslm.ar_model import accuracy_stats
from sptok.uslm.batch import IGNORE_INDEX, unpack_batch
from sptok.uslm.embeddings import ScaledSinusoidalPositions, lengths_to_valid
from sptok.uslm.masks import padding_mask
from sptok.uslm.transformer import Transformer

LEVEL_SCHEDULES = ("uslm", "valle")


class USLMNARModel(nn.Module):
    """NAR model of USLM/VALL-E.

    Args:
        num_phonemes: text vocabulary size.
        codebook_size: codes per RVQ level.
        n_q: RVQ levels modelled (level 1 comes from the AR model; this predicts 2..n_q).
        d_model, num_heads, num_layers, ffn_dim, dropout, activation: as the AR model.
        level_schedule: ``uslm`` or ``valle`` (module docstring).
        prompt_max_frames: longest training prompt (150 = 3 s at 50 Hz).
        prompt_min_ratio, prompt_max_ratio: training prompt length range as a fraction of the
            utterance (VALL-E's prefix mode: 1/4 to 1/2).
    """

    def __init__(self, num_phonemes: int, codebook_size: int = 1024, n_q: int = 8,
                 d_model: int = 1024, num_heads: int = 16, num_layers: int = 12,
                 ffn_dim: int = 4096, dropout: float = 0.1, activation: str = "relu",
                 level_schedule: str = "uslm", prompt_max_frames: int = 150,
                 prompt_min_ratio: float = 0.25, prompt_max_ratio: float = 0.5):
        super().__init__()
        if n_q < 2:
            raise ValueError(f"the NAR model predicts levels 2..n_q; n_q must be >= 2, got {n_q}")
        if level_schedule not in LEVEL_SCHEDULES:
            raise ValueError(f"level_schedule must be one of {LEVEL_SCHEDULES}, "
                             f"got {level_schedule!r}")
        if not 0.0 <= prompt_min_ratio <= prompt_max_ratio < 1.0:
            raise ValueError("need 0 <= prompt_min_ratio <= prompt_max_ratio < 1, got "
                             f"{prompt_min_ratio}, {prompt_max_ratio}")
        if prompt_max_frames < 0:
            raise ValueError(f"prompt_max_frames must be >= 0, got {prompt_max_frames}")
        self.num_phonemes = num_phonemes
        self.codebook_size = codebook_size
        self.n_q = n_q
        self.d_model = d_model
        self.level_schedule = level_schedule
        self.prompt_max_frames = prompt_max_frames
        self.prompt_min_ratio = prompt_min_ratio
        self.prompt_max_ratio = prompt_max_ratio
        self.text_embedding = nn.Embedding(num_phonemes, d_model)
        self.audio_embeddings = nn.ModuleList(nn.Embedding(codebook_size, d_model)
                                              for _ in range(n_q))
        self.text_positions = ScaledSinusoidalPositions(d_model, dropout)
        self.audio_positions = ScaledSinusoidalPositions(d_model, dropout)
        self.transformer = Transformer(d_model, num_heads, num_layers, ffn_dim, dropout,
                                       activation, num_levels=n_q - 1)
        # Output projections of levels 2..n_q stacked in one parameter, so that every step
        # touches it (DDP needs no find_unused_parameters) whichever levels were drawn.
        bound = 1.0 / math.sqrt(d_model)
        self.head_weight = nn.Parameter(torch.empty(n_q - 1, codebook_size, d_model)
                                        .uniform_(-bound, bound))
        self.head_bias = nn.Parameter(torch.empty(n_q - 1, codebook_size).uniform_(-bound, bound))

    # ---- forward pieces

    def _check_levels(self, levels: torch.Tensor) -> None:
        if bool(((levels < 2) | (levels > self.n_q)).any()):
            raise ValueError(f"NAR levels must be in 2..{self.n_q}, got {levels.tolist()}")

    def audio_inputs(self, codes: torch.Tensor, prompt_lengths: torch.Tensor,
                     levels: torch.Tensor) -> torch.Tensor:
        """Summed level embeddings: all levels on prompt frames, levels < k on target frames.

        Args:
            codes: [B, n_q, T] codes (entries the item may not see are ignored, any value in
                range); prompt_lengths: [B]; levels: [B] level k being predicted (2..n_q).

        Returns:
            [B, T, D].
        """
        frames = codes.shape[2]
        in_prompt = lengths_to_valid(prompt_lengths, frames)
        total = 0
        for index, embedding in enumerate(self.audio_embeddings):
            # Level index + 1 is known on target frames iff it is below the predicted level.
            visible = in_prompt | (index + 1 < levels)[:, None]
            total = total + embedding(codes[:, index]) * visible[..., None].to(
                embedding.weight.dtype)
        return total

    def _project(self, hidden: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        """[B, T, D] -> [B, T, codebook_size] through each item's level head."""
        rows = levels - 2
        logits = hidden.new_empty(*hidden.shape[:2], self.codebook_size)
        for row in rows.unique().tolist():
            selected = (rows == row).nonzero(as_tuple=True)[0]
            logits[selected] = F.linear(hidden[selected], self.head_weight[row],
                                        self.head_bias[row])
        return logits

    def logits(self, phonemes: torch.Tensor, phoneme_lengths: torch.Tensor,
               codes: torch.Tensor, code_lengths: torch.Tensor, prompt_lengths: torch.Tensor,
               levels: torch.Tensor) -> torch.Tensor:
        """Logits of level ``levels[b]`` at every audio frame.

        Args:
            phonemes: [B, S] right-padded text of prompt + target; phoneme_lengths: [B].
            codes: [B, n_q, T] right-padded; code_lengths: [B] prompt + target frames.
            prompt_lengths: [B] leading frames whose codes are known at every level.
            levels: [B] long, level to predict per item (2..n_q).

        Returns:
            [B, T, codebook_size] (meaningful on target frames).
        """
        if codes.shape[1] < self.n_q:
            raise ValueError(f"NAR model needs {self.n_q} code levels, got {codes.shape[1]}")
        self._check_levels(levels)
        batch, num_text = phonemes.shape
        frames = codes.shape[2]
        text_valid = lengths_to_valid(phoneme_lengths, num_text)
        text_positions = torch.arange(num_text, device=phonemes.device).expand(batch, num_text)
        text = self.text_positions(self.text_embedding(phonemes.masked_fill(~text_valid, 0)),
                                   text_positions)
        audio_valid = lengths_to_valid(code_lengths, frames)
        audio_positions = torch.arange(frames, device=codes.device).expand(batch, frames)
        safe_codes = codes[:, :self.n_q].masked_fill(~audio_valid[:, None, :], 0)
        audio = self.audio_positions(self.audio_inputs(safe_codes, prompt_lengths, levels),
                                     audio_positions)
        mask = padding_mask(torch.cat([text_valid, audio_valid], dim=1))
        hidden = self.transformer(torch.cat([text, audio], dim=1), mask, level=levels - 2)
        return self._project(hidden[:, num_text:], levels)

    # ---- training

    def sample_prompt_lengths(self, code_lengths: torch.Tensor) -> torch.Tensor:
        """Random training prompt length per item, in frames (global torch RNG).

        Uniform in [floor(min_ratio T), floor(max_ratio T)], at most prompt_max_frames, and
        leaving at least one target frame (at least one prompt frame when T >= 2).
        """
        lengths = code_lengths.to(torch.float64)
        low = torch.floor(lengths * self.prompt_min_ratio)
        high = torch.maximum(torch.floor(lengths * self.prompt_max_ratio), low)
        draw = torch.rand(code_lengths.shape, dtype=torch.float64).to(code_lengths.device)
        prompt = (low + torch.floor(draw * (high - low + 1))).long()
        prompt = prompt.clamp(max=self.prompt_max_frames)
        return torch.minimum(prompt.clamp(min=1), (code_lengths - 1).clamp(min=0))

    def sample_upper_levels(self, batch: int, lowest: int, device: torch.device) -> torch.Tensor:
        """[batch] uniform random levels in lowest..n_q (global torch RNG)."""
        return torch.randint(lowest, self.n_q + 1, (batch,)).to(device)

    def _level_loss(self, logits: torch.Tensor, codes: torch.Tensor, code_lengths: torch.Tensor,
                    prompt_lengths: torch.Tensor, levels: torch.Tensor, prefix: str
                    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        frames = codes.shape[2]
        target_frames = (lengths_to_valid(code_lengths, frames)
                         & ~lengths_to_valid(prompt_lengths, frames))
        targets = codes.gather(1, (levels - 1)[:, None, None].expand(-1, 1, frames))[:, 0]
        targets = targets.masked_fill(~target_frames, IGNORE_INDEX)
        flat_logits, flat_targets = logits.flatten(0, 1), targets.flatten()
        if bool((flat_targets != IGNORE_INDEX).any()):
            loss = F.cross_entropy(flat_logits.float(), flat_targets, ignore_index=IGNORE_INDEX)
        else:
            # Only one-frame utterances (no target frame): keep the graph, add nothing.
            loss = flat_logits.sum() * 0.0
        stats = {f"{prefix}loss": loss.detach(),
                 **accuracy_stats(flat_logits, flat_targets, prefix)}
        return loss, stats

    def forward(self, batch: Mapping[str, Any], levels: Optional[torch.Tensor] = None,
                prompt_lengths: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """Training/validation loss of a batch (see :mod:`sptok.uslm.batch`).

        Args:
            batch: the batch dict (codes need >= n_q levels).
            levels: [B] fixed levels to train instead of the schedule (e.g. for validation
                of one level); prompt_lengths: [B] fixed prompt lengths instead of random ones.

        Returns:
            dict with ``loss`` (with gradient) and detached per-level-group stats
            (``level2_loss``, ``level2_accuracy``, ``upper_loss``, ...).
        """
        phonemes, phoneme_lengths, codes, code_lengths = unpack_batch(batch, self.n_q)
        batch_size = codes.shape[0]
        if prompt_lengths is None:
            prompt_lengths = self.sample_prompt_lengths(code_lengths)
        groups: Dict[str, torch.Tensor] = {}
        if levels is not None:
            groups["level"] = levels.to(codes.device)
        elif self.level_schedule == "valle":
            groups["level"] = self.sample_upper_levels(batch_size, 2, codes.device)
        else:
            groups["level2_"] = torch.full((batch_size,), 2, dtype=torch.long,
                                           device=codes.device)
            if self.n_q > 2:
                groups["upper_"] = self.sample_upper_levels(batch_size, 3, codes.device)
        copies = len(groups)
        all_levels = torch.cat(list(groups.values()))
        logits = self.logits(phonemes.repeat(copies, 1), phoneme_lengths.repeat(copies),
                             codes.repeat(copies, 1, 1), code_lengths.repeat(copies),
                             prompt_lengths.repeat(copies), all_levels)
        total = 0
        out: Dict[str, torch.Tensor] = {}
        for index, (prefix, group_levels) in enumerate(groups.items()):
            rows = slice(index * batch_size, (index + 1) * batch_size)
            prefix = "" if prefix == "level" else prefix
            loss, stats = self._level_loss(logits[rows], codes, code_lengths, prompt_lengths,
                                           group_levels, prefix)
            total = total + loss
            out.update(stats)
        out["loss"] = total
        return out
