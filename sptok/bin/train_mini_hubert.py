"""Train a small HuBERT from scratch (MFCC k-means targets, masked prediction) and export its
encoder as a Hugging Face checkpoint directory.

Usage:
    python -m sptok.bin.train_mini_hubert --wav_scp dump/raw/train/wav.scp --out_dir exp/mini_hubert \\
        --max_steps 600 --seed 0

``OUT_DIR`` then holds ``config.json``, the weights and ``preprocessor_config.json``: pass it as
``--teacher OUT_DIR`` wherever a released ``hubert-base-ls960`` directory would go.
``OUT_DIR/train/`` keeps the k-means model, ``checkpoint.pt`` (rerunning resumes from it) and
``log.jsonl`` (loss, masked accuracy, validation accuracy, seconds per step).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch
from tqdm import tqdm

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import read_kv_file
from sptok.teachers.audio_input import SAMPLE_RATE, load_16k_mono
from sptok.teachers.mfcc_kmeans import KMeans
from sptok.teachers.mini_hubert import (HOP, RECEPTIVE_FIELD, CropSampler, MiniHubertConfig, TrainOptions,
                                        build_pretrain_model, compute_targets, export_encoder, fit_kmeans,
                                        fixed_batches, split_valid, train)
from sptok.utils.fileio import atomic_open, atomic_path
from sptok.utils.progress import progress_mininterval
from sptok.utils.cli import ESPNET_LOG_FORMAT, run_cli, str2bool

_LG = logging.getLogger("train_mini_hubert")



def optional_float(value: str) -> Optional[float]:
    return None if value.lower() in ("none", "null") else float(value)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="train_mini_hubert", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--wav_scp", required=True, help="training audio (16 kHz mono)")
    parser.add_argument("--out_dir", required=True, help="HF checkpoint directory to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--num_threads", type=int, default=0, help="CPU threads for torch (0: torch default)")
    parser.add_argument("--resume", type=str2bool, default=True, help="continue from OUT_DIR/train/checkpoint.pt")
    parser.add_argument("--max_hours", type=float, default=0.0, help="use at most this much audio (0: all)")
    parser.add_argument("--num_valid_utts", type=int, default=20, help="held out for validation accuracy")
    group = parser.add_argument_group("targets")
    group.add_argument("--num_clusters", type=int, default=100)
    group.add_argument("--kmeans_iters", type=int, default=30)
    group.add_argument("--kmeans_max_frames", type=int, default=200_000)
    defaults = MiniHubertConfig()
    group = parser.add_argument_group("model")
    for field in dataclasses.fields(MiniHubertConfig):
        if field.name == "num_classes":
            continue
        kind = optional_float if field.name == "feature_grad_mult" else type(getattr(defaults, field.name))
        group.add_argument(f"--{field.name}", type=kind, default=getattr(defaults, field.name))
    opts = TrainOptions()
    group = parser.add_argument_group("training")
    for field in dataclasses.fields(TrainOptions):
        if field.name == "seed":
            continue
        group.add_argument(f"--{field.name}", type=type(getattr(opts, field.name)), default=getattr(opts, field.name))
    return parser


def load_corpus(wav_scp: str, max_hours: float, min_samples: int):
    """(keys, waveforms) of the wav.scp in its order, capped at ``max_hours``; utterances shorter
    than ``min_samples`` are dropped with a warning."""
    entries = read_kv_file(wav_scp)
    if not entries:
        raise DataError("empty wav.scp", path=wav_scp)
    keys: List[str] = []
    wavs: List[np.ndarray] = []
    budget = max_hours * 3600 * SAMPLE_RATE if max_hours > 0 else float("inf")
    total = 0
    short = []
    for key, spec in tqdm(entries.items(), desc="loading audio", unit="utt", file=sys.stderr,
                          mininterval=progress_mininterval()):
        wav = load_16k_mono(key, spec, wav_scp)
        if len(wav) < min_samples:
            short.append(key)
            continue
        keys.append(key)
        wavs.append(wav)
        total += len(wav)
        if total >= budget:
            break
    if short:
        _LG.warning("%s: %d utterance(s) shorter than %d samples dropped, e.g. %s", wav_scp, len(short),
                    min_samples, short[:3])
    if not keys:
        raise DataError("no usable utterance", path=wav_scp)
    _LG.info("%s: %d utterances, %.2f h", wav_scp, len(keys), total / SAMPLE_RATE / 3600)
    return keys, wavs


def run(args: argparse.Namespace) -> Path:
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    out_dir = Path(args.out_dir)
    train_dir = out_dir / "train"
    train_dir.mkdir(parents=True, exist_ok=True)
    cfg = MiniHubertConfig(num_classes=args.num_clusters,
                           **{f.name: getattr(args, f.name) for f in dataclasses.fields(MiniHubertConfig)
                              if f.name != "num_classes"})
    opts = TrainOptions(seed=args.seed, **{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainOptions)
                                           if f.name != "seed"})

    # Two mask spans' worth of frames at least: shorter crops cannot be masked sensibly.
    min_samples = RECEPTIVE_FIELD + HOP * (2 * cfg.mask_length - 1)
    keys, wavs = load_corpus(args.wav_scp, args.max_hours, min_samples)
    train_keys, valid_keys = split_valid(keys, args.num_valid_utts, args.seed)
    by_key = dict(zip(keys, wavs))
    train_wavs = [by_key[k] for k in train_keys]
    valid_wavs = [by_key[k] for k in valid_keys]

    kmeans_path = train_dir / "kmeans.pt"
    if args.resume and kmeans_path.is_file():
        kmeans = KMeans.from_state_dict(torch.load(kmeans_path, map_location="cpu", weights_only=True))
        if kmeans.num_clusters != args.num_clusters:
            raise ValueError(f"{kmeans_path}: has {kmeans.num_clusters} clusters, --num_clusters is "
                             f"{args.num_clusters}; use another --out_dir")
        _LG.info("loaded %s", kmeans_path)
    else:
        kmeans = fit_kmeans(train_wavs, args.num_clusters, args.seed, args.kmeans_iters, args.kmeans_max_frames)
        with atomic_path(kmeans_path) as tmp:
            torch.save(kmeans.state_dict(), tmp)
    train_labels = compute_targets(train_wavs, kmeans)
    counts = np.bincount(np.concatenate(train_labels), minlength=args.num_clusters)
    _LG.info("targets: %d frames, %d of %d clusters used, largest cluster %.1f%%", counts.sum(),
             int((counts > 0).sum()), args.num_clusters, 100.0 * counts.max() / counts.sum())

    crop = int(args.crop_seconds * SAMPLE_RATE)
    sampler = CropSampler(train_wavs, train_labels, crop)
    valid = []
    if valid_wavs:
        valid_sampler = CropSampler(valid_wavs, compute_targets(valid_wavs, kmeans), crop)
        valid = fixed_batches(valid_sampler, opts.valid_batches, opts.batch_size, seed=args.seed + 1)

    torch.manual_seed(args.seed)
    model = build_pretrain_model(cfg)
    _LG.info("model: %.2f M parameters (encoder %.2f M)", sum(p.numel() for p in model.parameters()) / 1e6,
             sum(p.numel() for p in model.wav2vec2.parameters()) / 1e6)
    with atomic_open(train_dir / "config.json") as f:
        json.dump({"model": dataclasses.asdict(cfg), "train": dataclasses.asdict(opts),
                   "wav_scp": args.wav_scp, "num_train_utts": len(train_keys),
                   "valid_keys": valid_keys}, f, indent=2)
    log = train(model, cfg, opts, sampler, valid, train_dir, device, resume=args.resume)
    weights = export_encoder(model, cfg, out_dir)
    if log:
        _LG.info("final: %s", json.dumps(log[-1]))
    _LG.info("encoder written to %s (%s)", out_dir, weights.name)
    return out_dir


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(get_parser(), run, argv, log_format=ESPNET_LOG_FORMAT)


if __name__ == "__main__":
    sys.exit(main())
