"""Keeping the N best models of a run by one or more criteria (ESPnet's best_model_criterion).

After each validation the trainer hands the stats to :class:`NBestKeeper`, which

* writes ``<step>steps.pth`` (generator weights) when the step enters the N best of any
  criterion, and deletes the files of steps that no criterion keeps any more;
* points ``<phase>.<stat>.best.pth`` at the best step's file (a relative symlink, or a copy
  where symlinks are not possible).

Its records go into checkpoint.pt, so a resumed run keeps ranking where it stopped.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

__all__ = ["Criterion", "parse_criteria", "NBestKeeper", "step_file_name"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Criterion:
    """Rank models by ``stat`` of ``phase`` ("valid" or "train"), ``mode`` "min" or "max"."""

    phase: str
    stat: str
    mode: str

    @property
    def name(self) -> str:
        return f"{self.phase}.{self.stat}"

    @property
    def link_name(self) -> str:
        return f"{self.name}.best.pth"


def parse_criteria(value: Any) -> list[Criterion]:
    """``[valid, mel_distance, min]`` or a list of such triples -> criteria."""
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(
            isinstance(v, str) for v in value):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"best_criterion: expected [phase, stat, min|max] or a list of them, "
                         f"got {value!r}")
    criteria = []
    for item in value:
        if not (isinstance(item, (list, tuple)) and len(item) == 3
                and all(isinstance(v, str) for v in item)):
            raise ValueError(f"best_criterion: {item!r} is not [phase, stat, min|max]")
        phase, stat, mode = item
        if phase not in ("valid", "train"):
            raise ValueError(f"best_criterion {list(item)}: phase must be valid or train")
        if mode not in ("min", "max"):
            raise ValueError(f"best_criterion {list(item)}: mode must be min or max")
        criteria.append(Criterion(phase, stat, mode))
    names = [c.name for c in criteria]
    if len(set(names)) != len(names):
        raise ValueError(f"best_criterion: a stat is ranked twice: {names}")
    return criteria


def step_file_name(step: int) -> str:
    return f"{step}steps.pth"


def _replace_link(link: Path, target_name: str) -> None:
    """Point ``link`` at ``target_name`` (same directory) atomically."""
    tmp = link.with_name(f".{link.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.symlink(target_name, tmp)
    except OSError:  # no symlinks here (some network file systems): copy instead
        shutil.copyfile(link.parent / target_name, tmp)
    os.replace(tmp, link)


class NBestKeeper:
    """The N best steps per criterion and the weight files on disk that back them.

    Args:
        output_dir: where the ``*.pth`` files and links go.
        criteria: what to rank by.
        keep: N; 0 keeps no files and no links.
    """

    def __init__(self, output_dir: Path, criteria: Sequence[Criterion], keep: int):
        if keep < 0:
            raise ValueError(f"keep_nbest_models must be non-negative, got {keep}")
        self.output_dir = Path(output_dir)
        self.criteria = list(criteria)
        self.keep = keep
        # criterion name -> [(value, step)], best first
        self.records: dict[str, list[tuple[float, int]]] = {c.name: [] for c in self.criteria}

    def _sort_key(self, criterion: Criterion) -> Callable[[tuple[float, int]], tuple]:
        sign = 1.0 if criterion.mode == "min" else -1.0
        return lambda record: (sign * record[0], record[1])  # ties: the earlier step

    def kept_steps(self) -> set[int]:
        return {step for records in self.records.values() for _, step in records}

    def best(self, criterion: Criterion) -> list[tuple[float, int]]:
        """(value, step) of the kept steps, best first."""
        return list(self.records[criterion.name])

    def update(self, step: int, stats: Mapping[str, Mapping[str, float]],
               save_weights: Callable[[Path], Any]) -> None:
        """Rank ``step`` with ``stats[phase][stat]``; ``save_weights(path)`` writes the
        generator weights when the step is kept."""
        if self.keep == 0:
            return
        before = self.kept_steps()
        for criterion in self.criteria:
            phase_stats = stats.get(criterion.phase, {})
            if criterion.stat not in phase_stats:
                raise ValueError(f"best_criterion {criterion.name}: no stat '{criterion.stat}' "
                                 f"in the {criterion.phase} stats; available: "
                                 f"{', '.join(sorted(phase_stats)) or '(none)'}")
            value = float(phase_stats[criterion.stat])
            if not math.isfinite(value):
                logger.warning("step %d: %s is %s; not ranked", step, criterion.name, value)
                continue
            records = [r for r in self.records[criterion.name] if r[1] != step]
            records.append((value, step))
            records.sort(key=self._sort_key(criterion))
            self.records[criterion.name] = records[:self.keep]
        after = self.kept_steps()
        if step in after:
            save_weights(self.output_dir / step_file_name(step))
        for old in sorted(before - after):
            with contextlib.suppress(FileNotFoundError):
                (self.output_dir / step_file_name(old)).unlink()
        for criterion in self.criteria:
            records = self.records[criterion.name]
            if records:
                best_step = records[0][1]
                _replace_link(self.output_dir / criterion.link_name, step_file_name(best_step))
                if best_step == step:
                    logger.info("step %d is the best so far by %s (%s = %.6g)", step,
                                criterion.name, criterion.stat, records[0][0])

    def state_dict(self) -> dict[str, Any]:
        return {"records": {k: [list(r) for r in v] for k, v in self.records.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        saved = state.get("records", {})
        for name in self.records:
            self.records[name] = [(float(v), int(s)) for v, s in saved.get(name, [])]
        dropped = [name for name in saved if name not in self.records]
        if dropped:
            logger.warning("the checkpoint ranked models by %s, which best_criterion no longer "
                           "lists; those rankings are dropped", dropped)
