"""``SpeechTokenizer``: the public inference API (waveforms <-> codes).

    from sptok import SpeechTokenizer

    tokenizer = SpeechTokenizer.from_pretrained("exp/codec_speechtokenizer")  # or a release dir
    codes, code_lengths = tokenizer.encode(wav, lengths)        # wav [B, N], codes [B, n_q, T]
    audio, sample_lengths = tokenizer.decode(codes, code_lengths)             # [B, 1, T * hop]
    audio, _ = tokenizer.decode(codes[:, :1], code_lengths)                   # RVQ-1 only
    audio, _ = tokenizer.decode(codes[:, 1:], code_lengths, start_level=1)    # levels 2..8

Padded batches take per-item ``lengths`` and give every utterance the codes it gets alone, bit for
bit in ``per_item`` mode and up to float rounding in ``padded`` mode (the official package has no
lengths: padding changes the codes near each utterance's end). How a batch runs is
``batch_mode``:

* ``"per_item"``: one forward per utterance, cut to its length, through the same operations as
  the official package, so its codes equal the official one-by-one codes bit for bit. On CPU
  this is also the fastest: convolutions cost the same per sample alone, padding is extra work,
  and large batch tensors run slower per sample (cache misses).
* ``"padded"``: one forward of the padded batch with lengths (the model's length-aware path),
  the efficient choice on GPUs. Equal to the per-item result up to float rounding: its packed
  bidirectional LSTM runs other kernels, which flips rare near-tie codes (24-58 of 12,200 in
  tools/bench/bench_codec.py at paper size).
* ``"auto"`` (default): ``per_item`` on CPU, ``padded`` elsewhere.

Everything runs under ``torch.inference_mode`` with weight norm folded into plain weights.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from sptok.inference.pretrained import ModelFiles, load_generator, resolve_model_files
from sptok.models.speechtokenizer import SpeechTokenizerModel
from sptok.modules.weight_norm import remove_weight_norm

__all__ = ["SpeechTokenizer", "BATCH_MODES", "resolve_device"]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
ArrayLike = Union[torch.Tensor, np.ndarray]
BATCH_MODES = ("auto", "per_item", "padded")


def resolve_device(device: Union[str, torch.device]) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as ``torch.device``."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device}: CUDA is not available")
    return device


def _as_tensor(x: ArrayLike, name: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x))
    if isinstance(x, torch.Tensor):
        return x
    raise ValueError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")


class SpeechTokenizer:
    """A trained SpeechTokenizer ready for encoding and decoding.

    Args:
        model: the generator (:class:`~sptok.models.speechtokenizer.SpeechTokenizerModel`); it
            is put in eval mode, moved to ``device`` and, with ``fold_weight_norm``, has its
            weight norm folded in place.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
        fold_weight_norm: fold weight norm into plain weights (same outputs, less work).
        batch_mode: ``"auto"``, ``"per_item"`` or ``"padded"`` (see the module docstring).
        source: where the model was loaded from (informational).
    """

    def __init__(self, model: SpeechTokenizerModel, device: Union[str, torch.device] = "cpu",
                 fold_weight_norm: bool = True, batch_mode: str = "auto",
                 source: Optional[ModelFiles] = None):
        if batch_mode not in BATCH_MODES:
            raise ValueError(f"batch_mode must be one of {BATCH_MODES}, got {batch_mode!r}")
        self.device = resolve_device(device)
        model = model.eval()
        if fold_weight_norm:
            remove_weight_norm(model)
        self.model = model.to(self.device)
        self.batch_mode = batch_mode
        self.source = source

    @classmethod
    def from_pretrained(cls, path: PathLike, checkpoint: Optional[PathLike] = None,
                        device: Union[str, torch.device] = "cpu", fold_weight_norm: bool = True,
                        batch_mode: str = "auto") -> "SpeechTokenizer":
        """Load an experiment directory, a weight file beside its config, or an official
        release (see :mod:`sptok.inference.pretrained` for the accepted forms).

        Args:
            path: experiment dir, weight file, config file, or official release dir.
            checkpoint: a specific weight file (name in the directory, or a path); default:
                the best model of an experiment, the only ``.pt`` of a release.
            device, fold_weight_norm, batch_mode: as the constructor.
        """
        files = resolve_model_files(path, checkpoint)
        logger.info("loading %s", files)
        return cls(load_generator(files), device=device, fold_weight_norm=fold_weight_norm,
                   batch_mode=batch_mode, source=files)

    def to(self, device: Union[str, torch.device]) -> "SpeechTokenizer":
        self.device = resolve_device(device)
        self.model.to(self.device)
        return self

    # ------------------------------------------------------------------ metadata
    @property
    def sample_rate(self) -> int:
        return self.model.sample_rate

    @property
    def hop_length(self) -> int:
        """Samples per code frame (the frame shift)."""
        return self.model.hop_length

    @property
    def frame_rate(self) -> float:
        return self.model.frame_rate

    @property
    def n_q(self) -> int:
        return self.model.n_q

    @property
    def codebook_size(self) -> int:
        return self.model.codebook_size

    @property
    def dimension(self) -> int:
        return self.model.dimension

    def meta_info(self) -> Dict[str, Any]:
        """sample_rate, hop_length / frame_shift (samples), frame_rate (Hz), n_q,
        codebook_size, dimension, semantic_dim, bitrate (bit/s at all levels)."""
        return self.model.meta_info()

    def num_frames(self, num_samples: int) -> int:
        """Code frames of an utterance of ``num_samples`` samples: ceil(N / hop_length)."""
        return -(-int(num_samples) // self.hop_length)

    def _per_item(self) -> bool:
        if self.batch_mode == "auto":
            return self.device.type == "cpu"
        return self.batch_mode == "per_item"

    # ------------------------------------------------------------------ input checks
    @staticmethod
    def _lengths(lengths: Optional[ArrayLike], batch: int, max_length: int, what: str
                 ) -> torch.Tensor:
        if lengths is None:
            return torch.full((batch,), max_length, dtype=torch.long)
        lengths = _as_tensor(lengths, "lengths").detach().cpu()
        if lengths.dim() != 1 or lengths.shape[0] != batch:
            raise ValueError(f"lengths must have shape [B]=[{batch}], got {list(lengths.shape)}")
        if lengths.dtype.is_floating_point or lengths.dtype == torch.bool or lengths.is_complex():
            raise ValueError(f"lengths must be integers ({what}), got {lengths.dtype}")
        lengths = lengths.long()
        if batch and (int(lengths.min()) < 1 or int(lengths.max()) > max_length):
            raise ValueError(f"lengths ({what}) must lie in [1, {max_length}] (the padded "
                             f"length), got {lengths.tolist()}")
        return lengths

    @staticmethod
    def _pad_list(wavs) -> Tuple[torch.Tensor, torch.Tensor]:
        """A list of 1-D utterances as a zero-padded batch [B, N] and its lengths [B]."""
        items = [_as_tensor(w, "wav") for w in wavs]
        if not items or any(w.dim() != 1 or w.shape[0] == 0 for w in items):
            raise ValueError("a list of utterances must hold non-empty 1-D [N] waveforms, got "
                             f"shapes {[list(w.shape) for w in items]}")
        lengths = torch.tensor([w.shape[0] for w in items])
        batch = items[0].new_zeros(len(items), int(lengths.max()))
        for i, item in enumerate(items):
            batch[i, :item.shape[0]] = item
        return batch, lengths

    def _check_wav(self, wav: Union[ArrayLike, Sequence[ArrayLike]], lengths: Optional[ArrayLike],
                   sample_rate: Optional[int]) -> Tuple[torch.Tensor, torch.Tensor]:
        """(wav [B, 1, N] float32 on the device, lengths [B] on CPU)."""
        if sample_rate is not None and int(sample_rate) != self.sample_rate:
            raise ValueError(f"audio at {sample_rate} Hz, but the model works at "
                             f"{self.sample_rate} Hz: resample it first "
                             "(sptok.data.audio.resample, or load_audio(..., sample_rate))")
        if isinstance(wav, (list, tuple)):
            if lengths is not None:
                raise ValueError("lengths must be None when wav is a list of utterances (their "
                                 "sizes are the lengths)")
            wav, lengths = self._pad_list(wav)
        wav = _as_tensor(wav, "wav")
        if not wav.dtype.is_floating_point:
            raise ValueError(f"wav must be floating-point samples in [-1, 1], got {wav.dtype} "
                             "(convert integer PCM first, e.g. x / 32768)")
        if wav.dim() == 1:
            wav = wav[None, None]
        elif wav.dim() == 2:
            wav = wav[:, None]
        elif wav.dim() != 3 or wav.shape[1] != 1:
            raise ValueError(f"wav must be [N], [B, N] or [B, 1, N] (mono), got shape "
                             f"{list(wav.shape)}")
        if wav.shape[-1] == 0 or wav.shape[0] == 0:
            raise ValueError(f"wav is empty: shape {list(wav.shape)}")
        lengths = self._lengths(lengths, wav.shape[0], wav.shape[-1], "samples")
        return wav.to(self.device, torch.float32), lengths

    def _check_codes(self, codes: ArrayLike, lengths: Optional[ArrayLike], start_level: int
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(codes [B, k, T] long on the device, lengths [B] on CPU)."""
        codes = _as_tensor(codes, "codes")
        if codes.dtype.is_floating_point or codes.dtype == torch.bool or codes.is_complex():
            raise ValueError(f"codes must be integers, got {codes.dtype}")
        if codes.dim() == 2:
            codes = codes[None]
        elif codes.dim() != 3:
            raise ValueError(f"codes must be [B, n_q, T] (or [n_q, T]), got shape "
                             f"{list(codes.shape)}")
        batch, levels, frames = codes.shape
        if batch == 0 or frames == 0:
            raise ValueError(f"codes are empty: shape {list(codes.shape)}")
        if not 0 <= start_level < self.n_q:
            raise ValueError(f"start_level must lie in [0, {self.n_q - 1}], got {start_level}")
        if not 1 <= levels <= self.n_q - start_level:
            raise ValueError(f"codes hold {levels} levels from start_level {start_level}, but "
                             f"the model has {self.n_q} levels (at most "
                             f"{self.n_q - start_level} from there)")
        low, high = int(codes.min()), int(codes.max())
        if low < 0 or high >= self.codebook_size:
            raise ValueError(f"codes must lie in [0, {self.codebook_size - 1}] (codebook_size "
                             f"{self.codebook_size}), got values in [{low}, {high}]")
        lengths = self._lengths(lengths, batch, frames, "frames")
        return codes.to(self.device, torch.long), lengths

    def _check_n_q(self, n_q: Optional[int]) -> int:
        if n_q is None:
            return self.n_q
        if isinstance(n_q, bool) or not isinstance(n_q, (int, np.integer)) \
                or not 1 <= n_q <= self.n_q:
            raise ValueError(f"n_q must be an integer in [1, {self.n_q}], got {n_q!r}")
        return int(n_q)

    # ------------------------------------------------------------------ encode / decode
    def _encode_unpadded(self, wav: torch.Tensor, n_q: int) -> torch.Tensor:
        """Codes [B, n_q, T] of items that all fill ``wav`` [B, 1, N].

        The encoder runs without lengths: no per-item padding gathers and masks, the same
        operations as the official package (and so the same codes, bit for bit).
        """
        latent, _ = self.model.encoder(wav)
        return self.model.quantizer.encode(latent, n_q=n_q)

    def _decode_unpadded(self, codes: torch.Tensor, start_level: int) -> torch.Tensor:
        """Audio [B, 1, T * hop_length] of codes [B, k, T] that all fill T frames."""
        latent = self.model.quantizer.decode(codes, start_level=start_level)
        wav, _ = self.model.decoder(latent)
        return wav

    @torch.inference_mode()
    def encode(self, wav: Union[ArrayLike, Sequence[ArrayLike]],
               lengths: Optional[ArrayLike] = None, n_q: Optional[int] = None,
               sample_rate: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Codes of a (padded) batch of utterances.

        Args:
            wav: float audio [B, N] or [B, 1, N] (a single [N] is a batch of one) at the
                model's sample rate, padded at the end; or a list of 1-D utterances (padded
                here, lengths taken from their sizes).
            lengths: [B] valid samples per item (default: all N).
            n_q: number of levels, 1..n_q (default all).
            sample_rate: the audio's rate, checked against the model's when given.

        Returns:
            codes [B, n_q, T] (long, on the model's device), T = the longest item's frame count;
            code_lengths [B] = ceil(lengths / hop_length). Frames past an item's length are 0.
        """
        wav, lengths = self._check_wav(wav, lengths, sample_rate)
        n_q = self._check_n_q(n_q)
        frame_lengths = -(-lengths // self.hop_length)
        frames = int(frame_lengths.max())
        if self._per_item() and wav.shape[0] > 1:
            codes = torch.zeros(wav.shape[0], n_q, frames, dtype=torch.long, device=self.device)
            for i, length in enumerate(lengths.tolist()):
                codes[i, :, :-(-length // self.hop_length)] = self._encode_unpadded(
                    wav[i:i + 1, :, :length], n_q)[0]
        elif bool((lengths == wav.shape[-1]).all()):
            codes = self._encode_unpadded(wav, n_q)
        else:
            codes, _ = self.model.encode(wav, lengths.to(self.device), n_q=n_q)
            valid = torch.arange(frames)[None, :] < frame_lengths[:, None]
            codes = codes[..., :frames] * valid[:, None, :].to(self.device)
        return codes, frame_lengths.to(self.device)

    @torch.inference_mode()
    def decode(self, codes: ArrayLike, lengths: Optional[ArrayLike] = None,
               start_level: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
        """Audio from the codes of any contiguous range of levels.

        Args:
            codes: [B, k, T] integer codes (a single [k, T] is a batch of one) of levels
                ``start_level .. start_level + k - 1``; e.g. ``codes[:, :1]`` (RVQ-1 only) or
                ``codes[:, 1:]`` with ``start_level=1``.
            lengths: [B] valid frames per item (default: all T).
            start_level: level of the first row of ``codes`` (0-based).

        Returns:
            audio [B, 1, T' * hop_length] (float32, on the model's device; T' the longest
            item's frames; zero past each item's end) and sample_lengths [B] = lengths *
            hop_length. Trim to the original sample count if you know it.
        """
        codes, lengths = self._check_codes(codes, lengths, start_level)
        frames = int(lengths.max())
        sample_lengths = lengths * self.hop_length
        if self._per_item() and codes.shape[0] > 1:
            wav = torch.zeros(codes.shape[0], 1, frames * self.hop_length, device=self.device)
            for i, length in enumerate(lengths.tolist()):
                wav[i, :, :length * self.hop_length] = self._decode_unpadded(
                    codes[i:i + 1, :, :length], start_level)[0]
        elif bool((lengths == codes.shape[-1]).all()):
            wav = self._decode_unpadded(codes, start_level)
        else:
            wav, _ = self.model.decode(codes, lengths.to(self.device), start_level=start_level)
            wav = wav[..., :frames * self.hop_length]
        return wav, sample_lengths.to(self.device)

    # ------------------------------------------------------------------ files
    def encode_file(self, path: PathLike, n_q: Optional[int] = None) -> torch.Tensor:
        """Codes [n_q, T] of an audio file (any format libsndfile reads, or a ``cmd |`` pipe),
        mixed to mono and resampled to the model's rate."""
        from sptok.data.audio import load_audio

        wav = load_audio(str(path), self.sample_rate)
        codes, _ = self.encode(torch.from_numpy(wav), n_q=n_q)
        return codes[0]

    def decode_to_file(self, codes: ArrayLike, path: PathLike, start_level: int = 0,
                       num_samples: Optional[int] = None) -> Path:
        """Decode codes [k, T] of one utterance and write the audio (format from the suffix,
        16-bit PCM), atomically; ``num_samples`` trims to the original length."""
        from sptok.data.audio import save_audio

        codes = _as_tensor(codes, "codes")
        if codes.dim() != 2:
            raise ValueError(f"decode_to_file takes one utterance's codes [k, T], got shape "
                             f"{list(codes.shape)}")
        wav, _ = self.decode(codes, start_level=start_level)
        audio = wav[0, 0].float().cpu().numpy()
        if num_samples is not None:
            audio = audio[:int(num_samples)]
        save_audio(path, audio, self.sample_rate)
        return Path(path)

    def __repr__(self) -> str:
        info = self.meta_info()
        return (f"{type(self).__name__}(sample_rate={info['sample_rate']}, "
                f"hop_length={info['hop_length']}, n_q={info['n_q']}, "
                f"codebook_size={info['codebook_size']}, device={self.device}, "
                f"batch_mode={self.batch_mode!r}, source={self.source})")
