"""Zero-shot TTS decoding on token tensors: AR generation of RVQ-1, NAR completion of 2..n_q.

:func:`generate` is the whole pipeline for a batch: the AR model continues the prompt's RVQ-1
codes given ``prompt phonemes + target phonemes`` until EOS (or the length guard), then the NAR
model fills in levels 2..n_q greedily, one level per pass, with the prompt's real codes at every
level. Waveform synthesis (codes -> SpeechTokenizer decoder) is not part of this module.

:func:`ar_generate` decodes a batch with per-item lengths and per-item stopping, either with a
KV cache (:meth:`USLMARModel.prefill` / :meth:`~USLMARModel.step`) or, as the reference, by
recomputing the whole prefix at every step as public USLM/VALL-E code does.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Sequence, Union

import torch
from torch import nn

from sptok.uslm.ar_model import USLMARModel
from sptok.uslm.nar_model import USLMNARModel
from sptok.uslm.sampling import Generators, SamplingOptions, choose_tokens

FRAMES_PER_PHONEME = 16  # upstream's length guard: stop after 16 frames per text token


@contextlib.contextmanager
def eval_mode(*modules: Optional[nn.Module]) -> Iterator[None]:
    """Switch modules to eval (no dropout) for the block and restore their training flags."""
    present = [m for m in modules if m is not None]
    flags = [m.training for m in present]
    try:
        for module in present:
            module.eval()
        yield
    finally:
        for module, flag in zip(present, flags):
            module.train(flag)


def pad_right(rows: Sequence[torch.Tensor], value: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack 1-D rows (or [C, n] matrices along their last axis) with right padding.

    Returns:
        padded [B, max_n] (or [B, C, max_n]) and lengths [B] long.
    """
    lengths = torch.tensor([row.shape[-1] for row in rows], dtype=torch.long)
    width = int(lengths.max()) if len(rows) else 0
    padded = rows[0].new_full((len(rows), *rows[0].shape[:-1], width), value)
    for index, row in enumerate(rows):
        padded[index, ..., :row.shape[-1]] = row
    return padded, lengths.to(rows[0].device)


def pad_left(rows: Sequence[torch.Tensor], value: int = 0) -> torch.Tensor:
    """Stack 1-D rows with left padding: [B, max_n], each row ending in the last column."""
    width = max(row.shape[0] for row in rows)
    padded = rows[0].new_full((len(rows), width), value)
    for index, row in enumerate(rows):
        padded[index, width - row.shape[0]:] = row
    return padded


@dataclass
class ARGenerationOutput:
    """Result of :func:`ar_generate` for B items.

    Attributes:
        codes: B tensors [n_b] long, the generated RVQ-1 codes (prompt and EOS excluded).
        stopped_by_eos: [B] bool, False where the length limit stopped the item.
        step_logits: with ``return_logits``, per step a [B_active, V] tensor of the raw logits
            of the items still running, and ``step_items`` their batch indices.
    """

    codes: List[torch.Tensor]
    stopped_by_eos: torch.Tensor
    step_logits: List[torch.Tensor] = field(default_factory=list)
    step_items: List[torch.Tensor] = field(default_factory=list)

    @property
    def lengths(self) -> torch.Tensor:
        """[B] generated frames per item."""
        return torch.tensor([c.shape[0] for c in self.codes], dtype=torch.long)


def _select_generators(generator: Generators, items: Sequence[int]) -> Generators:
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    return [generator[i] for i in items]


@torch.no_grad()
def ar_generate(ar: USLMARModel, phonemes: torch.Tensor, phoneme_lengths: torch.Tensor,
                prompt_codes: torch.Tensor, prompt_lengths: torch.Tensor,
                max_new_frames: Union[int, torch.Tensor], *,
                sampling: SamplingOptions = SamplingOptions(), generator: Generators = None,
                ignore_eos: bool = False, use_cache: bool = True,
                return_logits: bool = False) -> ARGenerationOutput:
    """Autoregressive decoding of RVQ-1 codes for a batch.

    Args:
        ar: the AR model (put in eval mode for the call).
        phonemes: [B, S] right-padded text (prompt phonemes + target phonemes);
            phoneme_lengths: [B] (>= 1).
        prompt_codes: [B, Tp] right-padded RVQ-1 codes of the acoustic prompts;
            prompt_lengths: [B] (may be 0: decoding starts from BOS alone).
        max_new_frames: int or [B] long, most frames to generate per item.
        sampling: greedy or sampling settings.
        generator: None (global RNG), one torch.Generator, or one per item (then each item's
            tokens do not depend on the rest of the batch).
        ignore_eos: never choose EOS (forces max_new_frames frames, for benchmarks).
        use_cache: KV-cache decoding; False recomputes the whole prefix every step.
        return_logits: keep every step's logits (tests).

    Returns:
        :class:`ARGenerationOutput`.
    """
    batch = phonemes.shape[0]
    device = phonemes.device
    phoneme_lengths = phoneme_lengths.to(device)
    limits_tensor = (torch.full((batch,), max_new_frames, dtype=torch.long)
                     if isinstance(max_new_frames, int) else max_new_frames.cpu().long())
    if limits_tensor.shape != (batch,) or bool((limits_tensor < 0).any()):
        raise ValueError(f"max_new_frames must be >= 0 for each of {batch} items, "
                         f"got {limits_tensor.tolist()}")
    limits: List[int] = limits_tensor.tolist()
    # Audio inputs: BOS + prompt codes, left-padded so that every item's newest token is in the
    # last column.
    histories: List[List[int]] = []
    for index in range(batch):
        prompt = prompt_codes[index, :int(prompt_lengths[index])].tolist()
        histories.append([ar.bos_id, *prompt])
    generated: List[List[int]] = [[] for _ in range(batch)]
    stopped_by_eos = torch.zeros(batch, dtype=torch.bool)
    active = [index for index in range(batch) if limits[index] > 0]
    out = ARGenerationOutput([], stopped_by_eos)
    if not active:
        out.codes = [torch.zeros(0, dtype=torch.long, device=device) for _ in range(batch)]
        return out

    def audio_batch(items: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [torch.tensor(histories[i], dtype=torch.long) for i in items]
        lengths = torch.tensor([len(histories[i]) for i in items], dtype=torch.long)
        return pad_left(rows, ar.eos_id).to(device), lengths.to(device)

    with eval_mode(ar):
        rows = torch.tensor(active, device=device)
        audio, audio_lengths = audio_batch(active)
        if use_cache:
            capacity = phonemes.shape[1] + audio.shape[1] + max(limits)
            logits, state = ar.prefill(phonemes[rows], phoneme_lengths[rows], audio,
                                       audio_lengths, capacity=capacity)
        else:
            logits = ar.last_logits(phonemes[rows], phoneme_lengths[rows], audio, audio_lengths)
        while True:
            if return_logits:
                out.step_logits.append(logits.clone())
                out.step_items.append(torch.tensor(active))
            if ignore_eos:
                logits[:, ar.eos_id] = float("-inf")
            tokens = choose_tokens(logits, sampling, _select_generators(generator, active))
            still_running: List[int] = []
            for row, (item, token) in enumerate(zip(active, tokens.tolist())):
                if token == ar.eos_id:
                    stopped_by_eos[item] = True
                    continue
                generated[item].append(token)
                histories[item].append(token)
                if len(generated[item]) < limits[item]:
                    still_running.append(row)
            if not still_running:
                break
            keep = torch.tensor(still_running, device=device)
            next_tokens = tokens.index_select(0, keep)
            active = [active[row] for row in still_running]
            if use_cache:
                if len(still_running) < state.batch_size:
                    state.keep(keep)
                logits = ar.step(next_tokens, state)
            else:
                rows = torch.tensor(active, device=device)
                audio, audio_lengths = audio_batch(active)
                logits = ar.last_logits(phonemes[rows], phoneme_lengths[rows], audio,
                                        audio_lengths)
    out.codes = [torch.tensor(codes, dtype=torch.long, device=device) for codes in generated]
    return out


@torch.no_grad()
def nar_decode(nar: USLMNARModel, phonemes: torch.Tensor, phoneme_lengths: torch.Tensor,
               prompt_codes: torch.Tensor, prompt_lengths: torch.Tensor,
               first_level: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    """Greedy NAR decoding of levels 2..n_q for a batch.

    Args:
        nar: the NAR model (put in eval mode for the call).
        phonemes: [B, S] right-padded text (prompt + target); phoneme_lengths: [B].
        prompt_codes: [B, >= n_q, Tp] right-padded prompt codes; prompt_lengths: [B].
        first_level: B tensors [n_b] of RVQ-1 codes of the frames to complete.

    Returns:
        B tensors [n_q, n_b]: level 1 as given, levels 2..n_q predicted.
    """
    batch = phonemes.shape[0]
    device = phonemes.device
    phoneme_lengths = phoneme_lengths.to(device)
    n_q = nar.n_q
    frames = [int(prompt_lengths[b]) + first_level[b].shape[0] for b in range(batch)]
    codes = torch.zeros(batch, n_q, max(frames), dtype=torch.long, device=device)
    for b in range(batch):
        prompt_length = int(prompt_lengths[b])
        codes[b, :, :prompt_length] = prompt_codes[b, :n_q, :prompt_length]
        codes[b, 0, prompt_length:frames[b]] = first_level[b]
    code_lengths = torch.tensor(frames, dtype=torch.long, device=device)
    prompt_lengths = prompt_lengths.to(device)
    positions = torch.arange(codes.shape[2], device=device)[None, :]
    to_predict = (positions >= prompt_lengths[:, None]) & (positions < code_lengths[:, None])
    with eval_mode(nar):
        for level in range(2, n_q + 1):
            levels = torch.full((batch,), level, dtype=torch.long, device=device)
            logits = nar.logits(phonemes, phoneme_lengths, codes, code_lengths, prompt_lengths,
                                levels)
            codes[:, level - 1] = torch.where(to_predict, logits.argmax(-1), codes[:, level - 1])
    return [codes[b, :, int(prompt_lengths[b]):frames[b]] for b in range(batch)]


def _check_ids(name: str, index: int, values: torch.Tensor, limit: int) -> None:
    if values.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.bool):
        raise ValueError(f"{name}[{index}] must hold integer ids, got {values.dtype}")
    if values.numel() and (int(values.min()) < 0 or int(values.max()) >= limit):
        bad = values[(values < 0) | (values >= limit)].unique().tolist()
        raise ValueError(f"{name}[{index}] has ids {bad} outside 0..{limit - 1}")


@torch.no_grad()
def generate(ar: USLMARModel, nar: Optional[USLMNARModel], phonemes: Sequence[torch.Tensor],
             prompt_phonemes: Sequence[torch.Tensor], prompt_codes: Sequence[torch.Tensor], *,
             sampling: SamplingOptions = SamplingOptions(), generator: Generators = None,
             max_frames: Optional[int] = None, frames_per_phoneme: int = FRAMES_PER_PHONEME,
             min_prompt_frames: int = 10, use_cache: bool = True) -> List[torch.Tensor]:
    """Zero-shot TTS on tokens: speak each text in the voice of its acoustic prompt.

    Args:
        ar: AR model; nar: NAR model (None: return level 1 only).
        phonemes: B tensors [S_b] of target phoneme ids (non-empty).
        prompt_phonemes: B tensors [P_b] of the prompt's transcript phonemes.
        prompt_codes: B tensors [n_q', Tp_b] of the prompt's RVQ codes (n_q' >= nar.n_q; only
            the first nar.n_q levels are used).
        sampling: AR sampling settings (upstream: sampling at temperature 1, optional top-k).
        generator: None, one torch.Generator, or one per item (batch-independent results).
        max_frames: cap on generated frames per item (None: no cap beyond the guard).
        frames_per_phoneme: length guard, at most this many frames per target phoneme.
        min_prompt_frames: shortest accepted acoustic prompt.
        use_cache: KV-cache AR decoding (False: recompute the prefix, upstream behaviour).

    Returns:
        B tensors [n_q, T_b] long of generated codes (prompt excluded), on the models' device.

    Raises:
        ValueError: inconsistent batch, empty text, too short prompt, out-of-range ids, or
            models that do not fit together.
    """
    batch = len(phonemes)
    if batch == 0 or len(prompt_phonemes) != batch or len(prompt_codes) != batch:
        raise ValueError(f"need the same non-zero number of texts ({len(phonemes)}), prompt "
                         f"transcripts ({len(prompt_phonemes)}) and prompt codes "
                         f"({len(prompt_codes)})")
    if nar is not None and (nar.num_phonemes != ar.num_phonemes
                            or nar.codebook_size != ar.codebook_size):
        raise ValueError(f"AR (phonemes {ar.num_phonemes}, codebook {ar.codebook_size}) and NAR "
                         f"(phonemes {nar.num_phonemes}, codebook {nar.codebook_size}) do not fit")
    if min_prompt_frames < 1:
        raise ValueError(f"min_prompt_frames must be >= 1, got {min_prompt_frames}")
    n_q = nar.n_q if nar is not None else 1
    device = next(ar.parameters()).device
    texts, prompts = [], []
    for b in range(batch):
        text, prompt_text, codes = phonemes[b], prompt_phonemes[b], prompt_codes[b]
        if text.dim() != 1 or prompt_text.dim() != 1:
            raise ValueError(f"phonemes[{b}] and prompt_phonemes[{b}] must be 1-D id tensors, "
                             f"got {list(text.shape)} and {list(prompt_text.shape)}")
        if text.numel() == 0:
            raise ValueError(f"phonemes[{b}] is empty: nothing to say")
        _check_ids("phonemes", b, text, ar.num_phonemes)
        _check_ids("prompt_phonemes", b, prompt_text, ar.num_phonemes)
        if codes.dim() != 2 or codes.shape[0] < n_q:
            raise ValueError(f"prompt_codes[{b}] must be [n_q >= {n_q}, Tp], "
                             f"got {list(codes.shape)}")
        if codes.shape[1] < min_prompt_frames:
            raise ValueError(f"prompt_codes[{b}] has {codes.shape[1]} frames, fewer than "
                             f"min_prompt_frames={min_prompt_frames}")
        _check_ids("prompt_codes", b, codes[:n_q], ar.codebook_size)
        texts.append(torch.cat([prompt_text, text]).long().to(device))
        prompts.append(codes[:n_q].long().to(device))
    limits = torch.tensor([frames_per_phoneme * t.numel() for t in phonemes], dtype=torch.long)
    if max_frames is not None:
        limits = limits.clamp(max=max_frames)
    text_batch, text_lengths = pad_right(texts)
    prompt_batch, prompt_lengths = pad_right(prompts)
    with eval_mode(ar, nar):
        first = ar_generate(ar, text_batch, text_lengths, prompt_batch[:, 0], prompt_lengths,
                            limits, sampling=sampling, generator=generator,
                            use_cache=use_cache).codes
        if nar is None:
            return [codes[None, :] for codes in first]
        return nar_decode(nar, text_batch, text_lengths, prompt_batch, prompt_lengths, first)
