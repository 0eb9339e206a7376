"""The launcher's command line: ``[--name value ...] [VAR=A:B] LOG program args...`` split into
backend options and a :class:`~sptok.launch.job_array.JobArray`, and typed reads of the options."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Mapping, Sequence

from sptok.launch.errors import LaunchError
from sptok.launch.job_array import JobArray

USAGE = ("usage: python -m sptok.bin.launch --backend local|slurm [--gpu N] [--mem M] "
         "[--num_threads N] [--max_jobs_run N] [--config FILE] [--srun true|false] "
         "[--ddp true [--num_nodes M] [--nproc_per_node N] [--rdzv_endpoint HOST:PORT] "
         "[--rdzv_id ID]] [JOB=1:NJ] LOG program args ...")

_JOB_RANGE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=([0-9]+)(?::([0-9]+))?$")


@dataclass
class Request:
    """A parsed command line: backend options (names with underscores) and the jobs."""

    options: Dict[str, str]
    jobs: JobArray


def parse_request(argv: Sequence[str]) -> Request:
    """Split ``[--name value ...] [VAR=A:B] LOG program args...`` into options and jobs."""
    args = list(argv)
    options: Dict[str, str] = {}
    while args and args[0].startswith("--"):
        token = args.pop(0)
        if token == "--":  # end of options
            break
        if "=" in token:
            name, value = token[2:].split("=", 1)
        else:
            if not args:
                raise LaunchError(f"option {token} needs a value")
            name, value = token[2:], args.pop(0)
        options[name.replace("-", "_")] = value
    var, start, end = None, 1, 1
    if args:
        m = _JOB_RANGE.match(args[0])
        if m:
            args.pop(0)
            var, start = m.group(1), int(m.group(2))
            end = int(m.group(3)) if m.group(3) is not None else start
            if end < start:
                raise LaunchError(f"job range {var}={start}:{end} is empty")
    if len(args) < 2:
        raise LaunchError(f"expected a log file and a command, got {args!r}\n{USAGE}")
    log, command = args[0], tuple(args[1:])
    if var is not None and end > start and var not in log:
        raise LaunchError(f"log name {log} must contain {var}: the {end - start + 1} jobs would "
                          f"share one log")
    return Request(options, JobArray(log=log, command=command, var=var, start=start, end=end))


def bool_option(options: Mapping[str, str], name: str, default: bool) -> bool:
    """``--name true|false``; ``default`` when not given."""
    value = options.get(name)
    if value is None:
        return default
    if value not in ("true", "false"):
        raise LaunchError(f"--{name} takes true or false, got {value!r}")
    return value == "true"


def int_option(options: Mapping[str, str], name: str, default: int) -> int:
    """``--name N`` with N >= 1; ``default`` when not given."""
    value = options.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise LaunchError(f"--{name} takes an integer, got {value!r}") from None
    if number < 1:
        raise LaunchError(f"--{name} must be at least 1, got {number}")
    return number
