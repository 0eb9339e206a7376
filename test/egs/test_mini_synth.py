"""The embedded mini recipe end to end with tiny settings (`--quick true`), the way ESPnet's CI
runs mini_an4: every stage runs on a copy of egs/mini_synth (1-7: data, format, teacher targets,
tokenizer training, token dump, resynthesis, codec scoring; 8: SLMTokBench with a unit vocoder;
9-11: text tokenisation, USLM training, zero-shot TTS and its scoring)."""
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
# SLMTokBench's rows: the labels and order of conf/slmtokbench.yaml.
BENCH_ROWS = ["ground truth", "HuBERT k-means 100", "Baseline codec (no distillation) RVQ-1",
              "Baseline codec (no distillation) RVQ-1:8", "SpeechTokenizer RVQ-1",
              "SpeechTokenizer RVQ-1:8"]
# Zero-shot TTS systems (run.sh --uslm_codec_tags), named by the kind of tokens they model.
TTS_SYSTEMS = {"speechtokenizer": "USLM (speechtokenizer tokens)",
               "baseline": "VALL-E-style (baseline tokens)"}
MAX_TTS_FRAMES = 500   # run.sh's --tts_args "--max_frames 500" (after sptok.sh's quick 50: it wins)


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
                 "exp/speechtokenizer/resynth/rvq1-8/test_unseen/score",
                 "dump/teacher_feats/test_unseen", "exp/slmtokbench", "dump/phn",
                 "exp/uslm_speechtokenizer", "exp/uslm_baseline", "exp/tts/test_unseen",
                 "exp/tts/test_unseen/score_ground_truth", "exp/uslm_baseline/decode_test_unseen",
                 "exp/uslm_speechtokenizer/decode_test_unseen/score"):
        assert f"{done} is up to date" in proc.stderr, done
    assert checkpoint.stat().st_mtime_ns == mtime
    assert "TTS samples -> exp/slmtokbench/report/report.html" in proc.stderr  # refreshed

    # Another level range: only its resynthesis and scores are made.
    proc = subprocess.run([str(recipe / "run.sh"), "--quick", "true", "--skip_install", "true",
                           "--stage", "6", "--stop_stage", "7", "--test_sets", "test",
                           "--resynth_levels", "1:8 2:8"],
                          env=venv_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "exp/baseline/resynth/rvq1-8/test is up to date" in proc.stderr
    assert "exp/baseline/resynth/rvq1-8/test/score is up to date" in proc.stderr
    rows = _table_rows((recipe / "exp" / "codec_results.md").read_text(), "test")
    assert {"ground truth", "speechtokenizer RVQ-2:8", "baseline RVQ-2:8"} <= set(rows)
    assert "speechtokenizer RVQ-1" not in rows  # the table follows the options of the run
    assert (recipe / "exp/speechtokenizer/resynth/rvq2-8/test/wav.scp").is_file()
    assert not list(recipe.rglob("*.tmp*")) and not list(recipe.rglob(".signature"))


def _md_table(markdown: str, heading: str) -> tuple:
    """(header cells, rows of cells) of the first table under the line '## <heading>'."""
    part = markdown.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in part.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    assert set(cells[1]) <= {"---", "---:"}, cells[1]
    return cells[0], cells[2:]


def _finite(cell: str) -> float:
    value = float(cell)
    assert math.isfinite(value), cell
    return value


def _html_sources(page: Path) -> list:
    """The files a report page plays or shows, checked to exist beside it."""
    sources = re.findall(r'src="([^"]+)"', page.read_text())
    for src in sources:
        assert (page.parent / src).is_file(), src
    return sources


@pytest.mark.slow
def test_stage8_slmtokbench(mini_run, monkeypatch):
    recipe, _ = mini_run
    monkeypatch.chdir(recipe)
    bench = recipe / "exp" / "slmtokbench"
    results = (bench / "results.md").read_text()
    # The paper's table: tokens, MI, text-alignment WER, resynthesis WER and SIM (+ STOI, PESQ).
    header, rows = _md_table(results, "Token benchmark")
    assert header == ["tokens", "MI", "WER text-align (%)", "WER resynth (%)", "SIM", "STOI",
                      "PESQ"]
    assert [row[0] for row in rows] == BENCH_ROWS
    for label, *cells in rows:
        if label == "ground truth":
            assert cells[:2] == ["-", "-"]
            cells = cells[2:]
        values = [_finite(c) for c in cells]
        assert -1.0 <= values[-3] <= 1.0  # SIM
    # Voice conversion of both codecs at the quick pass's k = 2, 8; projections of both.
    header, rows = _md_table(results, "Disentanglement: one-shot voice conversion")
    assert header[:4] == ["tokens", "condition", "WER (%)", "SIM to reference"]
    assert sorted((row[0], row[1]) for row in rows) == sorted(
        (label, condition) for label in ("Baseline codec (no distillation)", "SpeechTokenizer")
        for condition in ("RVQ-1 + ref RVQ-2", "RVQ-1 + ref RVQ-2:8"))
    for row in rows:
        [_finite(c) for c in row[2:5]]
        assert row[5] == "2"  # pairs
    _, rows = _md_table(results, "Disentanglement: level embeddings by speaker")
    assert {(row[0], row[1]) for row in rows} == {
        (label, levels) for label in ("Baseline codec (no distillation)", "SpeechTokenizer")
        for levels in ("RVQ-1", "RVQ-2:8")}
    # The HTML report shows the same table and plays the examples.
    page = bench / "report" / "report.html"
    html = page.read_text()
    for label in BENCH_ROWS:
        assert f"<td>{label}</td>" in html
    sources = _html_sources(page)
    assert any(s.endswith("_HuBERT_k-means_100.wav") for s in sources)
    assert any("projection" in s for s in sources)
    # The HuBERT units: k-means of the stage-3 teacher features, decoded by the unit vocoder.
    feats = read_kv_file(recipe / "dump/teacher_feats/test_unseen/feats.scp")
    assert feats.keys() == read_kv_file(recipe / "dump/raw/test_unseen/wav.scp").keys()
    vocoder = recipe / "exp" / "unit_vocoder"
    config = yaml.safe_load((vocoder / "config.yaml").read_text())
    assert config["encoder"] == "sptok.slmtokbench.unit_vocoder:TeacherUnitEncoder"
    assert config["encoder_conf"]["teacher"] == "exp/mini_hubert"
    assert config["quantizer_conf"]["kmeans"] == "exp/unit_vocoder/kmeans.pt"  # its own copy
    assert (vocoder / "kmeans.pt").is_file()
    assert (vocoder / ".done").is_file()
    assert "training finished at step 4" in (vocoder / "train.log").read_text()
    bench_config = yaml.safe_load((bench / "bench.yaml").read_text())
    units = next(s for s in bench_config["sources"] if s["name"] == "hubert_km")
    assert units["feats"] == {"train": "dump/teacher_feats/train/feats.scp",
                              "test": "dump/teacher_feats/test_unseen/feats.scp"}
    assert units["vocoder"] == "exp/unit_vocoder"


@pytest.mark.slow
def test_stage9_text_tokens(mini_run):
    recipe, _ = mini_run
    symbols = read_kv_file(recipe / "dump/phn/tokens.txt")
    assert sorted(int(i) for i in symbols.values()) == list(range(len(symbols)))
    for name in ("train", "dev", "test_unseen"):
        text = read_kv_file(recipe / "dump/phn" / name / "text")
        assert text.keys() == read_kv_file(recipe / "dump/raw" / name / "text").keys()
        tokens = [t for line in text.values() for t in line.split()]
        assert tokens and all(t in symbols for t in tokens)
        assert "AH0" in tokens and "_" in tokens  # ARPAbet with stress, word separators


@pytest.mark.slow
def test_stage10_uslm_trained(mini_run):
    recipe, _ = mini_run
    for tag in TAGS:
        exp = recipe / "exp" / f"uslm_{tag}"
        config = yaml.safe_load((exp / "config.yaml").read_text())
        assert config["task"] == "uslm" and config["train_ar"] and config["train_nar"]
        # The codec's code layout (the quick codec has 16 codes per level).
        assert (config["codebook_size"], config["n_q"]) == (16, 8)
        assert config["train_codes"] == f"dump/codes/{tag}/train/codes.scp"
        assert config["valid_text"] == "dump/phn/dev/text"
        assert config["max_steps"] == 4
        assert (exp / "valid.loss.best.pth").is_file() and (exp / "tokens.txt").is_file()
        assert (exp / ".done").is_file()
        log = (exp / "train.log").read_text()
        assert "training finished at step 4" in log and "# Ended (code 0)" in log


@pytest.mark.slow
def test_stage11_zero_shot_tts(mini_run, monkeypatch):
    recipe, _ = mini_run
    monkeypatch.chdir(recipe)  # paths in the lists are relative to the recipe
    lists = recipe / "exp" / "tts" / "test_unseen"
    utt2spk = read_kv_file(recipe / "dump/raw/test_unseen/utt2spk")
    utt2prompt = read_kv_file(lists / "utt2prompt")
    assert utt2prompt and set(utt2prompt) <= set(utt2spk)
    for key, prompt in utt2prompt.items():
        assert prompt != key and utt2spk[prompt] == utt2spk[key]  # same voice, other utterance
    for path in read_kv_file(lists / "prompt.scp").values():
        info = sf.info(path)
        assert info.samplerate == 16000 and 16000 <= info.frames <= 3 * 16000
    for tag in TAGS:
        wav_scp = read_kv_file(recipe / "exp" / f"uslm_{tag}" / "decode_test_unseen" / "wav.scp")
        assert wav_scp.keys() == utt2prompt.keys()
        for path in wav_scp.values():
            info = sf.info(path)
            assert info.samplerate == 16000 and info.channels == 1
            assert 0 < info.frames <= MAX_TTS_FRAMES * HOP
    # The paper's zero-shot TTS table: WER and SIM to the prompt, both systems and the truth.
    results = (recipe / "exp" / "uslm_results.md").read_text()
    heading = re.search(r"\n## (test_unseen \(\d+ utterances\))\n", results).group(1)
    header, rows = _md_table(results, heading)
    assert header == ["system", "WER (%)", "SIM"]
    assert [row[0] for row in rows] == ["ground truth", *TTS_SYSTEMS.values()]
    for _, wer, sim in rows:
        assert _finite(wer) >= 0 and -1 <= _finite(sim) <= 1
    assert float(rows[0][1]) < 100 and float(rows[0][2]) > 0.5  # real speech of the prompt's voice
    # A few samples are played in the SLMTokBench report.
    page = recipe / "exp" / "slmtokbench" / "report" / "report.html"
    html = page.read_text()
    assert "Zero-shot TTS samples: test_unseen" in html
    samples = [s for s in _html_sources(page) if s.startswith("audio/s1_")]
    for label in ("prompt", "original", *TTS_SYSTEMS.values()):
        assert any(s.endswith(f"_{re.sub(r'[^A-Za-z0-9_.-]+', '_', label).strip('_')}.wav")
                   for s in samples), label
