"""The config options every trainable task inherits (printed by --print_config).

A task gets them, with the optimizer and schedule choices, by deriving from
:class:`sptok.train.task_mixin.GANTrainTask`; to change a default it redeclares the option
under the same name (``Option("best_criterion", ["valid", "loss", "min"], ...)``).
"""
from __future__ import annotations

from sptok.utils.config import Option

__all__ = ["TRAIN_OPTIONS", "AMP_MODES", "DEVICES"]

AMP_MODES = ("none", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")

TRAIN_OPTIONS: list[Option] = [
    # ---- data
    Option("batch_size", 8,
           help="Items per batch and process (DDP: the global batch is world_size times "
                "larger). Ignored when batch_seconds is set."),
    Option("batch_seconds", None, type=float,
           help="Dynamic batching: each process's batch holds items of similar length and its "
                "padded size (items x longest item, in the unit of the task's item_length, "
                "normally seconds) stays within this. null: batch_size items."),
    Option("valid_batch_size", None, type=int,
           help="Batch size for validation; null: batch_size (or batch_seconds)."),
    Option("drop_last", True,
           help="Drop the last incomplete training batch of each epoch."),
    Option("num_workers", 1,
           help="DataLoader worker processes per training process (0: load in the main "
                "process). Results do not depend on it: data randomness is seeded per batch."),
    # ---- length of training
    Option("max_steps", None, type=int,
           help="Stop after this many optimizer updates (null: max_epochs decides)."),
    Option("max_epochs", None, type=int,
           help="Stop after this many passes over the training set (null: max_steps decides)."),
    Option("seed", 0, help="Seed of model initialisation, data order and all random draws."),
    # ---- optimisation (the optimizer and schedule choices follow at the end of the config)
    Option("accum_grad", 1,
           help="Accumulate gradients over this many batches per optimizer update."),
    Option("grad_clip", None, type=float,
           help="Clip the generator's gradient norm to this (null: no clipping)."),
    Option("grad_clip_d", None, type=float,
           help="Clip the discriminator's gradient norm to this (null: no clipping)."),
    Option("amp", "none", choices=AMP_MODES,
           help="Mixed precision: none, bf16 (autocast) or fp16 (autocast + gradient scaling)."),
    Option("freeze_param", [], type=list,
           help="Parameter name prefixes (e.g. generator.encoder) kept fixed during training."),
    Option("init_param", [], type=list,
           help="Start from pre-trained weights, each entry 'path[:src_prefix[:dst_prefix"
                "[:exclude,...]]]'.\npath is a checkpoint.pt (whole model) or a *.pth of "
                "generator weights; prefixes are model keys (generator.encoder, "
                "discriminator), dst defaults to src. Ignored when resuming."),
    Option("ignore_init_mismatch", False,
           help="init_param: skip keys that are missing or have another shape instead of "
                "stopping."),
    # ---- logging, validation, checkpoints
    Option("log_interval", 50, help="Log averaged training stats every this many updates."),
    Option("valid_interval", 1000,
           help="Validate every this many updates (and at the end of training)."),
    Option("save_interval", 1000,
           help="Write checkpoint.pt (everything needed to resume) every this many updates."),
    Option("keep_nbest_models", 5,
           help="Keep the generator weights of this many best validations (<step>steps.pth)."),
    Option("best_criterion", ["valid", "mel_distance", "min"], type=list,
           help="[phase, stat, min|max] ranking the models (or a list of such triples); the "
                "best is linked as <phase>.<stat>.best.pth. phase: valid, or train (the "
                "stats averaged since the previous validation)."),
    Option("resume", True,
           help="Continue from output_dir/checkpoint.pt when it exists."),
    Option("progress_bar", True, help="Show a tqdm progress bar (rank 0)."),
    # ---- devices
    Option("device", "auto", choices=DEVICES,
           help="auto: the GPU of this process's LOCAL_RANK when CUDA is available, else CPU."),
    Option("ddp_broadcast_buffers", False,
           help="DDP broadcast_buffers (false: the quantizer synchronises its own codebooks)."),
    Option("find_unused_parameters", False,
           help="DDP find_unused_parameters: needed when some parameters get no gradient in a "
                "step (e.g. quantizer dropout skipping levels that have parameters)."),
]
