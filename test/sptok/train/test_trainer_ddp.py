"""Two CPU processes under torchrun (gloo): the ranks keep identical weights, match one
process with the doubled batch, and resume exactly after a stop."""
import json

import pytest
import torch

from sptok.train.checkpoint import load_checkpoint
from train_dummy_tasks import run_cli


def train_records(out_dir):
    found = {}
    for line in (out_dir / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["phase"] == "train":
            found[r["step"]] = {k: v for k, v in r.items()
                                if k not in ("steps_per_sec", "data_wait")}
    return found


def test_ddp_ranks_agree_and_match_one_process_with_the_global_batch(tmp_path):
    """No randomness (dropout 0, nothing to crop), so 2 ranks x 4 items must give the updates
    of 1 process x 8 items up to float rounding: gradients are averaged over ranks and every
    loss is a mean over its batch. Gradient accumulation (no_sync) and the validation average
    over uneven shards (7 items) are checked on the way."""
    common = dict(max_steps=6, valid_interval=3, dropout=0.0, fixed_length=True,
                  num_items=32, grad_clip=1.0, scheduler="cosine", accum_grad=2,
                  num_valid_items=7)
    dumps = {name: tmp_path / f"dump_{name}" for name in ("ddp", "single")}
    for d in dumps.values():
        d.mkdir()
    run_cli(tmp_path / "ddp", nproc=2, batch_size=4, dump_dir=str(dumps["ddp"]), **common)
    run_cli(tmp_path / "single", batch_size=8, dump_dir=str(dumps["single"]), **common)

    rank0 = torch.load(dumps["ddp"] / "rank0.pt", weights_only=True)
    rank1 = torch.load(dumps["ddp"] / "rank1.pt", weights_only=True)
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)  # bit-identical ranks
    single = torch.load(dumps["single"] / "rank0.pt", weights_only=True)
    for key in rank0:
        torch.testing.assert_close(rank0[key], single[key], rtol=1e-5, atol=1e-6)
    ddp_ckpt = load_checkpoint(tmp_path / "ddp" / "checkpoint.pt")
    assert ddp_ckpt["world_size"] == 2 and len(ddp_ckpt["rng"]) == 2
    ddp_d = {k: v for k, v in ddp_ckpt["model"].items() if k.startswith("discriminator")}
    single_d = load_checkpoint(tmp_path / "single" / "checkpoint.pt")["model"]
    for key in ddp_d:
        torch.testing.assert_close(ddp_d[key], single_d[key], rtol=1e-5, atol=1e-6)
    # logged losses are averaged over ranks: the one-process values
    ddp_log, single_log = train_records(tmp_path / "ddp"), train_records(tmp_path / "single")
    for step in single_log:
        for key in ("loss_g", "loss_d", "recon"):
            assert ddp_log[step][key] == pytest.approx(single_log[step][key], rel=1e-5)
    ddp_valid = [json.loads(line) for line in
                 (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    single_valid = [json.loads(line) for line in
                    (tmp_path / "single" / "metrics.jsonl").read_text().splitlines()]
    ddp_valid = [r for r in ddp_valid if r["phase"] == "valid"]
    single_valid = [r for r in single_valid if r["phase"] == "valid"]
    assert [r["step"] for r in ddp_valid] == [r["step"] for r in single_valid] == [3, 6]
    for a, b in zip(ddp_valid, single_valid):
        assert a["mel_distance"] == pytest.approx(b["mel_distance"], rel=1e-5)
    log = (tmp_path / "ddp.log").read_text()
    assert "DDP: 2 processes" in log and log.count("training finished") == 1


def test_ddp_resume_is_exact(tmp_path):
    """With dropout and random crops on each rank: stop at step 4, resume to 8 == one run."""
    common = dict(valid_interval=4, save_interval=100, num_items=40, dropout=0.3)
    run_cli(tmp_path / "reference", nproc=2, max_steps=8, **common)
    run_cli(tmp_path / "resumed", nproc=2, max_steps=4, **common)
    run_cli(tmp_path / "resumed", nproc=2, max_steps=8, **common)
    assert train_records(tmp_path / "resumed") == train_records(tmp_path / "reference")
    ref = load_checkpoint(tmp_path / "reference" / "checkpoint.pt")
    got = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    assert all(torch.equal(ref["model"][k], got["model"][k]) for k in ref["model"])
    for a, b in zip(ref["rng"], got["rng"]):
        assert torch.equal(a["torch"], b["torch"])
    assert not torch.equal(ref["rng"][0]["torch"], ref["rng"][1]["torch"])
