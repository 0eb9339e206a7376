"""Stats averaging, metrics.jsonl truncation on resume, TensorBoard media and RNG helpers."""
import json
import random

import numpy as np
import pytest
import torch

from sptok.train.reporter import Reporter, StatsAccumulator, format_stats
from sptok.train.rng import derive_seed, fork_rng, get_rng_state, seed_everything, set_rng_state


def test_accumulator_weighted_means():
    acc = StatsAccumulator()
    acc.add({"a": torch.tensor(1.0), "b": 2}, weight=1)
    acc.add({"a": torch.tensor([3.0])}, weight=3)
    assert acc.means() == {"a": pytest.approx(2.5), "b": 2.0}
    assert isinstance(acc.averages()["a"], torch.Tensor)
    acc.reset()
    assert not acc
    with pytest.raises(ValueError, match="'v' must be a scalar"):
        acc.add({"v": torch.ones(2)})
    with pytest.raises(ValueError, match="'s' must be a number"):
        acc.add({"s": "x"})
    assert format_stats({"loss": 0.123456}) == "loss=0.1235"


def test_metrics_are_truncated_to_the_resumed_step(tmp_path):
    reporter = Reporter(tmp_path, tensorboard=False)
    for step in range(1, 6):
        reporter.log_train(step, 0, {"loss": float(step)})
    reporter.log_valid(4, 0, {"mel": 0.5})
    reporter.close()
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 6, "ph')  # a line cut by a kill
    Reporter(tmp_path, start_step=3, tensorboard=False).close()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    Reporter(tmp_path, enabled=False).log_train(1, 0, {"x": 1.0})  # other ranks write nothing


def test_tensorboard_scalars_and_media(tmp_path):
    reporter = Reporter(tmp_path)
    reporter.log_train(1, 0, {"loss": 1.0}, {"lr_g": 0.1})
    reporter.add_media(1, {"wav": ("audio", torch.randn(160) * 3, 16000)})
    with pytest.raises(ValueError, match="media 'bad'"):
        reporter.add_media(1, {"bad": ("video", 1)})
    reporter.close()
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


def test_rng_state_round_trip_and_fork():
    seed_everything(5)
    state = get_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(2))
    set_rng_state(state)
    with fork_rng():
        torch.rand(10)
        np.random.rand(3)
    second = (random.random(), np.random.rand(), torch.rand(2))
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])
    assert derive_seed(1, 2, 3) == derive_seed(1, 2, 3) != derive_seed(1, 2, 4)
    with pytest.raises(ValueError):
        derive_seed(-1)
