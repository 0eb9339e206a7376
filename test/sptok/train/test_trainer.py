"""The Trainer on tiny dummy tasks (CPU, one process): GAN and plain steps, the non-finite
guard, exact resume, n-best files, init_param, freezing, AMP, epochs and dynamic batches."""
import json
import math
import os

import pytest
import torch

from sptok.train.checkpoint import load_checkpoint
from sptok.train.rng import seed_everything
from sptok.train.trainer import NonFiniteLossError, Trainer
from train_dummy_tasks import (DummyBucketTask, DummyGANTask, DummyModel, DummyPlainTask,
                               make_config)

TIMING_KEYS = {"steps_per_sec", "data_wait"}


def run(task, out_dir, **overrides):
    config = make_config(task, **overrides)
    task.train(config, out_dir)
    return config


def records(out_dir, phase="train"):
    """step -> the record of that step (timing fields removed)."""
    found = {}
    with open(out_dir / "metrics.jsonl") as f:
        for line in f:
            r = json.loads(line)
            if r["phase"] == phase:
                found[r["step"]] = {k: v for k, v in r.items() if k not in TIMING_KEYS}
    return found


def initial_model(task, config):
    seed_everything(config["seed"])
    return task.build_model(config)


def weights(out_dir):
    return load_checkpoint(out_dir / "checkpoint.pt")["model"]


def changed(before: torch.nn.Module, after: dict, prefix: str) -> list[bool]:
    return [not torch.equal(p, after[f"{prefix}.{n}"]) for n, p in before.named_parameters()]


class RecordingModel(DummyModel):
    """Records what the discriminator looks like during the generator step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def discriminator_loss(self, discriminator, batch, out):
        self.seen.append(("d", discriminator.net[0].weight.detach().clone()))
        return super().discriminator_loss(discriminator, batch, out)

    def generator_loss(self, discriminator, batch, out):
        self.seen.append(("g", discriminator.net[0].weight.detach().clone(),
                          discriminator is self.discriminator,
                          [p.requires_grad for p in discriminator.parameters()]))
        return super().generator_loss(discriminator, batch, out)


class RecordingTask(DummyGANTask):
    last_model = None

    @classmethod
    def build_model(cls, config):
        model = RecordingModel(config["hidden"], config["dropout"])
        cls.last_model = model
        return model


def test_one_update_changes_generator_and_discriminator(tmp_path):
    config = run(RecordingTask, tmp_path, max_steps=1, num_valid_items=0)
    before = initial_model(DummyGANTask, config)
    after = weights(tmp_path)
    assert all(changed(before.generator, after, "generator"))
    assert all(changed(before.discriminator, after, "discriminator"))
    (kind_d, w_d), (kind_g, w_g, plain, grads) = RecordingTask.last_model.seen
    assert (kind_d, kind_g) == ("d", "g")
    assert not torch.equal(w_d, w_g)  # the discriminator was updated before the generator step
    assert plain and grads == [False] * 4  # the plain, frozen discriminator
    assert all(p.requires_grad for p in RecordingTask.last_model.discriminator.parameters())
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert (ckpt["step"], ckpt["epoch"], ckpt["batch_in_epoch"]) == (1, 0, 1)
    assert ckpt["optimizer_d"] is not None and len(ckpt["rng"]) == 1
    assert "step 1/1, epoch 1" in (tmp_path / "train.log").read_text()


def test_plain_task_without_discriminator(tmp_path):
    config = run(DummyPlainTask, tmp_path, max_steps=4, grad_clip=1.0)
    before = initial_model(DummyPlainTask, config)
    after = weights(tmp_path)
    assert all(changed(before.generator, after, "generator"))
    assert not any(k.startswith("discriminator") for k in after)
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["optimizer_d"] is None and ckpt["scheduler_d"] is None
    train = records(tmp_path)
    assert sorted(train) == [1, 2, 3, 4]
    assert "loss_d" not in train[4] and "lr_d" not in train[4]
    assert 0 < train[4]["grad_norm_g"] and train[4]["loss_g"] == pytest.approx(train[4]["recon"])


def test_nonfinite_loss_stops_with_step_loss_and_stats(tmp_path):
    with pytest.raises(NonFiniteLossError) as e:
        run(DummyGANTask, tmp_path, nan_after=2, save_interval=1)
    message = str(e.value)
    assert message.startswith("step 3 (epoch 1, batch 2, rank 0): the generator loss is nan")
    assert "'recon':" in message and "'loss_d':" in message
    assert "checkpoint.pt holds step 2" in message
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["step"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_resume_with_another_model_shape_names_the_cause(tmp_path):
    out = tmp_path / "exp"
    run(DummyGANTask, out, max_steps=2, hidden=8)
    with pytest.raises(ValueError, match=r"checkpoint.pt: cannot resume: its model does not fit "
                                         r"the current config .*changed since the checkpoint: "
                                         r"hidden.*delete .*exp or use another output_dir"):
        run(DummyGANTask, out, max_steps=4, hidden=16)


RESUME_CONFIG = dict(max_steps=14, valid_interval=4, save_interval=100, grad_clip=0.5,
                     grad_clip_d=2.0, scheduler="exponential",
                     scheduler_conf={"gamma": 0.9}, scheduler_d="noam",
                     scheduler_d_conf={"warmup_steps": 3}, keep_nbest_models=2)


@pytest.mark.parametrize("task,workers,extra", [
    (DummyGANTask, 0, {}),
    (DummyGANTask, 1, {}),
    (DummyBucketTask, 0, {"accum_grad": 2, "batch_seconds": 100.0}),
    (DummyPlainTask, 1, {"accum_grad": 3, "drop_last": False}),
], ids=["workers0", "workers1", "bucket-accum2", "plain-accum3"])
def test_resume_after_max_steps_equals_uninterrupted_run(tmp_path, task, workers, extra):
    """Stop at step 8 (a validation step, so that the stopped run's final validation is one
    the reference does too), continue to 14 (crossing epochs): same losses, same validation,
    same weights, same n-best files as one uninterrupted run; the worker count changes
    nothing either (the reference loads in the main process)."""
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    run(task, reference, num_workers=0, **RESUME_CONFIG, **extra)
    run(task, resumed, num_workers=workers, **{**RESUME_CONFIG, "max_steps": 8}, **extra)
    assert load_checkpoint(resumed / "checkpoint.pt")["step"] == 8
    run(task, resumed, num_workers=workers, **RESUME_CONFIG, **extra)
    assert records(resumed) == records(reference)
    assert sorted(records(reference)) == list(range(1, 15))
    assert records(resumed, "valid") == records(reference, "valid")
    ref_w, res_w = weights(reference), weights(resumed)
    assert all(torch.equal(ref_w[k], res_w[k]) for k in ref_w)
    ref_ckpt, res_ckpt = (load_checkpoint(d / "checkpoint.pt") for d in (reference, resumed))
    assert ref_ckpt["nbest"] == res_ckpt["nbest"]
    assert ref_ckpt["epoch"] == res_ckpt["epoch"] >= 1
    assert sorted(p.name for p in reference.glob("*.pth")) == sorted(
        p.name for p in resumed.glob("*.pth"))
    # and without the resume the continued run would differ: randomness matters here
    fresh = tmp_path / "fresh"
    run(task, fresh, num_workers=0, **{**RESUME_CONFIG, "max_steps": 5, "seed": 1}, **extra)
    assert records(fresh)[5] != records(reference)[5]


def test_finished_run_is_not_repeated(tmp_path):
    run(DummyGANTask, tmp_path, max_steps=3)
    stamp = os.stat(tmp_path / "checkpoint.pt").st_mtime_ns
    run(DummyGANTask, tmp_path, max_steps=3)
    assert os.stat(tmp_path / "checkpoint.pt").st_mtime_ns == stamp
    assert "training already finished at step 3" in (tmp_path / "train.log").read_text()


def test_nbest_files_follow_the_validation_ranking(tmp_path):
    run(DummyGANTask, tmp_path, max_steps=12, valid_interval=2, keep_nbest_models=3,
        optim_conf={"lr": 0.05})
    valid = records(tmp_path, "valid")
    assert sorted(valid) == [2, 4, 6, 8, 10, 12]
    ranked = sorted(valid, key=lambda s: (valid[s]["mel_distance"], s))
    assert sorted(p.name for p in tmp_path.glob("*steps.pth")) == sorted(
        f"{s}steps.pth" for s in ranked[:3])
    link = tmp_path / "valid.mel_distance.best.pth"
    assert os.readlink(link) == f"{ranked[0]}steps.pth"
    generator_keys = set(DummyModel().generator.state_dict())
    assert set(torch.load(link, weights_only=True)) == generator_keys


def test_train_phase_criterion_and_several_criteria(tmp_path):
    run(DummyGANTask, tmp_path, max_steps=6, valid_interval=3,
        best_criterion=[["valid", "mse", "min"], ["train", "loss_g", "min"]])
    assert (tmp_path / "valid.mse.best.pth").exists()
    assert (tmp_path / "train.loss_g.best.pth").exists()


def test_init_param_and_freeze_param(tmp_path):
    source = tmp_path / "source"
    run(DummyGANTask, source, max_steps=4, valid_interval=2)
    best = source / "valid.mel_distance.best.pth"
    best_weights = torch.load(best, weights_only=True)
    # lr 0: the generator keeps exactly the loaded weights
    target = tmp_path / "target"
    run(DummyGANTask, target, max_steps=1, init_param=[str(best)], optim_conf={"lr": 0.0})
    after = weights(target)
    assert all(torch.equal(after[f"generator.{k}"], v) for k, v in best_weights.items())
    # a part of a checkpoint, and a frozen encoder
    partial = tmp_path / "partial"
    config = run(DummyGANTask, partial, max_steps=2,
                 init_param=[f"{source / 'checkpoint.pt'}:generator.decoder"],
                 freeze_param=["generator.encoder"])
    initial = initial_model(DummyGANTask, config)
    after = weights(partial)
    assert torch.equal(after["generator.encoder.weight"], initial.generator.encoder.weight)
    assert not torch.equal(after["generator.decoder.weight"],
                           weights(source)["generator.decoder.weight"])  # trained further
    with pytest.raises(ValueError, match="freeze_param: no parameter"):
        run(DummyGANTask, tmp_path / "bad", freeze_param=["generator.nothing"])
    with pytest.raises(ValueError, match="init_param: no such file: missing.pth"):
        run(DummyGANTask, tmp_path / "bad2", init_param=["missing.pth:generator"])


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_runs(tmp_path, amp):
    run(DummyGANTask, tmp_path, max_steps=3, amp=amp, grad_clip=1.0)
    train = records(tmp_path)
    assert all(math.isfinite(train[s]["loss_g"]) for s in train)
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["scaler"]["scale"] if amp == "fp16" else ckpt["scaler"] == {}


def test_max_epochs_and_dynamic_batches(tmp_path):
    run(DummyBucketTask, tmp_path, max_steps=None, max_epochs=2, batch_seconds=90.0,
        valid_interval=1000)
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    steps_per_epoch = ckpt["step"] // 2
    assert ckpt["epoch"] == 2 and ckpt["step"] == 2 * steps_per_epoch
    assert sorted(records(tmp_path, "valid")) == [ckpt["step"]]  # validated at the end


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match="max_steps or max_epochs"):
        Trainer(DummyGANTask, make_config(max_steps=None), tmp_path)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        Trainer(DummyGANTask, make_config(batch_size=0), tmp_path)
    with pytest.raises(ValueError, match="best_criterion"):
        Trainer(DummyGANTask, make_config(best_criterion=["valid", "x"]), tmp_path)
    with pytest.raises(ValueError, match="item_length"):
        run(DummyGANTask, tmp_path, batch_seconds=10.0)


class UndetachedModel(DummyModel):
    def discriminator_loss(self, discriminator, batch, out):
        return ((discriminator(out["y"]) - 1) ** 2).mean(), {}


class UndetachedTask(DummyGANTask):
    @classmethod
    def build_model(cls, config):
        return UndetachedModel()


def test_discriminator_loss_must_detach(tmp_path):
    with pytest.raises(RuntimeError, match="detach the generator outputs"):
        run(UndetachedTask, tmp_path)
