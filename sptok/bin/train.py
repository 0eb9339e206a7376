"""Train a model of any task from a YAML config.

    python -m sptok.bin.train --config conf/train.yaml --output_dir exp/codec [--key value ...]
    python -m sptok.bin.train --config conf/train.yaml --print_config     # every option
    python -m sptok.bin.train --task codec --print_config                 # a task's defaults
    python -m sptok.bin.train --config conf/train.yaml --dry_run          # build, tiny forward

The task comes from the ``task:`` key of the YAML. Any other ``--key value`` overrides the
config (``--quantizer_conf.n_q 4`` one key of a component; values are read as YAML). Before
training, the resolved config is saved as ``<output_dir>/config.yaml``.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from sptok.tasks import resolve_config, task_names
from sptok.utils.config import ConfigError, load_yaml, parse_overrides, save_config

logger = logging.getLogger("sptok.bin.train")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sptok.bin.train",
        description="Train a model of any sptok task from a YAML config.",
        epilog="Any other --key value (or --name_conf.key value) overrides the config; values "
               "are read as YAML. --print_config lists every option.",
        allow_abbrev=False)  # a prefix must not silently match one of these options
    parser.add_argument("--config", help="training YAML; its 'task:' key selects the task")
    registered = ", ".join(task_names()) or "none yet"
    parser.add_argument("--task", help="task name, to print or dry-run its defaults without "
                                       f"--config (registered: {registered})")
    parser.add_argument("--output_dir", type=Path,
                        help="experiment directory: config.yaml, checkpoints, logs")
    parser.add_argument("--print_config", action="store_true",
                        help="print the resolved config with every default, then exit")
    parser.add_argument("--dry_run", action="store_true",
                        help="build the model and run a tiny forward pass on CPU, then exit")
    return parser


def _is_rank_zero() -> bool:
    # one process per GPU may run this script; only one writes shared files
    return int(os.environ.get("RANK", "0")) == 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = get_parser()
    args, rest = parser.parse_known_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    inspect_only = args.print_config or args.dry_run
    try:
        overrides = parse_overrides(rest)
        if args.config is not None:
            file_config = load_yaml(args.config)
            source = args.config
            if args.task is not None and file_config.get("task") != args.task:
                raise ConfigError(f"--task {args.task}: {args.config} says "
                                  f"task: {file_config.get('task')}; drop --task")
        elif args.task is not None:
            if not inspect_only:
                parser.error("training needs --config (--task alone only works with "
                             "--print_config or --dry_run)")
            file_config, source = {"task": args.task}, f"--task {args.task}"
        else:
            parser.error("give --config FILE (or --task NAME with --print_config / --dry_run)")
        task, config = resolve_config(file_config, overrides, source)
    except ConfigError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2

    if args.print_config:
        sys.stdout.write(task.format_config(config))
    if args.dry_run:
        print(task.dry_run(config))
    if inspect_only:
        return 0

    if args.output_dir is None:
        parser.error("training needs --output_dir")
    if _is_rank_zero():
        saved = save_config(config, args.output_dir / "config.yaml")
        logger.info("task %s: resolved config saved to %s", config["task"], saved)
    task.train(config, args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
