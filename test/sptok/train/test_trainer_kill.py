"""A training process killed with SIGKILL and started again continues exactly like a run
that was never interrupted (same per-step losses, validations and final weights)."""
import json
import signal
import time

import torch

from sptok.train.checkpoint import load_checkpoint
from train_dummy_tasks import run_cli

CONFIG = dict(max_steps=24, save_interval=3, valid_interval=8, num_workers=1, dropout=0.3,
              keep_nbest_models=2, scheduler="warmup_linear",
              scheduler_conf={"warmup_steps": 4})


def metrics(out_dir):
    found = {}
    for line in (out_dir / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        for key in ("steps_per_sec", "data_wait"):
            r.pop(key, None)
        found[(r["phase"], r["step"])] = r
    return found


def checkpoint_step(out_dir):
    path = out_dir / "checkpoint.pt"
    if not path.exists():
        return 0
    return load_checkpoint(path)["step"]


def test_sigkill_and_resume_equals_uninterrupted_run(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    run_cli(reference, **CONFIG)

    proc = run_cli(killed, wait=False, sleep=0.03, **CONFIG)
    try:
        deadline = time.time() + 240
        while checkpoint_step(killed) < 7:
            assert proc.poll() is None, (tmp_path / "killed.log").read_text()
            assert time.time() < deadline, "the run made no progress"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    stopped_at = checkpoint_step(killed)
    assert 7 <= stopped_at < 24

    run_cli(killed, sleep=0.03, **CONFIG)
    assert "resumed from" in (tmp_path / "killed.log").read_text()
    got, want = metrics(killed), metrics(reference)
    assert sorted(got) == sorted(want)
    assert got == want
    w_ref = load_checkpoint(reference / "checkpoint.pt")["model"]
    w_got = load_checkpoint(killed / "checkpoint.pt")["model"]
    assert all(torch.equal(w_ref[k], w_got[k]) for k in w_ref)
    assert sorted(p.name for p in killed.glob("*.pth")) == sorted(
        p.name for p in reference.glob("*.pth"))
    assert not list(killed.glob(".*tmp*"))
