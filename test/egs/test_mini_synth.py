"""The embedded mini recipe end to end with tiny settings (`--quick true`), the way ESPnet's CI
runs mini_an4: every stage that exists runs on a copy of egs/mini_synth. Later stages join this
test as they are built."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sptok.data.kaldi_dir import read_kv_file, validate_data_dir

SETS = ("train", "dev", "test", "test_unseen")


@pytest.fixture(scope="module")
def mini_run(tmp_path_factory, repo_root: Path, venv_env: dict):
    """Copy of egs/mini_synth run once with --quick true; returns (recipe dir, stdout+stderr)."""
    root = tmp_path_factory.mktemp("mini")
    (root / "egs").mkdir()
    os.symlink(repo_root / "egs" / "TEMPLATE", root / "egs" / "TEMPLATE")
    recipe = root / "egs" / "mini_synth"
    shutil.copytree(repo_root / "egs" / "mini_synth", recipe, symlinks=True,
                    ignore=shutil.ignore_patterns("data", "dump", "exp", "downloads"))
    proc = subprocess.run([str(recipe / "run.sh"), "--quick", "true", "--skip_install", "true"],
                          env=venv_env, capture_output=True, text=True, timeout=1500)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return recipe, out


@pytest.mark.slow
def test_stage1_corpus(mini_run):
    recipe, out = mini_run
    speakers = {}
    for name in SETS:
        summary = validate_data_dir(recipe / "data" / name, check_audio=True, fs=16000)
        assert summary.num_utts > 0
        speakers[name] = set(read_kv_file(recipe / "data" / name / "utt2spk").values())
    assert not speakers["train"] & speakers["test_unseen"], "test_unseen must hold unseen speakers"
    assert speakers["dev"] <= speakers["train"] and speakers["test"] <= speakers["train"]
    # The stats table (hours, utterances, speakers per set) is reported.
    stats = (recipe / "data" / "mini_synth_stats.txt").read_text()
    for name in SETS:
        assert name in stats
    assert "hours" in stats and "speakers" in stats


@pytest.mark.slow
def test_stage2_format(mini_run, monkeypatch):
    recipe, _ = mini_run
    monkeypatch.chdir(recipe)  # dump/ wav.scp paths are relative to the recipe, as in Kaldi
    for name in SETS:
        dump = recipe / "dump" / "raw" / name
        summary = validate_data_dir(dump, check_audio=True, fs=16000)
        assert summary.num_utts > 0
        assert (dump / "utt2num_samples").is_file()
    # Logs per stage and job under exp/.
    assert list((recipe / "exp").glob("format/*/log/format.*.log"))


@pytest.mark.slow
def test_rerun_skips_finished_stages(mini_run, venv_env):
    recipe, _ = mini_run
    proc = subprocess.run([str(recipe / "run.sh"), "--quick", "true", "--skip_install", "true"],
                          env=venv_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert not list(recipe.rglob("*.tmp*")), "a re-run leaves no temporary files"
