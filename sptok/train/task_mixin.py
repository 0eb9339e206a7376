"""``GANTrainTask``: the base of every task trained by :class:`sptok.train.trainer.Trainer`.

A task derives from it, adds its model and data options, and implements::

    class CodecTask(GANTrainTask):
        class_choices_list = [quantizer_choices, ...]   # the trainer's choices are inherited
        options = [Option("sample_rate", 16000), ...]  # the trainer's options are inherited

        @classmethod
        def build_model(cls, config): ...            # .generator, .discriminator (or None),
                                                     # forward_generator, generator_loss,
                                                     # discriminator_loss, validation_stats,
                                                     # optional media
        @classmethod
        def build_dataset(cls, config, split): ...   # split "train" / "valid" (None: no
                                                     # validation)
        @classmethod
        def collate_fn(cls, config): ...             # list of items -> batch dict
        @classmethod
        def item_length(cls, dataset, index): ...    # optional: enables length bucketing

``train(config, output_dir)`` (called by ``python -m sptok.bin.train``) runs the Trainer.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Optional, Sequence

from torch.utils.data import Dataset

from sptok.tasks.abs_task import AbsTask
from sptok.train.optim import optimizer_choices, scheduler_choices
from sptok.train.options import TRAIN_OPTIONS
from sptok.utils.config import Option
from sptok.utils.registry import ClassChoices, qualified_name

__all__ = ["GANTrainTask", "TRAIN_CHOICES"]

# Optimizer and schedule of the generator (the whole model without a discriminator), then of
# the discriminator (ignored when the model has none).
TRAIN_CHOICES: list[ClassChoices] = [
    optimizer_choices("optim"),
    scheduler_choices("scheduler"),
    optimizer_choices("optim_d"),
    scheduler_choices("scheduler_d"),
]


class GANTrainTask(AbsTask):
    """AbsTask with the trainer's options and ``train()``; see the module docstring."""

    options: ClassVar[Sequence[Option]] = TRAIN_OPTIONS
    class_choices_list: ClassVar[Sequence[ClassChoices]] = TRAIN_CHOICES

    @classmethod
    def build_dataset(cls, config: Mapping[str, Any], split: str) -> Optional[Dataset]:
        """The ``"train"`` or ``"valid"`` dataset; items are dicts of tensors / numbers.
        Return None for ``"valid"`` to train without validation."""
        raise NotImplementedError(f"{qualified_name(cls)} must implement build_dataset()")

    @classmethod
    def collate_fn(cls, config: Mapping[str, Any]) -> Callable[[list[Any]], Any]:
        """A picklable callable turning a list of items into a batch dict (with "lengths"
        where padded). It may draw random numbers (crops): they are seeded per batch."""
        raise NotImplementedError(f"{qualified_name(cls)} must implement collate_fn()")

    @classmethod
    def item_length(cls, dataset: Dataset, index: int) -> Optional[float]:
        """Length of item ``index`` (seconds, or frames) for bucketing and batch_seconds;
        None (the default) batches items in random order without bucketing."""
        return None

    @classmethod
    def train(cls, config: Mapping[str, Any], output_dir: Path) -> None:
        from sptok.train.trainer import Trainer  # the trainer pulls in tensorboard, tqdm

        Trainer(cls, config, output_dir).run()
