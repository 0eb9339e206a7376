"""Dataset of the codec task: waveform crops of a Kaldi data dir, with optional teacher features.

Input: a formatted data dir (``dump/raw/<set>``: ``wav.scp`` of audio files at the model's rate
and ``utt2num_samples``), and optionally the teacher features dumped by the teacher stage (a
kaldiio scp of float32 [T, D] matrices, one per utterance, T = floor((N - 400) / 320) + 1).

Items: ``{"wav": float32 [L], "teacher_feats": [F, D], "teacher_lengths": int}`` where
L <= segment samples and F = ceil(L / hop) (the codec's frame count of the crop).

- Training crops (``random_crop=True``) start at a random multiple of the hop length, so that the
  teacher frame of crop start s is exactly s // hop (upstream rounds the same way).
- Validation crops are deterministic: the middle of the utterance, start rounded down to a hop
  multiple; ``segment_seconds=None`` takes whole utterances.
- Utterances shorter than a segment come whole; the collate function pads them and records
  ``lengths``. Teacher frames are cut to the crop's codec frames and padded with zeros;
  ``teacher_lengths`` counts the real ones.

Audio is read per item (seeking into the file when the format allows), never held in memory.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from sptok.data.ark import FeatsReader
from sptok.data.audio import is_pipe, load_audio, mix_to_mono
from sptok.data.errors import DataError
from sptok.data.kaldi_dir import read_kv_file, read_utt2num_samples
from sptok.losses.distill import teacher_num_frames
from sptok.utils.fileio import PathLike

logger = logging.getLogger(__name__)

#: Teacher frame counts may differ from floor((N - 400) / 320) + 1 by this much (other teachers
#: pad differently); more means the features belong to other audio.
TEACHER_FRAME_TOLERANCE = 2


class CodecDataset(Dataset):
    """Waveform crops of one data dir (see the module docstring).

    Args:
        data_dir: directory with ``wav.scp`` and ``utt2num_samples``.
        sample_rate: rate the model expects; audio at another rate is resampled (slowly: the
            recipe's format stage should already have done it).
        segment_seconds: crop length; None gives whole utterances.
        hop_length: codec hop (crop starts are multiples of it; teacher frames are per hop).
        random_crop: random crop starts (training) or the deterministic middle crop.
        teacher_feats: scp of dumped teacher features, or None.
        teacher_dim: expected feature dimension (checked per item), or None.
        min_seconds: utterances shorter than this are left out (logged).
    """

    def __init__(self, data_dir: PathLike, sample_rate: int = 16000,
                 segment_seconds: Optional[float] = 1.0, hop_length: int = 320,
                 random_crop: bool = True, teacher_feats: Optional[PathLike] = None,
                 teacher_dim: Optional[int] = None, min_seconds: float = 0.0):
        self.data_dir = Path(data_dir)
        self.sample_rate = int(sample_rate)
        self.hop_length = int(hop_length)
        if segment_seconds is not None and segment_seconds <= 0:
            raise ValueError(f"segment_seconds must be > 0 or None, got {segment_seconds}")
        self.segment_samples: Optional[int] = None
        if segment_seconds is not None:
            # Whole frames: every crop then has exactly segment / hop codec frames.
            frames = max(1, int(round(segment_seconds * self.sample_rate / self.hop_length)))
            self.segment_samples = frames * self.hop_length
        self.random_crop = bool(random_crop)
        self.teacher_dim = teacher_dim
        self.wav_scp_path = self.data_dir / "wav.scp"
        self.wav_scp = read_kv_file(self.wav_scp_path)
        num_samples_path = self.data_dir / "utt2num_samples"
        if not num_samples_path.is_file():
            raise DataError("file not found: the codec dataset needs utt2num_samples (written by "
                            "the recipe's format stage, sptok.bin.format_wav_scp)",
                            path=str(num_samples_path))
        num_samples = read_utt2num_samples(num_samples_path)
        missing = [key for key in self.wav_scp if key not in num_samples]
        if missing:
            raise DataError(f"{len(missing)} utterance(s) of {self.wav_scp_path} have no entry "
                            f"here, first '{missing[0]}'", path=str(num_samples_path))
        min_samples = int(math.ceil(min_seconds * self.sample_rate))
        self.keys: List[str] = [k for k in self.wav_scp if num_samples[k] >= min_samples]
        if len(self.keys) < len(self.wav_scp):
            logger.info("%s: left out %d utterance(s) shorter than %.3f s", self.data_dir,
                        len(self.wav_scp) - len(self.keys), min_seconds)
        if not self.keys:
            raise DataError(f"no utterance of at least {min_seconds} s", path=str(self.wav_scp_path))
        self.num_samples: Dict[str, int] = {k: num_samples[k] for k in self.keys}
        self.teacher: Optional[FeatsReader] = None
        if teacher_feats is not None:
            self.teacher = FeatsReader(teacher_feats)
            absent = [key for key in self.keys if key not in self.teacher]
            if absent:
                raise DataError(f"no teacher features for {len(absent)} utterance(s) of "
                                f"{self.wav_scp_path}, first '{absent[0]}' (dump them with the "
                                "teacher stage)", path=str(teacher_feats))

    def __len__(self) -> int:
        return len(self.keys)

    def item_seconds(self, index: int) -> float:
        """Duration of item ``index`` as loaded (for length-bucketing samplers)."""
        n = self.num_samples[self.keys[index]]
        if self.segment_samples is not None:
            n = min(n, self.segment_samples)
        return n / self.sample_rate

    # ------------------------------------------------------------------ cropping
    def crop_start(self, n_samples: int) -> int:
        """First sample of the crop of an utterance of ``n_samples`` (a multiple of the hop)."""
        if self.segment_samples is None or n_samples <= self.segment_samples:
            return 0
        last_frame = (n_samples - self.segment_samples) // self.hop_length
        if self.random_crop:
            # torch's global RNG: seeded per DataLoader worker and saved by the trainer.
            frame = int(torch.randint(0, last_frame + 1, ()).item())
        else:
            frame = last_frame // 2
        return frame * self.hop_length

    def _read(self, key: str, start: int, length: int) -> np.ndarray:
        """Samples [start, start + length) of utterance ``key``, mono float32 at sample_rate."""
        spec = self.wav_scp[key]
        expected = self.num_samples[key]
        if not is_pipe(spec):
            try:
                with sf.SoundFile(spec) as f:
                    if f.samplerate == self.sample_rate:
                        if f.frames != expected:
                            raise DataError(f"'{spec}' has {f.frames} samples but "
                                            f"utt2num_samples says {expected}",
                                            path=str(self.wav_scp_path), key=key)
                        f.seek(start)
                        wav = f.read(length, dtype="float32", always_2d=True)
                        return np.ascontiguousarray(mix_to_mono(wav))
            except (sf.LibsndfileError, RuntimeError, OSError):
                pass  # load_audio below reports the problem with its own clear message
        wav = load_audio(spec, self.sample_rate, key=key, scp=self.wav_scp_path)
        if abs(wav.shape[0] - expected) > 1:
            raise DataError(f"audio has {wav.shape[0]} samples at {self.sample_rate} Hz but "
                            f"utt2num_samples says {expected}", path=str(self.wav_scp_path),
                            key=key)
        return wav[start:start + length]

    def _teacher_frames(self, key: str, start: int, n_samples: int, crop_samples: int
                        ) -> tuple:
        feats = self.teacher[key]
        where = dict(path=str(self.teacher.scp_path), key=key)
        if feats.ndim != 2:
            raise DataError(f"teacher features must be a [T, D] matrix, got shape {feats.shape}",
                            **where)
        if self.teacher_dim is not None and feats.shape[1] != self.teacher_dim:
            raise DataError(f"teacher features have dimension {feats.shape[1]}, the model's "
                            f"semantic head expects {self.teacher_dim} (teacher_conf.feature_dim)",
                            **where)
        expected = teacher_num_frames(n_samples, hop=self.hop_length)
        if abs(feats.shape[0] - expected) > TEACHER_FRAME_TOLERANCE:
            raise DataError(f"{feats.shape[0]} teacher frames for {n_samples} samples (expected "
                            f"about {expected}): features of other audio?", **where)
        frames = -(-crop_samples // self.hop_length)
        first = start // self.hop_length
        chunk = feats[first:first + frames]
        padded = np.zeros((frames, feats.shape[1]), dtype=np.float32)
        padded[:chunk.shape[0]] = chunk
        return torch.from_numpy(padded), int(chunk.shape[0])

    def __getitem__(self, index: int) -> Dict[str, Any]:
        key = self.keys[index]
        n_samples = self.num_samples[key]
        start = self.crop_start(n_samples)
        length = n_samples if self.segment_samples is None else min(n_samples, self.segment_samples)
        wav = self._read(key, start, length)
        if wav.shape[0] != length:
            raise DataError(f"read {wav.shape[0]} samples at {start}, expected {length}",
                            path=str(self.wav_scp_path), key=key)
        item: Dict[str, Any] = {"wav": torch.from_numpy(wav), "start": start}
        if self.teacher is not None:
            item["teacher_feats"], item["teacher_lengths"] = self._teacher_frames(
                key, start, n_samples, length)
        return item


def collate_codec_batch(items: Sequence[Dict[str, Any]]) -> Dict[str, torch.Tensor]:
    """Pad items into a batch.

    Returns:
        ``wav`` [B, 1, N_max], ``lengths`` [B] samples, ``start`` [B] crop starts, and with
        teacher features ``teacher_feats`` [B, F_max, D] (zero padded), ``teacher_lengths`` [B].
    """
    if not items:
        raise ValueError("collate_codec_batch: empty batch")
    lengths = torch.tensor([item["wav"].shape[0] for item in items], dtype=torch.long)
    wav = torch.zeros(len(items), 1, int(lengths.max()))
    for i, item in enumerate(items):
        wav[i, 0, :lengths[i]] = item["wav"]
    batch = {"wav": wav, "lengths": lengths,
             "start": torch.tensor([int(item.get("start", 0)) for item in items])}
    if "teacher_feats" in items[0]:
        feats = [item["teacher_feats"] for item in items]
        out = torch.zeros(len(items), max(f.shape[0] for f in feats), feats[0].shape[1])
        for i, f in enumerate(feats):
            out[i, :f.shape[0]] = f
        batch["teacher_feats"] = out
        batch["teacher_lengths"] = torch.tensor([int(item["teacher_lengths"]) for item in items])
    return batch


def make_collate_fn() -> Callable[[Sequence[Dict[str, Any]]], Dict[str, torch.Tensor]]:
    """The collate function (a module-level function: picklable for worker processes)."""
    return collate_codec_batch
