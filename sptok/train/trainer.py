"""The generic training loop: GAN (generator + discriminator) or plain, one process or DDP.

Per optimizer update (``accum_grad`` batches; shown for one)::

    out = model.forward_generator(G, batch)                  # G: generator or its DDP wrapper
    d_loss, d_stats = model.discriminator_loss(D, batch, out) # D: discriminator or its DDP wrapper
    d_loss.backward(); clip; optim_d.step(); scheduler_d.step()
    g_loss, g_stats = model.generator_loss(model.discriminator, batch, out)
        # the plain discriminator with requires_grad off: its DDP reducer is not involved
    g_loss.backward(); clip; optim.step(); scheduler.step()

Without a discriminator (``model.discriminator is None``) only the generator half runs and
``generator_loss`` gets ``None``. With ``accum_grad`` > 1 the discriminator updates after the
last batch's discriminator loss, so only that batch's generator loss sees the updated
discriminator.

Everything a run draws at random is a function of the config's seed and the position in
training (see :mod:`sptok.train.rng` and :mod:`sptok.train.sampler`), and checkpoint.pt holds
every state that changes, so a run killed at any time and resumed from its last checkpoint
continues exactly like an uninterrupted run: same batches, same random draws, same losses.
"""
from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

import torch
from torch.utils.data import DataLoader

from sptok.train import distributed as dist_utils
from sptok.train.checkpoint import (CHECKPOINT_NAME, load_checkpoint, load_init_param,
                                    save_checkpoint, save_generator_weights)
from sptok.train.distributed import DistributedInfo
from sptok.train.nbest import NBestKeeper, parse_criteria
from sptok.train.optim import build_optimizer, build_scheduler
from sptok.train.reporter import Reporter, StatsAccumulator
from sptok.train.rng import derive_seed, fork_rng, get_rng_state, seed_everything, set_rng_state
from sptok.train.sampler import BucketBatchSampler, SeededDataset, take_collated
from sptok.utils.progress import progress_mininterval

__all__ = ["Trainer", "NonFiniteLossError", "MODEL_METHODS", "batch_size_of", "to_device"]

logger = logging.getLogger(__name__)

MODEL_METHODS = ("forward_generator", "generator_loss", "discriminator_loss", "validation_stats")
LOG_FORMAT = "%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"
# derive_seed stream keys, apart from the data streams of sampler.SPLIT_KEYS
_MODEL_RNG_KEY = 100
_LOADER_RNG_KEY = 101


class NonFiniteLossError(RuntimeError):
    """A loss (or gradient norm) became NaN or infinite; training stops before the weights
    are touched."""


def to_device(obj: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """``obj`` with every tensor inside dicts / lists / tuples moved to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, Mapping):
        return type(obj)((k, to_device(v, device, non_blocking)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device, non_blocking) for v in obj)
    return obj


def batch_size_of(batch: Any) -> int:
    """Items in a collated batch: ``len(batch["lengths"])``, else the first dimension of its
    first tensor (weights validation averages)."""
    if isinstance(batch, Mapping):
        if isinstance(batch.get("lengths"), torch.Tensor):
            return int(batch["lengths"].shape[0])
        values = list(batch.values())
    elif isinstance(batch, (list, tuple)):
        values = list(batch)
    else:
        values = [batch]
    for value in values:
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return int(value.shape[0])
    return 1


def _stderr_is(path: Path) -> bool:
    """True when this process's stderr already goes to ``path`` (a job launcher's log):
    logging there a second time would write every line twice."""
    try:
        err, target = os.fstat(sys.stderr.fileno()), os.stat(path)
    except (OSError, ValueError, AttributeError):
        return False
    return (err.st_dev, err.st_ino) == (target.st_dev, target.st_ino)


def _nonfinite(loss: torch.Tensor) -> bool:
    return not bool(torch.isfinite(loss.detach()).all())


class Trainer:
    """Trains the model of ``task`` as described by ``config``, writing to ``output_dir``.

    Args:
        task: a task class (see sptok.train.task_mixin.GANTrainTask) providing
            ``build_model``, ``build_dataset``, ``collate_fn`` and ``item_length``.
        config: the resolved config (options of sptok.train.options and the optimizer and
            schedule choices ``optim``, ``scheduler``, ``optim_d``, ``scheduler_d``).
        output_dir: experiment directory.
    """

    def __init__(self, task: Any, config: Mapping[str, Any], output_dir: os.PathLike):
        self.task = task
        self.config = dict(config)
        self.output_dir = Path(output_dir)
        self._check_config()
        self.criteria = parse_criteria(self.config["best_criterion"])

    # ------------------------------------------------------------------ set-up
    def _check_config(self) -> None:
        c = self.config
        if c["max_steps"] is None and c["max_epochs"] is None:
            raise ValueError("set max_steps or max_epochs (both are null: training would "
                             "never stop)")
        positive = ["batch_size", "accum_grad", "log_interval", "valid_interval",
                    "save_interval", "max_steps", "max_epochs", "valid_batch_size"]
        for key in positive:
            if c.get(key) is not None and c[key] < 1:
                raise ValueError(f"{key} must be at least 1, got {c[key]}")
        if c["num_workers"] < 0:
            raise ValueError(f"num_workers must be non-negative, got {c['num_workers']}")
        if c["seed"] < 0:
            raise ValueError(f"seed must be non-negative, got {c['seed']}")
        for key in ("grad_clip", "grad_clip_d", "batch_seconds"):
            if c.get(key) is not None and c[key] <= 0:
                raise ValueError(f"{key} must be positive or null, got {c[key]}")
        for key in ("init_param", "freeze_param"):
            if not all(isinstance(v, str) and v for v in c[key]):
                raise ValueError(f"{key}: expected a list of non-empty strings, got {c[key]}")

    def _setup_logging(self) -> Optional[logging.Handler]:
        """Rank 0 logs to output_dir/train.log as well (INFO and above)."""
        package_logger = logging.getLogger("sptok")
        self._saved_log_level = package_logger.level
        if not self.info.is_main:
            package_logger.setLevel(logging.WARNING)  # one copy of each log line: rank 0's
            return None
        if package_logger.getEffectiveLevel() > logging.INFO:
            package_logger.setLevel(logging.INFO)
        path = self.output_dir / "train.log"
        if _stderr_is(path):
            return None
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logging.getLogger().addHandler(handler)
        return handler

    def _build_model(self) -> torch.nn.Module:
        seed_everything(self.config["seed"])  # the same initial weights on every rank
        model = self.task.build_model(self.config)
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"{self.task.__name__}.build_model returned "
                            f"{type(model).__name__}, not a torch.nn.Module")
        needed = ["generator", "discriminator", *MODEL_METHODS]
        if getattr(model, "discriminator", None) is None:
            needed.remove("discriminator_loss")  # not called without a discriminator
        missing = [m for m in needed if not hasattr(model, m)]
        if missing:
            raise TypeError(f"{self.task.__name__}.build_model: the model "
                            f"({type(model).__name__}) lacks {missing}; see "
                            "sptok/train/trainer.py for what the trainer calls")
        if not isinstance(model.generator, torch.nn.Module):
            raise TypeError(f"{type(model).__name__}.generator must be an nn.Module")
        if model.discriminator is not None and not isinstance(model.discriminator,
                                                              torch.nn.Module):
            raise TypeError(f"{type(model).__name__}.discriminator must be an nn.Module or "
                            "None")
        return model

    def _freeze(self, model: torch.nn.Module) -> None:
        for prefix in self.config["freeze_param"]:
            hits = {n for n, p in model.named_parameters()
                    if n == prefix or n.startswith(prefix.rstrip(".") + ".")}
            if not hits:
                raise ValueError(f"freeze_param: no parameter of the model starts with "
                                 f"'{prefix}'")
            for name, param in model.named_parameters():
                if name in hits:
                    param.requires_grad_(False)
            logger.info("freeze_param %s: %d parameter tensors frozen", prefix, len(hits))

    def _check_parameter_coverage(self, model: torch.nn.Module) -> None:
        owned = {id(p) for p in model.generator.parameters()}
        if model.discriminator is not None:
            owned |= {id(p) for p in model.discriminator.parameters()}
        orphans = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in owned]
        if orphans:
            logger.warning("trainable parameters outside model.generator and "
                           "model.discriminator are not optimised: %s", orphans[:8])

    def _lengths(self, dataset: Any) -> Optional[list[float]]:
        item_length = getattr(self.task, "item_length", None)
        if item_length is None or item_length(dataset, 0) is None:
            return None
        return [float(item_length(dataset, i)) for i in range(len(dataset))]

    def _loader(self, dataset: Any, split: str) -> tuple[DataLoader, BucketBatchSampler]:
        c = self.config
        train = split == "train"
        lengths = self._lengths(dataset)
        batch_size = c["batch_size"] if train or c["valid_batch_size"] is None else c[
            "valid_batch_size"]
        batch_seconds = c["batch_seconds"] if train or c["valid_batch_size"] is None else None
        if batch_seconds is not None and lengths is None:
            raise ValueError(f"batch_seconds needs item lengths, but {self.task.__name__} "
                             "does not implement item_length()")
        sampler = BucketBatchSampler(
            len(dataset), batch_size, lengths=lengths, batch_seconds=batch_seconds,
            shuffle=train, drop_last=c["drop_last"] if train else False, seed=c["seed"],
            num_replicas=self.info.world_size, rank=self.info.rank, even_shards=train,
            split=split)
        workers = c["num_workers"]
        loader = DataLoader(
            SeededDataset(dataset, self.task.collate_fn(c)), batch_sampler=sampler,
            collate_fn=take_collated,
            num_workers=workers, pin_memory=self.device.type == "cuda",
            persistent_workers=workers > 0,
            # A private generator: creating an iterator must not draw from the global torch
            # RNG, which belongs to the model (and is restored on resume).
            generator=torch.Generator().manual_seed(derive_seed(c["seed"], _LOADER_RNG_KEY)))
        return loader, sampler

    def _total_steps(self) -> int:
        c = self.config
        per_epoch = len(self.train_sampler) // c["accum_grad"]
        if per_epoch == 0:
            raise ValueError(f"the training set gives {len(self.train_sampler)} batches per "
                             f"epoch, fewer than accum_grad={c['accum_grad']}")
        by_epochs = per_epoch * c["max_epochs"] if c["max_epochs"] is not None else None
        candidates = [v for v in (c["max_steps"], by_epochs) if v is not None]
        return min(candidates)

    def _build_optimization(self) -> None:
        c = self.config
        choices = {ch.name: ch for ch in self.task.schema().choices}
        model = self.model
        g_params = [p for p in model.generator.parameters() if p.requires_grad]
        self.optim_g = build_optimizer(choices["optim"], c["optim"], c["optim_conf"], g_params)
        self.sched_g = build_scheduler(choices["scheduler"], c["scheduler"],
                                       c["scheduler_conf"], self.optim_g, self.total_steps)
        self.optim_d = self.sched_d = None
        if model.discriminator is not None:
            d_params = [p for p in model.discriminator.parameters() if p.requires_grad]
            self.optim_d = build_optimizer(choices["optim_d"], c["optim_d"], c["optim_d_conf"],
                                           d_params)
            self.sched_d = build_scheduler(choices["scheduler_d"], c["scheduler_d"],
                                           c["scheduler_d_conf"], self.optim_d,
                                           self.total_steps)
        fp16 = c["amp"] == "fp16"
        self.scaler_g = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.scaler_d = torch.amp.GradScaler(self.device.type, enabled=fp16)

    def _autocast(self) -> contextlib.AbstractContextManager:
        amp = self.config["amp"]
        if amp == "none":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if amp == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    # ------------------------------------------------------------------ checkpoints
    def _state(self) -> dict[str, Any]:
        def state_of(obj: Any) -> Any:
            return None if obj is None else obj.state_dict()

        return {
            "step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "model": self.model.state_dict(),
            "optimizer": state_of(self.optim_g), "optimizer_d": state_of(self.optim_d),
            "scheduler": state_of(self.sched_g), "scheduler_d": state_of(self.sched_d),
            "scaler": self.scaler_g.state_dict(), "scaler_d": self.scaler_d.state_dict(),
            "nbest": self.keeper.state_dict(), "last_valid_step": self.last_valid_step,
            "world_size": self.info.world_size, "config": self.config,
        }

    def save(self) -> None:
        """Write checkpoint.pt (a collective: every rank contributes its RNG state)."""
        rng_states = dist_utils.all_gather_objects(get_rng_state())
        if self.info.is_main:
            state = self._state()
            state["rng"] = rng_states
            save_checkpoint(self.output_dir / CHECKPOINT_NAME, state)
        self.last_save_step = self.step

    def _resume(self, ckpt: Mapping[str, Any]) -> None:
        changed = sorted(k for k in set(self.config) | set(ckpt["config"])
                         if self.config.get(k) != ckpt["config"].get(k))
        try:
            self.model.load_state_dict(ckpt["model"])
        except RuntimeError as error:
            # Another architecture (e.g. a recipe re-run after the config's encoder changed):
            # name the cause instead of torch's list of hundreds of keys.
            first_line = str(error).splitlines()[0]
            raise ValueError(
                f"{self.output_dir / CHECKPOINT_NAME}: cannot resume: its model does not fit "
                f"the current config ({first_line}; options changed since the checkpoint: "
                f"{', '.join(changed) or 'none'}); delete {self.output_dir} or use another "
                "output_dir to start afresh") from None
        pairs = [("optimizer", self.optim_g), ("optimizer_d", self.optim_d),
                 ("scheduler", self.sched_g), ("scheduler_d", self.sched_d)]
        for key, obj in pairs:
            if (obj is None) != (ckpt.get(key) is None):
                raise ValueError(f"{self.output_dir / CHECKPOINT_NAME}: '{key}' is "
                                 f"{'missing' if ckpt.get(key) is None else 'present'} in the "
                                 "checkpoint but the current config "
                                 f"{'has' if obj is not None else 'has none'}; use a new "
                                 "output_dir or resume: false")
            if obj is not None:
                obj.load_state_dict(ckpt[key])
        for scaler, key in ((self.scaler_g, "scaler"), (self.scaler_d, "scaler_d")):
            if scaler.is_enabled() and ckpt[key]:  # empty when saved without fp16
                scaler.load_state_dict(ckpt[key])
        self.step, self.epoch = int(ckpt["step"]), int(ckpt["epoch"])
        self.batch_in_epoch = int(ckpt["batch_in_epoch"])
        self.keeper.load_state_dict(ckpt["nbest"])
        self.last_valid_step = ckpt.get("last_valid_step")
        self.last_save_step = self.step
        if changed:
            logger.warning("resuming with options changed since the checkpoint: %s",
                           ", ".join(f"{k}: {ckpt['config'].get(k)!r} -> {self.config.get(k)!r}"
                                     for k in changed))
        if self.batch_in_epoch >= self.usable_batches:  # the batches per epoch changed
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        saved_world = int(ckpt["world_size"])
        if saved_world == self.info.world_size:
            set_rng_state(ckpt["rng"][self.info.rank])
        else:
            logger.warning("checkpoint written by %d processes, now %d: the data order and "
                           "random draws differ from an uninterrupted run; continuing at the "
                           "start of the next epoch", saved_world, self.info.world_size)
            seed_everything(derive_seed(self.config["seed"], _MODEL_RNG_KEY, self.info.rank,
                                        self.step))
            if self.batch_in_epoch > 0:
                self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        logger.info("resumed from %s at step %d (epoch %d, batch %d)",
                    self.output_dir / CHECKPOINT_NAME, self.step, self.epoch + 1,
                    self.batch_in_epoch)

    # ------------------------------------------------------------------ steps
    def _lr(self, optimizer: Optional[torch.optim.Optimizer]) -> Optional[float]:
        return None if optimizer is None else float(optimizer.param_groups[0]["lr"])

    def _stop_nonfinite(self, what: str, value: torch.Tensor, stats: Mapping[str, Any]) -> None:
        shown = {k: (v.detach().float().item() if isinstance(v, torch.Tensor) and v.numel() == 1
                     else v) for k, v in stats.items()}
        raise NonFiniteLossError(
            f"step {self.step + 1} (epoch {self.epoch + 1}, batch {self.batch_in_epoch}, rank "
            f"{self.info.rank}): the {what} is {value.detach().float().item()}; stats of this "
            f"batch: {shown}. Nothing was updated with it; checkpoint.pt holds step "
            f"{self.last_save_step}. Lower the learning rate, set grad_clip, or check the "
            "data of this batch.")

    def _optimizer_step(self, optimizer: torch.optim.Optimizer, scheduler: Any,
                        scaler: torch.amp.GradScaler, clip: Optional[float], name: str,
                        stats: dict[str, Any]) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if clip is not None:
            scaler.unscale_(optimizer)
            norm = torch.nn.utils.clip_grad_norm_(params, clip)
            if not scaler.is_enabled() and _nonfinite(norm):
                optimizer.zero_grad(set_to_none=True)
                self._stop_nonfinite(f"{name} gradient norm", norm, stats)
            stats[f"grad_norm_{name[0]}"] = norm
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        if scheduler is not None:
            with warnings.catch_warnings():
                # fp16: the scaler skips the optimizer step after an overflow; the schedule
                # still follows the update count (torch warns about that order)
                warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler")
                scheduler.step()

    def _check_generator_untouched(self) -> None:
        """After the first discriminator backward of a run: a gradient in the generator means
        discriminator_loss used generator outputs that were not detached."""
        touched = [n for n, p in self.model.generator.named_parameters() if p.grad is not None]
        if touched:
            raise RuntimeError(
                f"{type(self.model).__name__}.discriminator_loss sent gradients into the "
                f"generator ({touched[:3]}...): detach the generator outputs it uses "
                "(out[...].detach())")

    def _train_update(self, batches: Sequence[Any]) -> dict[str, Any]:
        """One optimizer update from ``accum_grad`` batches; returns the stats averaged over
        them (tensors, not yet synchronised)."""
        model, accum = self.model, len(batches)
        discriminator = model.discriminator
        step_stats = StatsAccumulator()
        for index, batch in enumerate(batches):
            last = index == accum - 1
            with contextlib.ExitStack() as stack:
                if not last:  # accumulate locally: all-reduce gradients once per update
                    for wrapper in (self.G, self.D):
                        if isinstance(wrapper, torch.nn.parallel.DistributedDataParallel):
                            stack.enter_context(wrapper.no_sync())
                with self._autocast():
                    out = model.forward_generator(self.G, batch)
                stats: dict[str, Any] = {}
                if discriminator is not None:
                    with self._autocast():
                        d_loss, d_stats = model.discriminator_loss(self.D, batch, out)
                    if _nonfinite(d_loss):
                        self._stop_nonfinite("discriminator loss", d_loss, d_stats)
                    self.scaler_d.scale(d_loss / accum).backward()
                    if self._check_detached and index == 0:
                        self._check_detached = False
                        self._check_generator_untouched()
                    stats.update(d_stats)
                    stats["loss_d"] = d_loss.detach()
                    if last:
                        self._optimizer_step(self.optim_d, self.sched_d, self.scaler_d,
                                             self.config["grad_clip_d"], "discriminator", stats)
                    discriminator.requires_grad_(False)  # frozen in the generator step
                try:
                    with self._autocast():
                        g_loss, g_stats = model.generator_loss(discriminator, batch, out)
                    if _nonfinite(g_loss):
                        self._stop_nonfinite("generator loss", g_loss, {**stats, **g_stats})
                    self.scaler_g.scale(g_loss / accum).backward()
                finally:
                    if discriminator is not None:
                        for param, trainable in zip(discriminator.parameters(),
                                                    self._d_trainable):
                            param.requires_grad_(trainable)
                clash = set(g_stats) & set(stats)
                if clash:
                    raise ValueError(f"generator_loss and discriminator_loss both report the "
                                     f"stats {sorted(clash)}; give them distinct names")
                stats.update(g_stats)
                stats["loss_g"] = g_loss.detach()
                if last:
                    self._optimizer_step(self.optim_g, self.sched_g, self.scaler_g,
                                         self.config["grad_clip"], "generator", stats)
            if accum == 1:
                return stats
            step_stats.add(stats)
            del out
        return step_stats.averages()

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Average ``model.validation_stats`` over the validation set (all ranks); rank 0
        also sends ``model.media`` of the first batch to TensorBoard."""
        model = self.model
        accumulator = StatsAccumulator()
        media_sent = not (self.info.is_main and hasattr(model, "media"))
        modes = [(m, m.training) for m in model.modules()]  # parts a task keeps in eval mode
        model.eval()
        try:
            with fork_rng(cuda=self.device.type == "cuda"):
                for batch in self.valid_loader:
                    batch = to_device(batch, self.device, non_blocking=True)
                    stats = model.validation_stats(model.generator, batch)
                    accumulator.add(stats, weight=batch_size_of(batch))
                    if not media_sent:
                        out = model.forward_generator(model.generator, batch)
                        media = model.media(batch, out)
                        if media:
                            self.reporter.add_media(self.step, media)
                        media_sent = True
        finally:
            for module, training in modes:
                module.train(training)
        means = accumulator.means(all_ranks=True)
        self.reporter.log_valid(self.step, self.epoch, means)
        self.last_valid_step = self.step
        return means

    def _after_validation(self, valid_stats: Mapping[str, float],
                          train_stats: Mapping[str, float]) -> None:
        if self.info.is_main:
            self.keeper.update(self.step, {"valid": valid_stats, "train": train_stats},
                               lambda path: save_generator_weights(path, self.model.generator))

    # ------------------------------------------------------------------ loop
    def _epoch_batches(self) -> Iterator[list[Any]]:
        """Groups of ``accum_grad`` batches of the current epoch from ``batch_in_epoch``
        on, up to ``usable_batches`` (a last incomplete group is left out)."""
        accum = self.config["accum_grad"]
        self.train_sampler.set_epoch(self.epoch, self.batch_in_epoch)
        group: list[Any] = []
        index = self.batch_in_epoch
        wait_start = time.perf_counter()
        for batch in self.train_loader:
            group.append(to_device(batch, self.device, non_blocking=True))
            index += 1
            if len(group) == accum:
                self.data_wait += time.perf_counter() - wait_start
                yield group
                wait_start = time.perf_counter()
                group = []
            if index >= self.usable_batches:
                break

    def _finished(self) -> bool:
        c = self.config
        return self.step >= self.total_steps or (
            c["max_epochs"] is not None and self.epoch >= c["max_epochs"])

    def run(self) -> None:
        """Train until max_steps / max_epochs, resuming from checkpoint.pt if present."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.info: DistributedInfo = dist_utils.distributed_info()
        self.device = dist_utils.select_device(self.config["device"], self.info)
        handler = self._setup_logging()
        dist_utils.setup_distributed(self.info, self.device)
        reporter_started = completed = False
        try:
            self._prepare()
            reporter_started = True
            self._loop()
            completed = True
        finally:
            if reporter_started:
                self.reporter.close()
            if handler is not None:
                logging.getLogger().removeHandler(handler)
                handler.close()
            logging.getLogger("sptok").setLevel(self._saved_log_level)
            self.train_loader = self.valid_loader = None  # stop persistent workers
            # DDP reducers go before the process group; after a clean run, no rank leaves it
            # while another still talks (gloo aborts the process otherwise)
            self.G = self.D = None
            gc.collect()  # DDP objects sit in reference cycles; free them while all is alive
            if completed:
                dist_utils.barrier()
            dist_utils.cleanup_distributed()

    def _prepare(self) -> None:
        c = self.config
        if self.info.enabled:
            logger.info("DDP: %d processes, rank 0 on %s", self.info.world_size, self.device)
        if self.info.is_main:
            # temporary files of writes that a kill interrupted (atomic_path's names)
            for stale in [*self.output_dir.glob(".*.tmp.pt"), *self.output_dir.glob(".*.tmp.pth")]:
                stale.unlink(missing_ok=True)
        self.model = self._build_model()
        self._freeze(self.model)
        self._check_parameter_coverage(self.model)
        checkpoint_path = self.output_dir / CHECKPOINT_NAME
        ckpt = load_checkpoint(checkpoint_path) if c["resume"] and checkpoint_path.exists() \
            else None
        if ckpt is None:
            for spec in c["init_param"]:
                load_init_param(self.model, spec, c["ignore_init_mismatch"])
        elif c["init_param"]:
            logger.info("resuming: init_param is not applied (the checkpoint has the weights)")
        self.model.to(self.device)  # train/eval modes stay as build_model set them
        discriminator = self.model.discriminator
        self._d_trainable = [] if discriminator is None else [
            p.requires_grad for p in discriminator.parameters()]

        train_set = self.task.build_dataset(c, "train")
        valid_set = self.task.build_dataset(c, "valid")
        self.train_loader, self.train_sampler = self._loader(train_set, "train")
        self.valid_loader = None if valid_set is None else self._loader(valid_set, "valid")[0]
        if self.train_sampler.num_dropped() and self.info.is_main:
            logger.info("each epoch leaves out %d of %d training items (incomplete batches)",
                        self.train_sampler.num_dropped(), len(train_set))
        self.total_steps = self._total_steps()
        accum = c["accum_grad"]
        self.usable_batches = len(self.train_sampler) - len(self.train_sampler) % accum
        self._build_optimization()
        self.keeper = NBestKeeper(self.output_dir, self.criteria, c["keep_nbest_models"])
        self._check_detached = True  # once, at the first update
        self.step = self.epoch = self.batch_in_epoch = 0
        self.last_valid_step: Optional[int] = None
        self.last_save_step = 0
        if ckpt is not None:
            self._resume(ckpt)
        else:
            seed_everything(derive_seed(c["seed"], _MODEL_RNG_KEY, self.info.rank))
        del ckpt

        self.G = dist_utils.maybe_ddp(self.model.generator, self.info, self.device,
                                      c["ddp_broadcast_buffers"], c["find_unused_parameters"])
        self.D = dist_utils.maybe_ddp(discriminator, self.info, self.device,
                                      c["ddp_broadcast_buffers"], c["find_unused_parameters"])
        self.reporter = Reporter(self.output_dir, enabled=self.info.is_main,
                                 start_step=self.step)
        n_g = sum(p.numel() for p in self.model.generator.parameters())
        n_d = 0 if discriminator is None else sum(p.numel() for p in discriminator.parameters())
        logger.info("model %s: generator %s parameters, discriminator %s; %d updates of "
                    "%d batch(es), %d batches per epoch per process",
                    type(self.model).__name__, f"{n_g:,}", f"{n_d:,}", self.total_steps,
                    c["accum_grad"], len(self.train_sampler))

    def _loop(self) -> None:
        c = self.config
        if self._finished():
            logger.info("training already finished at step %d (max_steps %s, max_epochs %s)",
                        self.step, c["max_steps"], c["max_epochs"])
            return
        progress = None
        if self.info.is_main and c["progress_bar"]:
            from tqdm import tqdm
            progress = tqdm(total=self.total_steps, initial=self.step, unit="step",
                            dynamic_ncols=True, mininterval=progress_mininterval(),
                            leave=False)
        interval_stats = StatsAccumulator()  # since the last log line
        since_valid = StatsAccumulator()  # since the last validation (train criteria)
        self.data_wait, tick, tick_step = 0.0, time.perf_counter(), self.step
        try:
            while not self._finished():
                for group in self._epoch_batches():
                    step_epoch = self.epoch
                    stats = self._train_update(group)
                    self.step += 1
                    self.batch_in_epoch += len(group)
                    if self.batch_in_epoch >= self.usable_batches:  # the epoch is complete
                        self.epoch, self.batch_in_epoch = self.epoch + 1, 0
                    interval_stats.add(stats)
                    since_valid.add(stats)
                    if progress is not None:
                        progress.update(1)
                    if self.step % c["log_interval"] == 0:
                        now = time.perf_counter()
                        elapsed = max(now - tick, 1e-9)
                        extra = {"lr_g": self._lr(self.optim_g)}
                        if self.optim_d is not None:
                            extra["lr_d"] = self._lr(self.optim_d)
                        extra["steps_per_sec"] = (self.step - tick_step) / elapsed
                        extra["data_wait"] = self.data_wait / elapsed
                        means = interval_stats.means(all_ranks=True)
                        self.reporter.log_train(self.step, step_epoch, means, extra,
                                                progress=f"/{self.total_steps}")
                        if progress is not None:
                            progress.set_postfix_str(", ".join(
                                f"{k}={means[k]:.3g}" for k in ("loss_g", "loss_d")
                                if k in means), refresh=False)
                        interval_stats.reset()
                        self.data_wait, tick, tick_step = 0.0, time.perf_counter(), self.step
                    if self.step % c["valid_interval"] == 0 and self.valid_loader is not None:
                        self._validate_and_rank(since_valid)
                        self.save()
                    elif self.step % c["save_interval"] == 0:
                        self.save()
                    if self._finished():
                        break
            if self.valid_loader is not None and self.last_valid_step != self.step:
                self._validate_and_rank(since_valid)
            if self.last_save_step != self.step:
                self.save()
            logger.info("training finished at step %d (%d complete epochs + %d batches)",
                        self.step, self.epoch, self.batch_in_epoch)
        finally:
            if progress is not None:
                progress.close()
            self.reporter.flush()

    def _validate_and_rank(self, since_valid: StatsAccumulator) -> None:
        valid_stats = self.validate()
        needs_train = any(cr.phase == "train" for cr in self.criteria)
        train_stats = since_valid.means(all_ranks=True) if needs_train else {}
        since_valid.reset()
        self._after_validation(valid_stats, train_stats)
