"""The embedded mini recipe end to end with tiny settings (`--quick true`), the way ESPnet's CI
runs mini_an4: every stage that exists runs on a copy of egs/mini_synth (stages 1-7: data, format,
teacher targets, tokenizer training, token dump, resynthesis, codec scoring). Later stages join
this test as they are built."""
from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import soundfile as sf
import yaml

from sptok.data.ark import iter_codes, iter_feats
from sptok.data.kaldi_dir import read_kv_file, validate_data_dir

SETS = ("train", "dev", "test", "test_unseen")
TEST_SETS = ("test", "test_unseen")
TAGS = ("speechtokenizer", "baseline")  # conf/train_speechtokenizer.yaml, conf/train_baseline.yaml
LEVELS = {"rvq1-8": 8, "rvq1": 1}       # --resynth_levels "1:8 1"
HOP = 320


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
def test_stage3_teacher_feats(mini_run, monkeypatch):
    recipe, _ = mini_run
    monkeypatch.chdir(recipe)  # ark paths in the scp are relative to the recipe
    dims = set()
    for name in ("train", "dev"):
        num_samples = read_kv_file(recipe / "dump" / "raw" / name / "utt2num_samples")
        feats = dict(iter_feats(recipe / "dump" / "teacher_feats" / name / "feats.scp"))
        assert sorted(feats) == sorted(num_samples)
        for key, matrix in feats.items():
            assert matrix.ndim == 2 and matrix.dtype.name == "float32"
            # HuBERT's frames: floor((N - 400) / 320) + 1, stored (T, D)
            assert matrix.shape[0] == (int(num_samples[key]) - 400) // HOP + 1
            assert math.isfinite(float(abs(matrix).sum()))
            dims.add(matrix.shape[1])
    assert len(dims) == 1
    # The mini teacher was trained here (Hugging Face layout) and logged its training.
    assert (recipe / "exp" / "mini_hubert" / "config.json").is_file()
    assert "# Ended (code 0)" in (recipe / "exp" / "mini_hubert" / "log" / "train.log").read_text()
    assert list((recipe / "exp" / "teacher_feats" / "train" / "log").glob("dump.*.log"))
    # The distilling tokenizer's semantic head has the teacher's size.
    config = yaml.safe_load((recipe / "exp" / "speechtokenizer" / "config.yaml").read_text())
    assert config["teacher"] == "offline"
    assert config["teacher_conf"]["feature_dim"] == dims.pop()
    assert config["train_teacher_feats"] == "dump/teacher_feats/train/feats.scp"


@pytest.mark.slow
def test_stage4_tokenizers_trained(mini_run):
    recipe, _ = mini_run
    for tag in TAGS:
        exp = recipe / "exp" / tag
        config = yaml.safe_load((exp / "config.yaml").read_text())
        assert config["task"] == "codec" and config["train_data_dir"] == "dump/raw/train"
        assert config["max_steps"] == 4  # the quick pass's tiny run
        best = exp / "valid.mel_distance.best.pth"
        assert best.is_file() and best.resolve().name.endswith("steps.pth")
        assert (exp / "checkpoint.pt").is_file() and (exp / ".done").is_file()
        log = (exp / "train.log").read_text()
        assert "training finished at step 4" in log and "# Ended (code 0)" in log
    assert yaml.safe_load((recipe / "exp/baseline/config.yaml").read_text())["teacher"] == "none"


@pytest.mark.slow
def test_stage5_codes(mini_run, monkeypatch):
    recipe, _ = mini_run
    monkeypatch.chdir(recipe)
    for tag in TAGS:
        codebook_size = yaml.safe_load(
            (recipe / "exp" / tag / "config.yaml").read_text())["quantizer_conf"]["codebook_size"]
        for name in SETS:
            num_samples = read_kv_file(recipe / "dump" / "raw" / name / "utt2num_samples")
            codes = dict(iter_codes(recipe / "dump" / "codes" / tag / name / "codes.scp"))
            assert sorted(codes) == sorted(num_samples), (tag, name)
            for key, matrix in codes.items():
                assert matrix.shape == (-(-int(num_samples[key]) // HOP), 8)  # [T, n_q]
                assert 0 <= matrix.min() and matrix.max() < codebook_size
        assert list((recipe / "exp" / tag / "dump_codes" / "train" / "log").glob("*.log"))


@pytest.mark.slow
def test_stage6_resynthesis(mini_run, monkeypatch):
    recipe, _ = mini_run
    monkeypatch.chdir(recipe)
    for tag in TAGS:
        for levels in LEVELS:
            for name in TEST_SETS:
                num_samples = read_kv_file(recipe / "dump" / "raw" / name / "utt2num_samples")
                wav_scp = read_kv_file(recipe / "exp" / tag / "resynth" / levels / name / "wav.scp")
                assert sorted(wav_scp) == sorted(num_samples)
                for key, path in wav_scp.items():
                    info = sf.info(path)
                    assert info.samplerate == 16000 and info.channels == 1
                    assert info.frames == int(num_samples[key])


def _table_rows(markdown: str, section: str) -> dict:
    """label -> cells of the first table under '## <section>' of the results file."""
    part = markdown.split(f"## {section} ", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in part.splitlines():
        if line.startswith("| ") and not line.startswith("| system") and "---" not in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.setdefault(cells[0], cells[1:])
    return rows


@pytest.mark.slow
def test_stage7_codec_results(mini_run):
    recipe, _ = mini_run
    results = (recipe / "exp" / "codec_results.md").read_text()
    assert "| system | WER (%) | SIM | STOI | PESQ | mel distance |" in results
    for name in TEST_SETS:
        rows = _table_rows(results, name)
        assert rows["ground truth"][0] != "-"  # the ground truth's WER
        for tag in TAGS:
            for label in (f"{tag} RVQ-1:8", f"{tag} RVQ-1"):
                cells = rows[label]
                assert len(cells) == 5 and all(re.fullmatch(r"-?[0-9.]+", c) for c in cells), cells
            # the per-level codebook usage rows: perplexity (codes used) for 8 levels
            usage = [line for line in results.split(f"## {name} ", 1)[1].split("\n## ")[0]
                     .splitlines() if line.startswith(f"| {tag} |")]
            assert len(usage) == 1 and usage[0].count("(") == 8
        summary = yaml.safe_load((recipe / "exp/speechtokenizer/resynth/rvq1/" / name /
                                  "score/summary.yaml").read_text())
        assert set(summary["metrics"]) == {"wer", "spk_sim", "stoi", "pesq", "mel"}
    assert (recipe / "exp/baseline/codebook_stats/test.json").is_file()


@pytest.mark.slow
def test_rerun_skips_finished_stages(mini_run, venv_env):
    recipe, _ = mini_run
    checkpoint = recipe / "exp" / "speechtokenizer" / "checkpoint.pt"
    mtime = checkpoint.stat().st_mtime_ns
    proc = subprocess.run([str(recipe / "run.sh"), "--quick", "true", "--skip_install", "true"],
                          env=venv_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert not list(recipe.rglob("*.tmp*")), "a re-run leaves no temporary files"
    for done in ("exp/mini_hubert", "dump/teacher_feats/train", "exp/speechtokenizer",
                 "exp/baseline", "dump/codes/baseline/test_unseen",
                 "exp/baseline/resynth/rvq1/test", "exp/score_ground_truth/test",
                 "exp/speechtokenizer/resynth/rvq1-8/test_unseen/score"):
        assert f"{done} is up to date" in proc.stderr, done
    assert checkpoint.stat().st_mtime_ns == mtime

    # Another level range: only its resynthesis and scores are made.
    proc = subprocess.run([str(recipe / "run.sh"), "--quick", "true", "--skip_install", "true",
                           "--stage", "6", "--test_sets", "test", "--resynth_levels", "1:8 2:8"],
                          env=venv_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "exp/baseline/resynth/rvq1-8/test is up to date" in proc.stderr
    assert "exp/baseline/resynth/rvq1-8/test/score is up to date" in proc.stderr
    rows = _table_rows((recipe / "exp" / "codec_results.md").read_text(), "test")
    assert {"ground truth", "speechtokenizer RVQ-2:8", "baseline RVQ-2:8"} <= set(rows)
    assert "speechtokenizer RVQ-1" not in rows  # the table follows the options of the run
    assert (recipe / "exp/speechtokenizer/resynth/rvq2-8/test/wav.scp").is_file()
    assert not list(recipe.rglob("*.tmp*")) and not list(recipe.rglob(".signature"))
