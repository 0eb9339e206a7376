"""The generic trainer: GAN or plain training, DDP, exact resume, n-best checkpoints.

A task derives from :class:`GANTrainTask` and is trained with ``python -m sptok.bin.train``;
see :mod:`sptok.train.trainer` for the loop and :mod:`sptok.train.task_mixin` for what a
task provides.
"""
from sptok.train.options import TRAIN_OPTIONS
from sptok.train.task_mixin import TRAIN_CHOICES, GANTrainTask

__all__ = ["GANTrainTask", "TRAIN_OPTIONS", "TRAIN_CHOICES"]
