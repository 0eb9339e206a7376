"""Optimizer and schedule choices: shapes of the schedules, state round trip, config errors."""
import math

import pytest
import torch

from sptok.train.optim import (build_optimizer, build_scheduler, optimizer_choices,
                               scheduler_choices)
from sptok.train.task_mixin import GANTrainTask
from sptok.utils.config import ConfigError

BASE_LR = 0.1


def lrs(name, conf, steps=20, total=20):
    param = torch.nn.Parameter(torch.zeros(1))
    optim = build_optimizer(optimizer_choices("optim"), "adam", {"lr": BASE_LR}, [param])
    sched = build_scheduler(scheduler_choices("scheduler"), name, conf, optim, total)
    out = []
    for _ in range(steps):
        out.append(optim.param_groups[0]["lr"])
        optim.step()
        if sched is not None:
            sched.step()
    return out


def test_constant_with_warmup():
    values = lrs("constant", {"warmup_steps": 4})
    assert values[:5] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1])
    assert values[-1] == pytest.approx(BASE_LR)
    assert lrs(None, None) == [BASE_LR] * 20
    assert lrs("none", {}) == [BASE_LR] * 20


def test_cosine_reaches_min_at_the_last_update():
    values = lrs("cosine", {"warmup_steps": 2, "min_lr_ratio": 0.1}, steps=20, total=20)
    assert values[0] == pytest.approx(0.05) and values[1] == pytest.approx(0.1)
    assert values[-1] == pytest.approx(0.01)
    assert all(a >= b for a, b in zip(values[1:], values[2:]))
    middle = 2 + (20 - 2 - 1) / 2
    assert lrs("cosine", {"warmup_steps": 2}, steps=20, total=20)[math.ceil(middle)] < 0.05 + 0.01


def test_exponential_step_size_and_floor():
    values = lrs("exponential", {"gamma": 0.5, "step_size": 2, "min_lr_ratio": 0.1}, steps=10)
    assert values[:6] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert values[-1] == pytest.approx(0.01)


def test_noam_peaks_at_warmup():
    values = lrs("noam", {"warmup_steps": 5}, steps=20)
    assert max(values) == pytest.approx(BASE_LR)
    assert values.index(max(values)) == 4
    assert values[-1] == pytest.approx(BASE_LR * math.sqrt(5 / 20))


def test_warmup_linear():
    values = lrs("warmup_linear", {"warmup_steps": 5}, steps=20, total=20)
    assert values[4] == pytest.approx(BASE_LR)
    assert values[-1] == pytest.approx(0.0, abs=1e-12)


def test_scheduler_state_round_trip_restores_the_lr():
    def make():
        param = torch.nn.Parameter(torch.zeros(1))
        optim = build_optimizer(optimizer_choices("optim"), "adamw", {"lr": BASE_LR}, [param])
        return optim, build_scheduler(scheduler_choices("scheduler"), "cosine",
                                      {"warmup_steps": 3}, optim, 30)

    optim, sched = make()
    for _ in range(7):
        optim.step()
        sched.step()
    optim2, sched2 = make()
    optim2.load_state_dict(optim.state_dict())
    sched2.load_state_dict(sched.state_dict())
    for _ in range(5):
        assert optim2.param_groups[0]["lr"] == optim.param_groups[0]["lr"]
        for o, s in ((optim, sched), (optim2, sched2)):
            o.step()
            s.step()


def test_total_steps_is_set_by_the_trainer_not_the_config():
    with pytest.raises(ConfigError, match="total_steps"):
        scheduler_choices("scheduler").check_conf("cosine", {"total_steps": 10})
    with pytest.raises(ValueError, match="warmup_steps"):
        lrs("cosine", {"warmup_steps": 30}, total=20)


def test_torch_classes_by_import_path():
    values = lrs("torch.optim.lr_scheduler:StepLR", {"step_size": 2, "gamma": 0.5}, steps=4)
    assert values == pytest.approx([0.1, 0.1, 0.05, 0.05])
    param = torch.nn.Parameter(torch.zeros(1))
    sgd = build_optimizer(optimizer_choices("optim"), "torch.optim:SGD", {"lr": 0.5}, [param])
    assert isinstance(sgd, torch.optim.SGD)


def test_no_parameters_is_a_clear_error():
    with pytest.raises(ValueError, match="no trainable parameters"):
        build_optimizer(optimizer_choices("optim_d"), "adam", {}, [])


def test_choices_appear_in_the_printed_config():
    config = GANTrainTask.resolve_config({"task": "x", "optim": "adamw",
                                          "scheduler": "cosine",
                                          "scheduler_conf": {"warmup_steps": 10}})
    text = GANTrainTask.format_config(config)
    for needle in ("optim: adamw", "weight_decay: 0.01", "scheduler: cosine",
                   "warmup_steps: 10", "min_lr_ratio: 0.0", "optim_d: adam",
                   "scheduler_d: constant", "best_criterion:", "grad_clip: null"):
        assert needle in text
    assert "total_steps" not in text and "params" not in text.replace("init_param", "")
    with pytest.raises(ConfigError, match="lrr"):
        GANTrainTask.resolve_config({"task": "x", "optim_conf": {"lrr": 1.0}})
