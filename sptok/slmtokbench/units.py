"""HuBERT k-means units: discrete ids from teacher features (SLMTokBench's "HuBERT k-means 500").

k-means runs on frames of dumped teacher features (``sptok.bin.dump_teacher_feats``: float32
[T, D] per utterance in a feats scp). The clustering is :class:`sptok.teachers.mfcc_kmeans.KMeans`
(k-means++ seeding, Lloyd steps in torch, empty clusters re-seeded), which standardises every
dimension first: the model file keeps the standardisation statistics with the centroids, so
assigning ids needs nothing else.

Units are written as a codes ``ark,scp`` pair (:class:`sptok.data.ark.CodesWriter`): one
[T, 1] integer matrix per utterance, the layout of a one-level codec, which the text-alignment
probe reads as a ``units`` stream and the unit vocoder
(:mod:`sptok.slmtokbench.unit_vocoder`) decodes.

Python::

    kmeans = fit_units("exp/teacher_feats/train/feats.scp", num_units=500)
    save_kmeans("exp/units/kmeans.pt", kmeans, {"teacher": "exp/hubert", "layer": 9})
    write_units("exp/teacher_feats/test/feats.scp", kmeans, "exp/units/test/units")

Command line::

    python -m sptok.slmtokbench.units --train_feats exp/teacher_feats/train/feats.scp \\
        --num_units 500 --out_dir exp/units \\
        --set train exp/teacher_feats/train/feats.scp --set test exp/teacher_feats/test/feats.scp

writes ``exp/units/kmeans.pt`` and ``exp/units/<set>/units.{ark,scp}``.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from tqdm import tqdm

from sptok.data.ark import CodesWriter, FeatsReader
from sptok.data.errors import DataError
from sptok.teachers.mfcc_kmeans import KMeans
from sptok.utils.fileio import atomic_path
from sptok.utils.progress import progress_mininterval

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]

#: ``format`` tag of the k-means model files written by :func:`save_kmeans`.
KMEANS_FORMAT = "sptok.slmtokbench.kmeans_units/1"


def sample_frames(feats_scp: PathLike, max_frames: Optional[int] = 200_000, seed: int = 0,
                  progress: bool = True) -> torch.Tensor:
    """Frames of every utterance of ``feats_scp`` for fitting, at most about ``max_frames``.

    Each utterance gives at most ``ceil(max_frames / n_utts)`` random frames, so one pass reads
    the set with bounded memory and every utterance is represented.

    Returns:
        [M, D] float32.
    """
    gen = np.random.default_rng(seed)
    chunks: List[np.ndarray] = []
    with FeatsReader(feats_scp) as reader:
        n_utts = len(reader)
        if n_utts == 0:
            raise DataError("no utterance in the feats scp", path=str(feats_scp))
        per_utt = None if max_frames is None else max(1, math.ceil(max_frames / n_utts))
        dim = None
        for key in tqdm(reader, total=n_utts, desc="k-means frames", disable=not progress,
                        mininterval=progress_mininterval(), file=sys.stderr):
            feats = reader[key]
            if feats.ndim != 2 or feats.shape[0] == 0:
                raise DataError(f"features must be a non-empty [T, D] matrix, got shape "
                                f"{feats.shape}", path=str(feats_scp), key=key)
            if dim is not None and feats.shape[1] != dim:
                raise DataError(f"feature dimension {feats.shape[1]} differs from the first "
                                f"utterance's {dim}", path=str(feats_scp), key=key)
            dim = feats.shape[1]
            if per_utt is not None and feats.shape[0] > per_utt:
                feats = feats[np.sort(gen.choice(feats.shape[0], per_utt, replace=False))]
            chunks.append(np.array(feats, dtype=np.float32))
    return torch.from_numpy(np.concatenate(chunks))


def fit_units(feats_scp: PathLike, num_units: int = 500, max_frames: Optional[int] = 200_000,
              num_iters: int = 30, seed: int = 0, progress: bool = True) -> KMeans:
    """Fit ``num_units`` k-means clusters on (a sample of) the frames of ``feats_scp``."""
    if num_units < 2:
        raise ValueError(f"num_units must be >= 2, got {num_units}")
    frames = sample_frames(feats_scp, max_frames, seed, progress)
    if frames.shape[0] < num_units:
        raise DataError(f"{frames.shape[0]} frames are too few for {num_units} k-means units",
                        path=str(feats_scp))
    logger.info("k-means: %d units on %d frames of dimension %d from %s", num_units,
                frames.shape[0], frames.shape[1], feats_scp)
    return KMeans.fit(frames, num_units, num_iters=num_iters, seed=seed, max_frames=None)


def save_kmeans(path: PathLike, kmeans: KMeans, meta: Optional[Mapping[str, Any]] = None
                ) -> Path:
    """Write the k-means model (centroids, standardisation) and ``meta`` (where the features
    came from: teacher, layer ...) atomically."""
    state = {"format": KMEANS_FORMAT, "kmeans": {k: v.cpu() for k, v in
                                                 kmeans.state_dict().items()},
             "meta": dict(meta or {})}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load_kmeans(path: PathLike) -> Tuple[KMeans, Dict[str, Any]]:
    """``(kmeans, meta)`` from :func:`save_kmeans`'s file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"k-means model '{path}' not found")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or state.get("format") != KMEANS_FORMAT:
        raise ValueError(f"{path}: not a k-means units model (expected format "
                         f"'{KMEANS_FORMAT}', written by sptok.slmtokbench.units.save_kmeans)")
    return KMeans.from_state_dict(state["kmeans"]), dict(state.get("meta") or {})


def assign_units(kmeans: KMeans, feats: Union[np.ndarray, torch.Tensor]) -> np.ndarray:
    """Unit ids [T] (int64) of features [T, D]."""
    feats = torch.as_tensor(np.array(feats, dtype=np.float32))  # a writable copy
    if feats.dim() != 2 or feats.shape[1] != kmeans.centroids.shape[1]:
        raise ValueError(f"features must be [T, {kmeans.centroids.shape[1]}] (the k-means "
                         f"dimension), got shape {list(feats.shape)}")
    return kmeans.predict(feats).numpy().astype(np.int64)


def write_units(feats_scp: PathLike, kmeans: KMeans, out_prefix: PathLike,
                progress: bool = True) -> Path:
    """Units of every utterance of ``feats_scp`` into ``out_prefix.ark`` / ``out_prefix.scp``
    ([T, 1] code matrices); returns the scp path."""
    ark, scp = Path(f"{out_prefix}.ark"), Path(f"{out_prefix}.scp")
    with FeatsReader(feats_scp) as reader, CodesWriter(ark, scp, kmeans.num_clusters) as writer:
        for key in tqdm(reader, total=len(reader), desc=f"units {scp.parent.name}",
                        disable=not progress, mininterval=progress_mininterval(), file=sys.stderr):
            try:
                ids = assign_units(kmeans, reader[key])
            except ValueError as exc:
                raise DataError(str(exc), path=str(feats_scp), key=key) from exc
            writer[key] = ids[:, None]
    logger.info("wrote %s (%d utterances)", scp, len(reader))
    return scp


def unit_histogram(units_scp: PathLike, num_units: int) -> np.ndarray:
    """How often each unit occurs in a units scp: [num_units] int64 (for usage reports)."""
    from sptok.data.ark import CodesReader

    counts = np.zeros(num_units, dtype=np.int64)
    with CodesReader(units_scp) as reader:
        for key in reader:
            ids = reader[key][:, 0]
            if ids.min() < 0 or ids.max() >= num_units:
                raise DataError(f"unit ids outside [0, {num_units})", path=str(units_scp),
                                key=key)
            counts += np.bincount(ids, minlength=num_units)
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sptok.slmtokbench.units",
                                     description="Fit k-means units on teacher features and "
                                                 "write units ark/scp per set.")
    parser.add_argument("--train_feats", required=True, help="feats scp the k-means is fit on")
    parser.add_argument("--num_units", type=int, default=500, help="clusters (paper: 500)")
    parser.add_argument("--max_frames", type=int, default=200_000,
                        help="frames sampled for fitting (spread over all utterances)")
    parser.add_argument("--num_iters", type=int, default=30, help="Lloyd iterations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--teacher", default=None, help="recorded in the model file (metadata)")
    parser.add_argument("--layer", default=None, help="recorded in the model file (metadata)")
    parser.add_argument("--set", nargs=2, action="append", default=[], metavar=("NAME", "SCP"),
                        help="write OUT_DIR/NAME/units.{ark,scp} for this feats scp "
                             "(repeatable)")
    parser.add_argument("--out_dir", required=True)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s "
                                                   "%(message)s")
    args = build_parser().parse_args(argv)
    out_dir = Path(args.out_dir)
    try:
        kmeans = fit_units(args.train_feats, args.num_units, args.max_frames, args.num_iters,
                           args.seed)
        save_kmeans(out_dir / "kmeans.pt", kmeans,
                    {"teacher": args.teacher, "layer": args.layer,
                     "train_feats": args.train_feats, "num_units": args.num_units})
        for name, scp in args.set:
            write_units(scp, kmeans, out_dir / name / "units")
    except ValueError as exc:  # DataError included
        print(f"units: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
