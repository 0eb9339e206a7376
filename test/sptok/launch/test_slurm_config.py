"""conf/slurm.conf: the launcher's options mapped to sbatch options."""
from __future__ import annotations

import pytest

from sptok.launch.errors import LaunchError
from sptok.launch.slurm_config import DEFAULT_SLURM_CONFIG, parse_slurm_config, slurm_arguments


def test_slurm_config_maps_options():
    config = parse_slurm_config(DEFAULT_SLURM_CONFIG)
    assert config.command == ["sbatch", "--export=ALL"]
    assert slurm_arguments(config, {}) == []  # default gpu=0 maps to nothing
    args = slurm_arguments(config, {"gpu": "2", "mem": "8G", "num_threads": "4", "time": "2:00:00"})
    assert args == ["--gpus-per-node", "2", "--mem", "8G", "--cpus-per-task", "4", "--time",
                    "2:00:00"]
    custom = parse_slurm_config("option gpu=0 -p cpu\noption gpu=* -p gpu --gres=gpu:$0\n"
                                "default gpu=0\n", "custom.conf")
    assert slurm_arguments(custom, {}) == ["-p", "cpu"]
    assert slurm_arguments(custom, {"gpu": "1"}) == ["-p", "gpu", "--gres=gpu:1"]
    with pytest.raises(LaunchError, match=r"--qos high: the slurm config maps no such option"):
        slurm_arguments(config, {"qos": "high"})
    with pytest.raises(LaunchError, match="bad.conf:1"):
        parse_slurm_config("optoin gpu=* --gpus $0\n", "bad.conf")
