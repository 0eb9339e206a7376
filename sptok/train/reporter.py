"""Training statistics: averaging, log lines, TensorBoard and a machine-readable record.

Per-step stats stay tensors on the training device until a log line is due (``.item()`` every
step would synchronise a GPU every step). Rank 0 writes

* log lines through :mod:`logging` (train.log and the console);
* TensorBoard scalars ``train/<stat>`` and ``valid/<stat>`` and validation media under
  ``output_dir/tensorboard``;
* ``output_dir/metrics.jsonl``: one JSON record per log line and per validation with the exact
  float values (plots, tests); on resume the records after the checkpoint's step are dropped so
  that the file reads like one uninterrupted run.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch

from sptok.train.distributed import reduce_weighted_sums
from sptok.utils.fileio import atomic_open

__all__ = ["StatsAccumulator", "Reporter", "format_stats", "METRICS_NAME"]

logger = logging.getLogger(__name__)

METRICS_NAME = "metrics.jsonl"
StatValue = Union[float, int, torch.Tensor]


class StatsAccumulator:
    """Weighted sums of scalar stats (floats or 0-dim tensors), averaged on demand."""

    def __init__(self) -> None:
        self._sums: dict[str, Union[float, torch.Tensor]] = {}
        self._weights: dict[str, float] = {}

    def __bool__(self) -> bool:
        return bool(self._sums)

    def add(self, stats: Mapping[str, StatValue], weight: float = 1.0) -> None:
        """Add one batch's ``stats``, each counted ``weight`` times (e.g. its number of items)."""
        for key, value in stats.items():
            if isinstance(value, torch.Tensor):
                if value.numel() != 1:
                    raise ValueError(f"stat '{key}' must be a scalar, got a tensor of shape "
                                     f"{list(value.shape)}")
                value = value.detach().reshape(()).float()
                if weight != 1:
                    value = value * weight
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                value = float(value) * weight
            else:
                raise ValueError(f"stat '{key}' must be a number or a scalar tensor, got "
                                 f"{type(value).__name__}")
            self._sums[key] = self._sums[key] + value if key in self._sums else value
            self._weights[key] = self._weights.get(key, 0.0) + weight

    def averages(self) -> dict[str, Union[float, torch.Tensor]]:
        """Averages without synchronising: tensors stay tensors on their device."""
        return {k: v / self._weights[k] for k, v in self._sums.items()}

    def sums(self) -> tuple[dict[str, float], dict[str, float]]:
        """(weighted sums, total weights) as Python floats (one device sync)."""
        # at log time only: the first .item() waits for the device, the others are immediate
        values = {k: v.item() if isinstance(v, torch.Tensor) else float(v)
                  for k, v in self._sums.items()}
        return values, dict(self._weights)

    def means(self, all_ranks: bool = False) -> dict[str, float]:
        """Averages; with ``all_ranks`` over the stats of every DDP rank (a collective)."""
        sums, weights = self.sums()
        if all_ranks:
            sums, weights = reduce_weighted_sums(sums, weights)
        return {k: sums[k] / weights[k] for k in sums if weights[k] > 0}

    def reset(self) -> None:
        self._sums.clear()
        self._weights.clear()


def format_stats(stats: Mapping[str, float]) -> str:
    """``name=value`` pairs with 4 significant digits."""
    return ", ".join(f"{k}={v:.4g}" for k, v in stats.items())


class Reporter:
    """Log lines, TensorBoard and metrics.jsonl of one run (only rank 0 writes).

    Args:
        output_dir: experiment directory.
        enabled: False on ranks other than 0.
        start_step: the step training starts from (0, or the resumed checkpoint's): records
            after it are removed from metrics.jsonl and TensorBoard.
        tensorboard: write TensorBoard event files.
    """

    def __init__(self, output_dir: Path, enabled: bool = True, start_step: int = 0,
                 tensorboard: bool = True):
        self.output_dir = Path(output_dir)
        self.enabled = enabled
        self.metrics_path = self.output_dir / METRICS_NAME
        self._writer: Any = None
        self._metrics_file: Any = None
        if not enabled:
            return
        self._truncate_metrics(start_step)
        self._metrics_file = open(self.metrics_path, "a", encoding="utf-8")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # imports tensorboard: slow
            self._writer = SummaryWriter(str(self.output_dir / "tensorboard"),
                                         purge_step=start_step + 1 if start_step else None)

    def _truncate_metrics(self, start_step: int) -> None:
        if not self.metrics_path.exists():
            return
        kept = []
        with open(self.metrics_path, encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill
                if isinstance(record, dict) and record.get("step", math.inf) <= start_step:
                    kept.append(json.dumps(record) + "\n")
        with atomic_open(self.metrics_path) as f:
            f.writelines(kept)

    def _record(self, record: dict[str, Any]) -> None:
        if self._metrics_file is not None:
            self._metrics_file.write(json.dumps(record) + "\n")
            self._metrics_file.flush()

    def log_train(self, step: int, epoch: int, stats: Mapping[str, float],
                  extra: Optional[Mapping[str, float]] = None, progress: str = "") -> None:
        """Report averaged training stats at ``step``; ``extra`` (lr, speed) is logged and
        recorded beside them."""
        if not self.enabled:
            return
        extra = dict(extra or {})
        logger.info("step %d%s, epoch %d: %s%s", step, progress, epoch + 1, format_stats(stats),
                    (" | " + format_stats(extra)) if extra else "")
        if self._writer is not None:
            for key, value in {**stats, **extra}.items():
                self._writer.add_scalar(f"train/{key}", value, step)
        self._record({"step": step, "epoch": epoch, "phase": "train", **stats, **extra})

    def log_valid(self, step: int, epoch: int, stats: Mapping[str, float]) -> None:
        """Report validation averages at ``step``."""
        if not self.enabled:
            return
        logger.info("step %d, validation: %s", step, format_stats(stats))
        if self._writer is not None:
            for key, value in stats.items():
                self._writer.add_scalar(f"valid/{key}", value, step)
        self._record({"step": step, "epoch": epoch, "phase": "valid", **stats})

    def add_media(self, step: int, media: Mapping[str, tuple]) -> None:
        """TensorBoard media: ``name -> ("audio", [N] tensor, sample_rate)`` or
        ``("image", matplotlib figure)``."""
        if not self.enabled or self._writer is None:
            return
        for name, item in media.items():
            kind = item[0] if isinstance(item, (tuple, list)) and item else None
            if kind == "audio" and len(item) == 3:
                wav = torch.as_tensor(item[1]).detach().float().cpu().reshape(-1)
                peak = wav.abs().max()
                if peak > 1:
                    wav = wav / peak  # TensorBoard expects [-1, 1]
                self._writer.add_audio(f"valid/{name}", wav, step, sample_rate=int(item[2]))
            elif kind == "image" and len(item) == 2:
                self._writer.add_figure(f"valid/{name}", item[1], step, close=True)
            else:
                raise ValueError(f"media '{name}': expected ('audio', wav, sample_rate) or "
                                 f"('image', figure), got {type(item).__name__} {kind!r}")

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._metrics_file is not None:
            self._metrics_file.close()
            self._metrics_file = None
