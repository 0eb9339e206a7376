"""Tiny tasks for the trainer tests: a GAN and a plain regression model on random signals.

Imported by the tests (this directory is put on sys.path by conftest.py) and, by import path
``train_dummy_tasks:DummyGANTask``, by training subprocesses that get it on PYTHONPATH.

Randomness the trainer must reproduce on resume: dropout in the generator (model RNG) and a
random crop at collation time (data RNG, seeded per batch by the trainer).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch
import yaml
import torch.nn.functional as F
from torch.utils.data import Dataset

from sptok.train import GANTrainTask
from sptok.utils.config import Option

CROP = 16
HERE = str(Path(__file__).resolve().parent)


class SignalDataset(Dataset):
    """Item i: {"x": [L_i]} with L_i in [CROP, CROP + 24] (or CROP: nothing to crop), fixed
    by i."""

    def __init__(self, num_items: int, offset: int = 0, fixed_length: bool = False):
        self.items = []
        for i in range(num_items):
            g = torch.Generator().manual_seed(1000 + offset + i)
            length = CROP + int(torch.randint(0, 25, (), generator=g))
            if fixed_length:
                length = CROP
            t = torch.arange(length, dtype=torch.float32)
            freq = 0.1 + 0.4 * torch.rand((), generator=g)
            self.items.append(torch.sin(freq * t) + 0.1 * torch.randn(length, generator=g))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"x": self.items[index]}


class RandomCrop:
    """Collation with a random crop of CROP samples per item (torch's global RNG)."""

    def __call__(self, items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        crops = []
        for item in items:
            x = item["x"]
            start = int(torch.randint(0, x.numel() - CROP + 1, ()))
            crops.append(x[start:start + CROP])
        return {"x": torch.stack(crops), "lengths": torch.full((len(items),), CROP)}


class Generator(torch.nn.Module):
    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.encoder = torch.nn.Linear(CROP, hidden)
        self.dropout = torch.nn.Dropout(dropout)
        self.decoder = torch.nn.Linear(hidden, CROP)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.dropout(torch.tanh(self.encoder(x))))


class Discriminator(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(CROP, 8), torch.nn.LeakyReLU(0.2),
                                       torch.nn.Linear(8, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DummyModel(torch.nn.Module):
    """The trainer's model interface on a denoising-autoencoder-ish toy."""

    def __init__(self, hidden: int = 8, dropout: float = 0.2, gan: bool = True,
                 sleep: float = 0.0, nan_after: Optional[int] = None,
                 dump_dir: Optional[str] = None):
        super().__init__()
        self.generator = Generator(hidden, dropout)
        self.discriminator = Discriminator() if gan else None
        self.sleep = sleep
        self.nan_after = nan_after
        self.generator_loss_calls = 0
        self.dump_dir = dump_dir

    def forward_generator(self, generator: torch.nn.Module, batch: Mapping[str, Any]) -> dict:
        if self.sleep:
            time.sleep(self.sleep)
        return {"y": generator(batch["x"])}

    def discriminator_loss(self, discriminator, batch, out):
        real = discriminator(batch["x"])
        fake = discriminator(out["y"].detach())
        loss = ((real - 1) ** 2).mean() + (fake ** 2).mean()
        return loss, {"d_real": real.mean().detach(), "d_fake": fake.mean().detach()}

    def generator_loss(self, discriminator, batch, out):
        self.generator_loss_calls += 1
        recon = F.mse_loss(out["y"], batch["x"])
        loss = recon
        stats = {"recon": recon.detach()}
        if discriminator is not None:
            adv = ((discriminator(out["y"]) - 1) ** 2).mean()
            loss = loss + 0.1 * adv
            stats["adv"] = adv.detach()
        if self.nan_after is not None and self.generator_loss_calls > self.nan_after:
            loss = loss * float("nan")
        return loss, stats

    @torch.no_grad()
    def validation_stats(self, generator, batch) -> dict[str, float]:
        if self.dump_dir is not None:  # for the DDP tests: the weights each rank holds
            rank = os.environ.get("RANK", "0")
            torch.save(generator.state_dict(), os.path.join(self.dump_dir, f"rank{rank}.pt"))
        return {"mel_distance": F.l1_loss(generator(batch["x"]), batch["x"]).item(),
                "mse": F.mse_loss(generator(batch["x"]), batch["x"]).item()}

    def media(self, batch, out):
        return {"reconstruction": ("audio", out["y"][0], 16000)}


DUMMY_OPTIONS = [
    Option("num_items", 24, help="training items"),
    Option("num_valid_items", 6, help="validation items (0: no validation)"),
    Option("hidden", 8, help="generator width"),
    Option("dropout", 0.2, help="generator dropout"),
    Option("sleep", 0.0, help="seconds to sleep per generator forward (kill tests)"),
    Option("nan_after", None, type=int, help="generator loss becomes NaN after N calls"),
    Option("fixed_length", False, help="items of exactly CROP samples: no random crops"),
    Option("dump_dir", None, type=str,
           help="validation writes each rank's generator weights to dump_dir/rank<R>.pt"),
]


class DummyGANTask(GANTrainTask):
    options = DUMMY_OPTIONS

    gan: bool = True

    @classmethod
    def build_model(cls, config) -> DummyModel:
        return DummyModel(config["hidden"], config["dropout"], gan=cls.gan,
                          sleep=config["sleep"], nan_after=config["nan_after"],
                          dump_dir=config["dump_dir"])

    @classmethod
    def build_dataset(cls, config, split) -> Optional[SignalDataset]:
        if split == "train":
            return SignalDataset(config["num_items"], fixed_length=config["fixed_length"])
        if config["num_valid_items"] == 0:
            return None
        return SignalDataset(config["num_valid_items"], offset=10_000,
                             fixed_length=config["fixed_length"])

    @classmethod
    def collate_fn(cls, config) -> RandomCrop:
        return RandomCrop()

    @classmethod
    def item_length(cls, dataset, index) -> Optional[float]:
        if not getattr(cls, "_bucketing", False):
            return None
        return float(dataset.items[index].numel())


class DummyPlainTask(DummyGANTask):
    """No discriminator: the non-GAN path."""

    gan = False


class DummyBucketTask(DummyGANTask):
    """Reports item lengths, so batches are bucketed (and batch_seconds works)."""

    _bucketing = True


FAST_DEFAULTS = {"batch_size": 4, "num_workers": 0, "max_steps": 6, "log_interval": 1,
                 "valid_interval": 3, "save_interval": 2, "progress_bar": False,
                 "optim_conf": {"lr": 0.01}, "optim_d_conf": {"lr": 0.01}}


def make_config(task: type = DummyGANTask, **overrides: Any) -> dict[str, Any]:
    """A resolved config for ``task`` with fast defaults for tests."""
    return task.resolve_config({"task": "dummy", **FAST_DEFAULTS, **overrides})


def run_cli(out_dir: Path, task: str = "DummyGANTask", nproc: int = 1, wait: bool = True,
            **overrides: Any) -> Union[subprocess.Popen, subprocess.CompletedProcess]:
    """``python -m sptok.bin.train`` (``nproc`` > 1: under torchrun) in a subprocess, on a
    config written to ``out_dir``/../<name>.yaml. Returns the finished process, or the
    running one when not ``wait``."""
    out_dir = Path(out_dir)
    config = {"task": f"train_dummy_tasks:{task}", **FAST_DEFAULTS, **overrides}
    config_path = out_dir.parent / f"{out_dir.name}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (HERE, env.get("PYTHONPATH")) if p)
    env["OMP_NUM_THREADS"] = "1"  # the same float results in every process
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    train = ["-m", "sptok.bin.train", "--config", str(config_path), "--output_dir", str(out_dir)]
    if nproc > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc_per_node", str(nproc), *train]
    else:
        command = [sys.executable, *train]
    log = open(out_dir.parent / f"{out_dir.name}.log", "ab")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    if not wait:
        return proc
    try:
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode != 0:
        text = (out_dir.parent / f"{out_dir.name}.log").read_text(errors="replace")
        raise AssertionError(f"training failed ({proc.returncode}):\n{text[-4000:]}")
    return proc
