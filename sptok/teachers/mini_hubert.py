"""A small HuBERT trained from scratch (HuBERT's first iteration) for recipes without a released
checkpoint.

1. Targets: k-means (default 100 clusters) of MFCC + deltas at 50 Hz, aligned with the conv
   feature extractor's frames (:mod:`sptok.teachers.mfcc_kmeans`).
2. Model: torchaudio's ``hubert_pretrain_model`` with small dims; HuBERT base's architecture
   otherwise (group-norm conv stack with receptive field 400 / hop 320, post-LN transformer,
   convolutional positional embedding), so the encoder is an ordinary HuBERT.
3. Loss: masked prediction: spans of the conv features are replaced by a learned embedding and
   the transformer output at masked frames predicts the cluster id (cosine logits against label
   embeddings, temperature 0.1), plus HuBERT's feature penalty. Accuracy = argmax hits on
   masked frames. Deviation from HuBERT (which predicts masked frames only): by default the
   unmasked frames' ids are predicted too, with weight ``unmasked_weight = 1``. In a few hundred
   CPU steps this lifts the masked accuracy from ~5 % (about the majority-class rate) to ~18 %
   and makes the layers far more phonetic (measured on synthetic speech); ``--unmasked_weight 0``
   gives HuBERT's objective for long runs.
4. Export: the encoder alone, in Hugging Face format (``config.json`` + weights +
   ``preprocessor_config.json``), loadable by :func:`sptok.teachers.load_wav2vec2` exactly like a
   released ``hubert-base-ls960`` directory.

Training state (``train/checkpoint.pt``: model, optimiser, step, RNG states, log) is saved every
``save_interval`` steps, atomically; a rerun resumes from it (the data split and the k-means model
are deterministic given the seed, and k-means is cached in ``train/kmeans.pt``).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor
from torchaudio.models import HuBERTPretrainModel, hubert_pretrain_model
from tqdm import tqdm

from sptok.teachers import hf_format
from sptok.teachers.mfcc_kmeans import KMeans, mfcc_frames
from sptok.teachers.wav2vec2_params import Params, conv_output_length, normalize_params
from sptok.utils.fileio import atomic_open, atomic_path
from sptok.utils.progress import progress_mininterval

_LG = logging.getLogger(__name__)

HOP = 320
RECEPTIVE_FIELD = 400


@dataclasses.dataclass
class MiniHubertConfig:
    """Architecture and masking of the small HuBERT (defaults: about 1.5 M parameters; HuBERT
    base is 768-dim, 12 layers, 512 conv channels, 95 M)."""

    extractor_mode: str = "group_norm"
    conv_dim: int = 64
    embed_dim: int = 192
    num_layers: int = 3
    num_heads: int = 4
    ff_dim: int = 768
    pos_conv_kernel: int = 32
    pos_conv_groups: int = 16
    num_classes: int = 100
    final_dim: int = 64
    dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_drop: float = 0.0
    mask_prob: float = 0.8
    mask_length: int = 10
    feature_grad_mult: Optional[float] = None
    feature_pen_weight: float = 10.0
    unmasked_weight: float = 1.0

    def conv_layers(self) -> List[Tuple[int, int, int]]:
        """HuBERT's conv stack (kernels 10,3,3,3,3,2,2; strides 5,2,2,2,2,2,2) at ``conv_dim`` channels."""
        return [(self.conv_dim, 10, 5)] + [(self.conv_dim, 3, 2)] * 4 + [(self.conv_dim, 2, 2)] * 2

    def encoder_params(self) -> Params:
        """torchaudio ``wav2vec2_model`` kwargs of the encoder."""
        return normalize_params({
            "extractor_mode": self.extractor_mode,
            "extractor_conv_layer_config": self.conv_layers(),
            "extractor_conv_bias": False,
            "encoder_embed_dim": self.embed_dim,
            "encoder_projection_dropout": self.dropout,
            "encoder_pos_conv_kernel": self.pos_conv_kernel,
            "encoder_pos_conv_groups": self.pos_conv_groups,
            "encoder_num_layers": self.num_layers,
            "encoder_num_heads": self.num_heads,
            "encoder_attention_dropout": self.attention_dropout,
            "encoder_ff_interm_features": self.ff_dim,
            "encoder_ff_interm_dropout": 0.0,
            "encoder_dropout": self.dropout,
            "encoder_layer_norm_first": False,
            "encoder_layer_drop": self.layer_drop,
        })


def build_pretrain_model(cfg: MiniHubertConfig) -> HuBERTPretrainModel:
    """HuBERT pre-training model (encoder + mask embedding + label embeddings + projection)."""
    params = cfg.encoder_params()
    return hubert_pretrain_model(
        **params,
        mask_prob=cfg.mask_prob, mask_selection="static", mask_other=0.0, mask_length=cfg.mask_length,
        no_mask_overlap=False, mask_min_space=1,
        mask_channel_prob=0.0, mask_channel_selection="static", mask_channel_other=0.0,
        mask_channel_length=10, no_mask_channel_overlap=False, mask_channel_min_space=1,
        skip_masked=False, skip_nomask=cfg.unmasked_weight <= 0.0,
        num_classes=cfg.num_classes, final_dim=cfg.final_dim, feature_grad_mult=cfg.feature_grad_mult)


def masked_prediction_loss(model: HuBERTPretrainModel, wav: Tensor, labels: Tensor,
                           feature_pen_weight: float, unmasked_weight: float = 0.0
                           ) -> Tuple[Tensor, Tensor, int]:
    """(loss, masked accuracy, number of masked frames) for a batch.

    Args:
        wav: [B, N] waveforms (all valid, no padding).
        labels: [B, T] cluster ids, T = floor((N - 400) / 320) + 1.
        unmasked_weight: weight of the same loss on unmasked frames (HuBERT: 0); the model must
            have been built with ``unmasked_weight > 0`` to produce those logits.
    """
    logit_m, logit_u, features_pen = model(wav, labels)
    loss = _cross_entropy_first(logit_m) + feature_pen_weight * features_pen
    if unmasked_weight > 0.0 and logit_u is not None and logit_u.shape[0] > 0:
        loss = loss + unmasked_weight * _cross_entropy_first(logit_u)
    accuracy = (logit_m.argmax(-1) == 0).float().mean()
    return loss, accuracy, int(logit_m.shape[0])


def _cross_entropy_first(logits: Tensor) -> Tensor:
    # Column 0 holds the true class; the true class's duplicate among the negatives is -inf.
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    return torch.nn.functional.cross_entropy(logits.float(), target)


class CropSampler:
    """Random fixed-length crops of in-memory utterances with their frame-aligned targets.

    Crops start on a multiple of the hop (320 samples), so the crop's frame ``t`` is the
    utterance's frame ``start / 320 + t`` and takes its label. A batch is cropped to the shortest
    sampled utterance when that is shorter than ``crop_samples`` (as fairseq does), so no padding
    is ever needed.
    """

    def __init__(self, wavs: Sequence[np.ndarray], labels: Sequence[np.ndarray], crop_samples: int):
        if not wavs:
            raise ValueError("no training utterances")
        self.wavs = list(wavs)
        self.labels = list(labels)
        self.crop_samples = int(crop_samples)

    def sample(self, batch_size: int, gen: np.random.Generator) -> Tuple[Tensor, Tensor]:
        """([B, n] float32 waveforms, [B, T] int64 labels)."""
        idx = gen.integers(0, len(self.wavs), size=batch_size)
        n = min(self.crop_samples, min(len(self.wavs[i]) for i in idx))
        n_frames = conv_output_length(n, [(0, RECEPTIVE_FIELD, HOP)])
        wav = np.empty((batch_size, n), dtype=np.float32)
        lab = np.empty((batch_size, n_frames), dtype=np.int64)
        for row, i in enumerate(idx):
            max_start_frame = (len(self.wavs[i]) - n) // HOP
            start = int(gen.integers(0, max_start_frame + 1)) * HOP
            wav[row] = self.wavs[i][start:start + n]
            lab[row] = self.labels[i][start // HOP:start // HOP + n_frames]
        return torch.from_numpy(wav), torch.from_numpy(lab)


def compute_targets(wavs: Sequence[np.ndarray], kmeans: KMeans) -> List[np.ndarray]:
    """Cluster ids [T] (int16) per utterance."""
    return [kmeans.predict(mfcc_frames(torch.from_numpy(w))).numpy().astype(np.int16) for w in wavs]


def fit_kmeans(wavs: Sequence[np.ndarray], num_clusters: int, seed: int, num_iters: int = 30,
               max_frames: int = 200_000) -> KMeans:
    feats = torch.cat([mfcc_frames(torch.from_numpy(w)) for w in wavs], dim=0)
    return KMeans.fit(feats, num_clusters, num_iters=num_iters, seed=seed, max_frames=max_frames)


@dataclasses.dataclass
class TrainOptions:
    """Optimisation: AdamW, linear warmup then linear decay, random crops of ``crop_seconds``."""

    max_steps: int = 600
    batch_size: int = 8
    crop_seconds: float = 2.0
    lr: float = 1e-3
    warmup_steps: int = 60
    weight_decay: float = 0.01
    grad_clip: float = 10.0
    seed: int = 0
    log_interval: int = 20
    save_interval: int = 100
    valid_batches: int = 4


def lr_at(step: int, opts: TrainOptions) -> float:
    """Linear warmup to ``lr``, then linear decay to 0 at ``max_steps`` (HuBERT's schedule shape)."""
    if step < opts.warmup_steps:
        return opts.lr * (step + 1) / opts.warmup_steps
    remaining = max(1, opts.max_steps - opts.warmup_steps)
    return opts.lr * max(0.0, 1.0 - (step - opts.warmup_steps) / remaining)


@torch.no_grad()
def evaluate(model: HuBERTPretrainModel, batches: Sequence[Tuple[Tensor, Tensor]], device: torch.device,
             cfg: MiniHubertConfig, seed: int = 1234) -> Tuple[float, float]:
    """(loss, masked accuracy) on fixed batches with fixed masks; dropout off."""
    was_training = model.training
    model.eval()
    total_loss = total_hits = total_frames = 0.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for wav, lab in batches:
            loss, acc, n = masked_prediction_loss(model, wav.to(device), lab.to(device), cfg.feature_pen_weight,
                                                 cfg.unmasked_weight)
            total_loss += float(loss) * n
            total_hits += float(acc) * n
            total_frames += n
    model.train(was_training)
    return total_loss / max(total_frames, 1), total_hits / max(total_frames, 1)


def export_encoder(model: HuBERTPretrainModel, cfg: MiniHubertConfig, out_dir: Path) -> Path:
    """Write the encoder as a HF checkpoint directory; returns the weight file."""
    state = {k: v.detach().cpu() for k, v in model.wav2vec2.state_dict().items()}
    return hf_format.write_hf_dir(out_dir, cfg.encoder_params(), state, do_normalize=False)


def _rng_state() -> Dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def train(model: HuBERTPretrainModel, cfg: MiniHubertConfig, opts: TrainOptions, sampler: CropSampler,
          valid: Sequence[Tuple[Tensor, Tensor]], train_dir: Path, device: torch.device,
          resume: bool = True) -> List[Dict[str, float]]:
    """Masked-prediction training with checkpoints in ``train_dir``; returns the log records."""
    train_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = train_dir / "checkpoint.pt"
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=opts.lr, betas=(0.9, 0.98), eps=1e-6,
                                  weight_decay=opts.weight_decay)
    step, log = 0, []
    gen = np.random.default_rng(opts.seed)
    torch.manual_seed(opts.seed)
    if resume and ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if ckpt["model_config"] != dataclasses.asdict(cfg):
            raise ValueError(f"{ckpt_path}: saved with another model config {ckpt['model_config']}; "
                             f"use another --out_dir or the same options")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step, log = ckpt["step"], ckpt["log"]
        gen.bit_generator.state = ckpt["numpy_rng"]
        _set_rng_state(ckpt["torch_rng"])
        _LG.info("resumed from %s at step %d", ckpt_path, step)
    # The log file restarts from the checkpoint's records: lines written after the last save
    # (by a run that then died) would otherwise appear twice.
    with atomic_open(train_dir / "log.jsonl") as f:
        f.writelines(json.dumps(record) + "\n" for record in log)

    def save() -> None:
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "log": log,
                 "numpy_rng": gen.bit_generator.state, "torch_rng": _rng_state(),
                 "model_config": dataclasses.asdict(cfg), "train_options": dataclasses.asdict(opts)}
        with atomic_path(ckpt_path) as tmp:
            torch.save(state, tmp)

    recent: List[Tuple[float, float, int]] = []
    started = time.time()
    first_step = step
    bar = tqdm(total=opts.max_steps, initial=step, desc="mini-hubert", unit="step", file=sys.stderr,
               mininterval=progress_mininterval())
    while step < opts.max_steps:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, opts)
        wav, lab = sampler.sample(opts.batch_size, gen)
        loss, acc, n = masked_prediction_loss(model, wav.to(device), lab.to(device), cfg.feature_pen_weight,
                                                     cfg.unmasked_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
        if not torch.isfinite(grad_norm):
            _LG.warning("step %d: non-finite gradient norm, update skipped", step)
        else:
            optimizer.step()
        step += 1
        loss_value, acc_value = float(loss.detach()), float(acc)
        recent.append((loss_value, acc_value, n))
        bar.update(1)
        # refresh=False: shown at the next redraw (a refresh per step would ignore mininterval)
        bar.set_postfix(loss=f"{loss_value:.3f}", acc=f"{acc_value:.3f}", refresh=False)
        if step % opts.log_interval == 0 or step == opts.max_steps:
            frames = sum(r[2] for r in recent)
            record = {"step": step, "lr": lr_at(step - 1, opts),
                      "loss": sum(r[0] * r[2] for r in recent) / frames,
                      "acc": sum(r[1] * r[2] for r in recent) / frames,
                      "sec_per_step": (time.time() - started) / (step - first_step)}
            if valid and (step % opts.save_interval == 0 or step == opts.max_steps):
                record["valid_loss"], record["valid_acc"] = evaluate(model, valid, device, cfg)
            log.append(record)
            recent = []
            _LG.info("step %d: " + ", ".join(f"{k} {v:.4g}" for k, v in record.items() if k != "step"), step)
            with open(train_dir / "log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        if step % opts.save_interval == 0 or step == opts.max_steps:
            save()
    bar.close()
    return log


def split_valid(keys: Sequence[str], num_valid: int, seed: int) -> Tuple[List[str], List[str]]:
    """(train keys, valid keys): ``num_valid`` keys held out at random (at most a tenth)."""
    num_valid = min(num_valid, len(keys) // 10)
    order = np.random.default_rng(seed).permutation(len(keys))
    valid = sorted(keys[i] for i in order[:num_valid])
    valid_set = set(valid)
    return [k for k in keys if k not in valid_set], valid


def fixed_batches(sampler: CropSampler, num_batches: int, batch_size: int, seed: int
                  ) -> List[Tuple[Tensor, Tensor]]:
    gen = np.random.default_rng(seed)
    return [sampler.sample(batch_size, gen) for _ in range(num_batches)]
