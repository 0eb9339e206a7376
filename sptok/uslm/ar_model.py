"""USLM's autoregressive model: a decoder-only transformer over [phonemes ; RVQ-1 codes].

Sequence layout (one item)::

    text:   p_0 ... p_{S-1}                 positions 0..S-1 (text encoding)
    audio:  BOS c_0 c_1 ... c_{T-1}         positions 0..T   (audio encoding)
    target:     c_0 c_1 ... c_{T-1} EOS

Text rows attend to the text only (bidirectionally: a prefix LM); audio rows attend to all
text and to earlier audio. The audio input vocabulary is ``codebook_size`` codes, EOS (also
used to fill padding, which is masked) and BOS; the output vocabulary is the codes and EOS.
Upstream VALL-E/USLM start the audio with the first prompt code instead of a BOS; the BOS
makes the first frame predictable too and costs one position.

Three ways to run it: :meth:`forward` (training loss on a batch dict), :meth:`prefill` +
:meth:`step` (decoding with a KV cache), and :meth:`last_logits` (decoding by recomputing the
whole prefix, the upstream way, kept as the reference the cache is tested against).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from sptok.uslm.batch import IGNORE_INDEX, unpack_batch
from sptok.uslm.embeddings import (ScaledSinusoidalPositions, left_padded_positions,
                                   left_padded_valid, lengths_to_valid)
from sptok.uslm.kv_cache import KVCache
from sptok.uslm.masks import padding_mask, prefix_lm_mask
from sptok.uslm.transformer import Transformer


@dataclass
class ARDecodingState:
    """Everything cached decoding carries from step to step, for B items.

    Attributes:
        caches: one :class:`KVCache` per transformer layer ([B, H, L, Dh] each).
        key_valid: [B, L] bool, which cached positions are real (not padding).
        next_position: [B] long audio position of the next token of each item.
    """

    caches: List[KVCache]
    key_valid: torch.Tensor
    next_position: torch.Tensor

    @property
    def batch_size(self) -> int:
        return self.key_valid.shape[0]

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only batch rows ``rows`` ([n] long), e.g. drop finished items."""
        for cache in self.caches:
            cache.keep(rows)
        self.key_valid = self.key_valid.index_select(0, rows)
        self.next_position = self.next_position.index_select(0, rows)


def accuracy_stats(logits: torch.Tensor, targets: torch.Tensor, prefix: str = ""
                   ) -> Dict[str, torch.Tensor]:
    """Top-1 and top-10 accuracy over non-ignored targets (no gradient; top-k with k =
    min(10, V)).

    Args:
        logits: [N, V]; targets: [N] with IGNORE_INDEX where not counted.
    """
    with torch.no_grad():
        valid = targets != IGNORE_INDEX
        count = valid.sum().clamp(min=1)
        top1 = (logits.argmax(-1) == targets) & valid
        stats = {f"{prefix}accuracy": top1.sum() / count}
        # Same key for every vocabulary size (configs name it), k capped by the vocabulary.
        k = min(10, logits.shape[-1])
        topk = (logits.topk(k, dim=-1).indices == targets[:, None]).any(-1) & valid
        stats[f"{prefix}top10_accuracy"] = topk.sum() / count
    return stats


class USLMARModel(nn.Module):
    """AR model of USLM/VALL-E: predicts RVQ-1 codes from phonemes (and a prompt's codes).

    Args:
        num_phonemes: text vocabulary size (ids 0..num_phonemes-1).
        codebook_size: codes per RVQ level (1024 for SpeechTokenizer).
        d_model: width (paper: 1024).
        num_heads: attention heads (paper: 16).
        num_layers: transformer blocks (paper: 12).
        ffn_dim: feed-forward width (paper: 4096).
        dropout: dropout of positions, attention, residual branches and FFN.
        activation: FFN activation, ``relu`` (VALL-E) or ``gelu``.
    """

    def __init__(self, num_phonemes: int, codebook_size: int = 1024, d_model: int = 1024,
                 num_heads: int = 16, num_layers: int = 12, ffn_dim: int = 4096,
                 dropout: float = 0.1, activation: str = "relu"):
        super().__init__()
        if num_phonemes < 1 or codebook_size < 1:
            raise ValueError(f"num_phonemes ({num_phonemes}) and codebook_size "
                             f"({codebook_size}) must be positive")
        self.num_phonemes = num_phonemes
        self.codebook_size = codebook_size
        self.d_model = d_model
        self.text_embedding = nn.Embedding(num_phonemes, d_model)
        self.audio_embedding = nn.Embedding(codebook_size + 2, d_model)
        self.text_positions = ScaledSinusoidalPositions(d_model, dropout)
        self.audio_positions = ScaledSinusoidalPositions(d_model, dropout)
        self.transformer = Transformer(d_model, num_heads, num_layers, ffn_dim, dropout,
                                       activation)
        self.head = nn.Linear(d_model, codebook_size + 1)

    @property
    def eos_id(self) -> int:
        """Output (and padding-input) id of end-of-speech."""
        return self.codebook_size

    @property
    def bos_id(self) -> int:
        """Input id that starts every audio sequence."""
        return self.codebook_size + 1

    @property
    def vocab_size(self) -> int:
        """Output classes: the codes and EOS."""
        return self.codebook_size + 1

    # ---- shared pieces

    def _embed_text(self, phonemes: torch.Tensor, phoneme_lengths: torch.Tensor
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
        batch, length = phonemes.shape
        valid = lengths_to_valid(phoneme_lengths, length)
        positions = torch.arange(length, device=phonemes.device).expand(batch, length)
        embedded = self.text_embedding(phonemes.masked_fill(~valid, 0))
        return self.text_positions(embedded, positions), valid

    def _embed_audio(self, tokens: torch.Tensor, valid: torch.Tensor,
                     positions: torch.Tensor) -> torch.Tensor:
        return self.audio_positions(self.audio_embedding(tokens.masked_fill(~valid, self.eos_id)),
                                    positions)

    def hidden_states(self, phonemes: torch.Tensor, phoneme_lengths: torch.Tensor,
                      audio_tokens: torch.Tensor, audio_valid: torch.Tensor,
                      audio_positions: torch.Tensor) -> torch.Tensor:
        """Final hidden states of a whole [text ; audio] sequence.

        Args:
            phonemes: [B, S] right-padded; phoneme_lengths: [B] (>= 1).
            audio_tokens: [B, A] input ids (codes, BOS); padding anywhere, marked by
                ``audio_valid`` [B, A] bool; the real columns must be in time order.
            audio_positions: [B, A] audio position of every column.

        Returns:
            [B, S + A, D].
        """
        text, text_valid = self._embed_text(phonemes, phoneme_lengths)
        audio = self._embed_audio(audio_tokens, audio_valid, audio_positions)
        mask = prefix_lm_mask(text_valid, audio_valid)
        return self.transformer(torch.cat([text, audio], dim=1), mask)

    # ---- training

    def teacher_forcing(self, codes: torch.Tensor, code_lengths: torch.Tensor
                        ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Inputs ``[BOS, c]`` and targets ``[c, EOS]`` of right-padded RVQ-1 codes.

        Args:
            codes: [B, T] RVQ-1 codes; code_lengths: [B].

        Returns:
            inputs [B, T + 1], targets [B, T + 1] (IGNORE_INDEX on padding), valid [B, T + 1].
        """
        batch, length = codes.shape
        filled = codes.masked_fill(~lengths_to_valid(code_lengths, length), self.eos_id)
        inputs = torch.cat([filled.new_full((batch, 1), self.bos_id), filled], dim=1)
        # Column code_lengths[b] holds the first filler, i.e. EOS: the stop target.
        targets = torch.cat([filled, filled.new_full((batch, 1), self.eos_id)], dim=1)
        valid = lengths_to_valid(code_lengths + 1, length + 1)
        return inputs, targets.masked_fill(~valid, IGNORE_INDEX), valid

    def logits(self, phonemes: torch.Tensor, phoneme_lengths: torch.Tensor,
               codes: torch.Tensor, code_lengths: torch.Tensor
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced logits of the audio positions.

        Args:
            phonemes: [B, S]; phoneme_lengths: [B]; codes: [B, T] RVQ-1; code_lengths: [B].

        Returns:
            logits [B, T + 1, codebook_size + 1] and targets [B, T + 1].
        """
        inputs, targets, valid = self.teacher_forcing(codes, code_lengths)
        positions = torch.arange(inputs.shape[1], device=inputs.device).expand_as(inputs)
        hidden = self.hidden_states(phonemes, phoneme_lengths, inputs, valid, positions)
        return self.head(hidden[:, phonemes.shape[1]:]), targets

    def forward(self, batch: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
        """Training/validation loss of a batch (see :mod:`sptok.uslm.batch`; uses level 1).

        Returns:
            dict with ``loss`` (mean CE over real target frames incl. EOS, with gradient),
            ``accuracy``, ``top10_accuracy`` and ``num_frames`` (detached).
        """
        phonemes, phoneme_lengths, codes, code_lengths = unpack_batch(batch)
        logits, targets = self.logits(phonemes, phoneme_lengths, codes[:, 0], code_lengths)
        flat_logits, flat_targets = logits.flatten(0, 1), targets.flatten()
        loss = F.cross_entropy(flat_logits.float(), flat_targets, ignore_index=IGNORE_INDEX)
        out = {"loss": loss, **accuracy_stats(flat_logits, flat_targets)}
        out["num_frames"] = (flat_targets != IGNORE_INDEX).sum().detach()
        return out

    # ---- decoding

    def _left_padded_audio(self, audio_tokens: torch.Tensor, audio_lengths: torch.Tensor
                           ) -> Tuple[torch.Tensor, torch.Tensor]:
        if bool((audio_lengths < 1).any()):
            raise ValueError("every decoding item needs at least its BOS audio token")
        width = audio_tokens.shape[1]
        return (left_padded_valid(audio_lengths, width),
                left_padded_positions(audio_lengths, width))

    @torch.no_grad()
    def prefill(self, phonemes: torch.Tensor, phoneme_lengths: torch.Tensor,
                audio_tokens: torch.Tensor, audio_lengths: torch.Tensor, capacity: int = 0
                ) -> Tuple[torch.Tensor, ARDecodingState]:
        """Start cached decoding: run the known prefix once and cache its keys and values.

        Args:
            phonemes: [B, S] right-padded; phoneme_lengths: [B].
            audio_tokens: [B, A] LEFT-padded audio inputs (BOS then prompt codes), so that the
                last column of every item is its newest token.
            audio_lengths: [B] real columns (>= 1).
            capacity: positions to reserve in each layer cache (prefix + expected new steps).

        Returns:
            logits [B, V] for the next token, and the decoding state for :meth:`step`.
        """
        audio_valid, positions = self._left_padded_audio(audio_tokens, audio_lengths)
        text, text_valid = self._embed_text(phonemes, phoneme_lengths)
        audio = self._embed_audio(audio_tokens, audio_valid, positions)
        caches = [KVCache(capacity) for _ in range(self.transformer.num_layers)]
        hidden = self.transformer(torch.cat([text, audio], dim=1),
                                  prefix_lm_mask(text_valid, audio_valid), caches=caches)
        state = ARDecodingState(caches, torch.cat([text_valid, audio_valid], dim=1),
                                audio_lengths.clone())
        return self.head(hidden[:, -1]), state

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, state: ARDecodingState) -> torch.Tensor:
        """Feed one new token per item through the cache.

        Args:
            tokens: [B] the tokens chosen at the previous step.
            state: from :meth:`prefill` (updated in place).

        Returns:
            [B, V] logits for the following token.
        """
        if tokens.shape != (state.batch_size,):
            raise ValueError(f"step needs [{state.batch_size}] tokens, got {list(tokens.shape)}")
        positions = state.next_position[:, None]
        new = self.audio_positions(self.audio_embedding(tokens[:, None]), positions)
        state.key_valid = torch.cat([state.key_valid, state.key_valid.new_ones(
            state.batch_size, 1)], dim=1)
        # The newest position may see every real cached position: text and earlier audio.
        hidden = self.transformer(new, padding_mask(state.key_valid), caches=state.caches)
        state.next_position = state.next_position + 1
        return self.head(hidden[:, 0])

    @torch.no_grad()
    def last_logits(self, phonemes: torch.Tensor, phoneme_lengths: torch.Tensor,
                    audio_tokens: torch.Tensor, audio_lengths: torch.Tensor) -> torch.Tensor:
        """Uncached decoding step: recompute the whole prefix and return the next-token logits.

        Same arguments as :meth:`prefill` (audio LEFT-padded); returns [B, V].
        """
        audio_valid, positions = self._left_padded_audio(audio_tokens, audio_lengths)
        hidden = self.hidden_states(phonemes, phoneme_lengths, audio_tokens, audio_valid,
                                    positions)
        return self.head(hidden[:, -1])
