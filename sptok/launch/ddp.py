"""Distributed training (``--ddp true``): the one training process of the command, run under
torchrun as several processes on one or several nodes."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from sptok.launch.errors import LaunchError
from sptok.launch.job_array import SHELL_OPERATOR, JobArray
from sptok.launch.rendezvous import check_endpoint
from sptok.launch.request import bool_option, int_option


@dataclass(frozen=True)
class DDPRequest:
    """One training process (``python -m MODULE args`` or ``python SCRIPT args``) to run as
    ``nproc_per_node`` DDP processes on each of ``num_nodes`` nodes."""

    python: str
    program: Tuple[str, ...]
    nproc_per_node: int
    num_nodes: int
    rdzv_endpoint: Optional[str]
    rdzv_id: Optional[str]

    def torchrun(self, rdzv_endpoint: Optional[str], rdzv_id: Optional[str]) -> List[str]:
        """The torchrun command line: standalone for one node (``rdzv_endpoint`` None), else a
        c10d rendezvous at ``rdzv_endpoint`` named ``rdzv_id``."""
        words = [self.python, "-m", "torch.distributed.run", "--nnodes", str(self.num_nodes),
                 "--nproc_per_node", str(self.nproc_per_node)]
        if rdzv_endpoint is None:
            words.append("--standalone")
        else:
            words += ["--rdzv_backend", "c10d", "--rdzv_endpoint", rdzv_endpoint,
                      "--rdzv_id", rdzv_id or "sptok"]
        return words + list(self.program)


def pop_ddp_request(options: Dict[str, str], jobs: JobArray) -> Optional[DDPRequest]:
    """Take the options of a ``--ddp true`` job out of ``options`` (num_nodes too: the launcher
    places the nodes itself); None when the job is not distributed.

    Raises:
        LaunchError: DDP options without --ddp true, a job range, a command that is not
            ``PYTHON -m MODULE ...`` / ``PYTHON SCRIPT ...``, or bad numbers.
    """
    ddp = bool_option(options, "ddp", False)
    options.pop("ddp", None)
    if not ddp:
        stray = [n for n in ("nproc_per_node", "rdzv_endpoint", "rdzv_id") if n in options]
        if stray:
            raise LaunchError(f"--{stray[0]} is an option of distributed training: add --ddp true")
        return None
    if len(jobs.ids) > 1:
        raise LaunchError(f"--ddp true runs one training, not a job range "
                          f"({jobs.var}={jobs.start}:{jobs.end})")
    command = jobs.command
    if any(SHELL_OPERATOR.match(t) for t in command):
        raise LaunchError("--ddp true: the command must be one python program, without shell "
                          f"operators; got {' '.join(command)}")
    is_python = Path(command[0]).name.startswith("python")
    if not is_python or len(command) < 2 or (command[1] == "-m" and len(command) < 3) \
            or (command[1].startswith("-") and command[1] != "-m"):
        raise LaunchError("--ddp true: the command must be 'PYTHON -m MODULE args' or 'PYTHON "
                          f"SCRIPT args' (torchrun starts it once per process); got "
                          f"{' '.join(command)}")
    gpus = int(options.get("gpu", "0")) if options.get("gpu", "0").isdigit() else None
    if gpus is None:
        raise LaunchError(f"--gpu takes an integer, got {options['gpu']!r}")
    nproc = int_option(options, "nproc_per_node", max(gpus, 1))
    options.pop("nproc_per_node", None)
    num_nodes = int_option(options, "num_nodes", 1)
    options.pop("num_nodes", None)
    endpoint = options.pop("rdzv_endpoint", None)
    if endpoint is not None:
        check_endpoint(endpoint, "--rdzv_endpoint")
    return DDPRequest(python=command[0], program=tuple(command[1:]), nproc_per_node=nproc,
                      num_nodes=num_nodes, rdzv_endpoint=endpoint,
                      rdzv_id=options.pop("rdzv_id", None))
