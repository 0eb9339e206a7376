"""Token streams paired with transcripts, and length-bucketed batches for the CTC probe."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch.nn.utils.rnn import pad_sequence

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import read_kv_file
from sptok.slmtokbench.token_sources import StreamReader, TokenStream

logger = logging.getLogger(__name__)

KEY_MISMATCH_POLICIES = ("error", "intersect")
TextSource = Union[str, Path, Mapping[str, str]]
_SHOWN_KEYS = 5


def read_transcripts(text: TextSource) -> Tuple[Dict[str, str], str]:
    """``(key -> transcript, name of the source)`` from a Kaldi ``text`` file or a mapping."""
    if isinstance(text, Mapping):
        return dict(text), "<transcripts>"
    return read_kv_file(text, allow_empty_value=True), str(text)


def ctc_min_frames(target: Sequence[int]) -> int:
    """Fewest input frames a CTC alignment of ``target`` needs: one per symbol plus a blank
    between equal neighbours."""
    return len(target) + sum(1 for a, b in zip(target, target[1:]) if a == b)


class AlignedSet:
    """One set of utterances: token inputs (from a stream) with normalised transcripts and CTC
    targets, in the scp's order.

    Inputs are cached in memory while they fit in ``cache_limit_mb`` (all of them, or none: the
    set is then read from the scp again at every pass).

    Args:
        name: set name for messages and results.
        stream: the token stream (its scp).
        text: Kaldi ``text`` file or mapping key -> transcript.
        vocab: output vocabulary (normalises and encodes transcripts).
        key_mismatch: ``error``: the scp and the text must hold the same keys; ``intersect``: use
            the keys in both, with a warning.
        reader: an open reader to reuse (codebooks already loaded).
    """

    def __init__(self, name: str, stream: TokenStream, text: TextSource, vocab,
                 key_mismatch: str = "error", cache_limit_mb: float = 2048.0,
                 reader: Optional[StreamReader] = None):
        if key_mismatch not in KEY_MISMATCH_POLICIES:
            raise ValueError(f"key_mismatch must be one of {KEY_MISMATCH_POLICIES}, got "
                             f"'{key_mismatch}'")
        self.name = name
        self.reader = reader if reader is not None else StreamReader(stream)
        transcripts, text_name = read_transcripts(text)
        scp_keys = self.reader.keys()
        keys = self._match_keys(scp_keys, transcripts, str(stream.scp), text_name, key_mismatch)
        if not keys:
            raise DataError(f"set '{name}': no utterance has both tokens and a transcript",
                            path=str(stream.scp))
        self.keys: List[str] = keys
        self.refs: List[str] = [vocab.normalize(transcripts[k]) for k in keys]
        self.targets: List[List[int]] = [vocab.encode(ref) for ref in self.refs]
        self.lengths: List[int] = []
        cache: Optional[List[torch.Tensor]] = []
        cached_bytes = 0
        for key in keys:
            inputs = self.reader[key]
            self.lengths.append(int(inputs.shape[0]))
            if cache is not None:
                cached_bytes += inputs.numel() * inputs.element_size()
                if cached_bytes > cache_limit_mb * 2 ** 20:
                    logger.info("set '%s': inputs exceed %.0f MB, read from %s at each pass",
                                name, cache_limit_mb, stream.scp)
                    cache = None
                else:
                    cache.append(inputs)
        self._cache = cache

    @staticmethod
    def _match_keys(scp_keys: List[str], transcripts: Mapping[str, str], scp_name: str,
                    text_name: str, policy: str) -> List[str]:
        in_text = set(transcripts)
        in_scp = set(scp_keys)
        no_text = [k for k in scp_keys if k not in in_text]
        no_tokens = [k for k in transcripts if k not in in_scp]
        if no_text or no_tokens:
            parts = []
            if no_text:
                parts.append(f"{len(no_text)} key(s) of {scp_name} are not in {text_name} "
                             f"(e.g. {', '.join(no_text[:_SHOWN_KEYS])})")
            if no_tokens:
                parts.append(f"{len(no_tokens)} key(s) of {text_name} are not in {scp_name} "
                             f"(e.g. {', '.join(no_tokens[:_SHOWN_KEYS])})")
            message = "; ".join(parts)
            if policy == "error":
                raise DataError(f"token and text keys differ: {message}; set key_mismatch: "
                                f"intersect to use the common keys", path=scp_name)
            logger.warning("using the %d common keys only: %s",
                           len(scp_keys) - len(no_text), message)
        return [k for k in scp_keys if k in in_text]

    def __len__(self) -> int:
        return len(self.keys)

    def inputs(self, index: int) -> torch.Tensor:
        if self._cache is not None:
            return self._cache[index]
        return self.reader[self.keys[index]]

    def feasible(self, index: int) -> bool:
        """Whether the utterance has enough frames for a CTC alignment of its transcript."""
        return self.lengths[index] >= ctc_min_frames(self.targets[index])

    def batch(self, indices: Sequence[int]) -> Tuple[torch.Tensor, torch.Tensor,
                                                     List[List[int]]]:
        """Padded inputs [B, T, ...], lengths [B] and targets of the utterances ``indices``."""
        inputs = [self.inputs(i) for i in indices]
        lengths = torch.tensor([x.shape[0] for x in inputs], dtype=torch.long)
        return pad_sequence(inputs, batch_first=True), lengths, [self.targets[i] for i in indices]


def length_batches(lengths: Sequence[int], indices: Optional[Sequence[int]] = None,
                   max_frames: int = 16000, max_utts: int = 32,
                   generator: Optional[torch.Generator] = None) -> List[List[int]]:
    """Batches of similar lengths: utterances sorted by length, cut where the padded size
    (longest x count) would pass ``max_frames`` or the count ``max_utts``; a single utterance
    longer than ``max_frames`` forms its own batch. With a generator the batch order is
    shuffled (training); without, the batches go from short to long."""
    if max_frames < 1 or max_utts < 1:
        raise ValueError(f"max_frames and max_utts must be positive, got {max_frames}, "
                         f"{max_utts}")
    pool = list(range(len(lengths))) if indices is None else list(indices)
    pool.sort(key=lambda i: lengths[i])
    batches: List[List[int]] = []
    current: List[int] = []
    for i in pool:
        if current and (lengths[i] * (len(current) + 1) > max_frames
                        or len(current) >= max_utts):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    if generator is not None:
        order = torch.randperm(len(batches), generator=generator).tolist()
        batches = [batches[k] for k in order]
    return batches
