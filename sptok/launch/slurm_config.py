"""ESPnet's conf/slurm.conf: how the launcher's options become sbatch / srun options."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Tuple

from sptok.launch.errors import LaunchError

# ESPnet's conf/slurm.conf format: `command PROGRAM ARGS` (the submit command),
# `option NAME=VALUE ARGS` (ARGS when the option has exactly VALUE), `option NAME=* ARGS` (any
# other value, written where ARGS say $0), `default NAME=VALUE` (the value when not given).
DEFAULT_SLURM_CONFIG = """\
command sbatch --export=ALL
option name=* --job-name $0
option time=* --time $0
option mem=* --mem $0
option mem=0
option num_threads=* --cpus-per-task $0
option num_threads=1 --cpus-per-task 1
option num_nodes=* --nodes $0
option partition=* --partition $0
default gpu=0
option gpu=0
option gpu=* --gpus-per-node $0
"""


@dataclass
class SlurmConfig:
    """A conf/slurm.conf: the submit command and how each option maps to sbatch/srun options."""

    command: List[str]
    defaults: Dict[str, str]
    exact: Dict[Tuple[str, str], List[str]]
    wildcard: Dict[str, List[str]]


def parse_slurm_config(text: str, source: str = "slurm config") -> SlurmConfig:
    """Parse ESPnet's slurm.conf format (see DEFAULT_SLURM_CONFIG)."""
    config = SlurmConfig(command=["sbatch"], defaults={}, exact={}, wildcard={})
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, _, rest = line.partition(" ")
        words = rest.split()
        if kind == "command":
            if not words:
                raise LaunchError(f"{source}:{lineno}: 'command' needs a program")
            config.command = words
            continue
        if kind not in ("option", "default") or not words or "=" not in words[0]:
            raise LaunchError(f"{source}:{lineno}: expected 'command ...', 'option NAME=VALUE "
                              f"ARGS...' or 'default NAME=VALUE', got {raw.strip()!r}")
        name, value = words[0].split("=", 1)
        if kind == "default":
            config.defaults[name] = value
        elif value == "*":
            config.wildcard[name] = words[1:]
        else:
            config.exact[(name, value)] = words[1:]
    return config


def load_slurm_config(options: Dict[str, str]) -> SlurmConfig:
    """The config named by ``--config`` (taken out of ``options``), else DEFAULT_SLURM_CONFIG."""
    path = options.pop("config", None)
    if path is None:
        return parse_slurm_config(DEFAULT_SLURM_CONFIG, "built-in slurm config")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LaunchError(f"--config {path}: no such file") from None
    return parse_slurm_config(text, path)


def slurm_arguments(config: SlurmConfig, options: Mapping[str, str]) -> List[str]:
    """Scheduler arguments for ``options`` (defaults of the config filled in).

    Raises:
        LaunchError: an option the config does not map (names the option and the config).
    """
    merged = dict(config.defaults)
    merged.update(options)
    out: List[str] = []
    for name, value in merged.items():
        if (name, value) in config.exact:
            out += config.exact[(name, value)]
        elif name in config.wildcard:
            out += [w.replace("$0", value) for w in config.wildcard[name]]
        else:
            known = sorted({n for n, _ in config.exact} | set(config.wildcard))
            raise LaunchError(f"option --{name} {value}: the slurm config maps no such option "
                              f"(it maps: {', '.join('--' + k for k in known)})")
    return out
