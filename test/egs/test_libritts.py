"""The LibriTTS recipe on a miniature corpus in LibriTTS's layout (24 kHz wav, punctuated
normalised text), made here, on a copy of egs/libritts (and of egs/librispeech, whose local/ it
uses) under tmp: data preparation and formatting (stages 1-2), then the USLM on a tokenizer trained
elsewhere: --pretrained_tokenizers links it (stage 4), its codes of this corpus (5), text
tokenisation and a tiny USLM's training (9-10)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import soundfile as sf
import yaml

from sptok.data.ark import iter_codes
from sptok.data.kaldi_dir import read_kv_file, validate_data_dir

CORPUS_FS = 24000  # LibriTTS
FS = 16000         # the tokenizers'
HOP = 320

# subset -> reader -> chapter -> utterance durations (s).
MINI_CORPUS: Dict[str, Dict[str, Dict[str, List[float]]]] = {
    "train-clean-100": {"103": {"1240": [1.2, 0.9]}, "1034": {"121119": [1.0]}},
    "train-clean-360": {"1088": {"134315": [0.8]}},
    "train-other-500": {"20": {"205": [1.1]}},
    "dev-clean": {"84": {"121123": [1.0, 0.8]}},
    "test-clean": {"61": {"70968": [0.9, 1.2]}},
}
SENTENCES = ["The cat sat on a mat, while it rained.", "Nobody came outside!",
             "Is it raining?", "A mat; a cat."]


def voiced(seconds: float, seed: int) -> np.ndarray:
    """A few harmonics of a random pitch with a little noise, at the corpus rate."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * CORPUS_FS))) / CORPUS_FS
    phase = 2 * np.pi * rng.uniform(100, 220) * t
    x = sum(np.sin(k * phase) / k for k in range(1, 4)) + 0.05 * rng.standard_normal(len(t))
    return (0.2 * x / np.abs(x).max()).astype(np.float32)


def make_libritts(root: Path) -> Dict[str, Tuple[str, float]]:
    """Writes ROOT/LibriTTS/<subset>/<reader>/<chapter>/<utt>.wav with its .normalized.txt and
    .original.txt, and speakers.tsv; returns utterance -> (normalised text, seconds)."""
    top = root / "LibriTTS"
    utts: Dict[str, Tuple[str, float]] = {}
    speakers = ["READER\tGENDER\tSUBSET\tNAME"]
    for subset, readers in MINI_CORPUS.items():
        for reader, chapters in readers.items():
            gender = "F" if int(reader) % 2 else "M"
            speakers.append(f"{reader}\t{gender}\t{subset}\tReader {reader}")
            for chapter, durations in chapters.items():
                d = top / subset / reader / chapter
                d.mkdir(parents=True)
                for i, seconds in enumerate(durations):
                    utt = f"{reader}_{chapter}_000001_{i:06d}"
                    sf.write(d / f"{utt}.wav", voiced(seconds, len(utts)), CORPUS_FS,
                             subtype="PCM_16")
                    text = SENTENCES[len(utts) % len(SENTENCES)]
                    (d / f"{utt}.normalized.txt").write_text(text)
                    (d / f"{utt}.original.txt").write_text(text.upper())
                    utts[utt] = (text, seconds)
    (top / "speakers.tsv").write_text("\n".join(speakers) + "\n")
    return utts


@pytest.fixture(scope="module")
def libritts(tmp_path_factory, repo_root: Path, venv_env: dict):
    """A copy of egs/libritts run through stages 1-2 on the mini corpus: (recipe, utterances,
    environment)."""
    root = tmp_path_factory.mktemp("libritts")
    utts = make_libritts(root / "corpus")
    (root / "egs").mkdir()
    os.symlink(repo_root / "egs" / "TEMPLATE", root / "egs" / "TEMPLATE")
    for name in ("libritts", "librispeech"):
        shutil.copytree(repo_root / "egs" / name, root / "egs" / name, symlinks=True,
                        ignore=shutil.ignore_patterns("data", "dump", "exp", "downloads"))
    recipe = root / "egs" / "libritts"
    env = dict(venv_env, LIBRITTS=str(root / "corpus"), OMP_NUM_THREADS="1")
    proc = subprocess.run([str(recipe / "run.sh"), "--skip_install", "true", "--stop_stage", "2",
                           "--nj", "2"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    return recipe, utts, env


def test_recipe_shares_librispeech_local_scripts(repo_root):
    """LibriTTS's data preparation is LibriSpeech's (--corpus libritts), not a copy of it."""
    local = repo_root / "egs" / "libritts" / "local"
    assert local.is_symlink() and local.resolve() == (repo_root / "egs/librispeech/local").resolve()


@pytest.mark.slow
def test_data_preparation_and_format(libritts, monkeypatch):
    recipe, utts, _ = libritts
    sets = {"train_960": ("train-clean-100", "train-clean-360", "train-other-500"),
            "dev_clean": ("dev-clean",),
            "test_clean": ("test-clean",)}
    for name, subsets in sets.items():
        expected = {u: text for u, (text, _) in utts.items()
                    if any(u.split("_")[0] in MINI_CORPUS[s] for s in subsets)}
        assert read_kv_file(recipe / "data" / name / "text") == expected  # normalised text
        assert validate_data_dir(recipe / "data" / name, check_audio=True,
                                 fs=CORPUS_FS).num_utts == len(expected)
    assert read_kv_file(recipe / "data/train_960/spk2gender") == {"103": "f", "1034": "m",
                                                                  "1088": "m", "20": "m"}
    assert not (recipe / "data" / "test_other").exists()  # --eval_subsets dev-clean,test-clean
    monkeypatch.chdir(recipe)  # dump/ paths are relative to the recipe
    for name in sets:
        wav_scp = read_kv_file(recipe / "dump/raw" / name / "wav.scp")
        for key, path in wav_scp.items():
            info = sf.info(path)
            assert path.endswith(".flac") and info.samplerate == FS  # resampled from 24 kHz
            assert info.frames == round(utts[key][1] * FS)


def train_tiny_tokenizer(recipe: Path, out: Path, env: dict, repo_root: Path) -> Path:
    """A tiny codec trained as another recipe's stage 4 would (weights, config, .done), on this
    recipe's formatted audio."""
    config = yaml.safe_load(
        (repo_root / "egs/librispeech/conf/tuning/train_speechtokenizer_tiny.yaml").read_text())
    del config["teacher_conf"]  # no teacher features here: the no-distillation baseline
    config.update(teacher="none", distill_loss="none")
    out.mkdir(parents=True)
    (out / "train.yaml").write_text(yaml.safe_dump(config))
    subprocess.run([sys.executable, "-m", "sptok.bin.train", "--config", str(out / "train.yaml"),
                    "--output_dir", str(out / "tiny"), "--train_data_dir", "dump/raw/train_960",
                    "--valid_data_dir", "dump/raw/dev_clean", "--device", "cpu",
                    "--progress_bar", "false"],
                   cwd=recipe, env=env, check=True, capture_output=True, timeout=300)
    (out / "tiny" / ".done").write_text("trained by the test\n")
    return out / "tiny"


@pytest.mark.slow
def test_uslm_on_a_pretrained_tokenizer(libritts, repo_root, monkeypatch):
    recipe, _, env = libritts
    src = train_tiny_tokenizer(recipe, recipe.parents[1] / "trained", env, repo_root)
    src_files = sorted(os.listdir(src))
    common = ["--skip_install", "true", "--nj", "2", "--inference_nj", "2",
              "--pretrained_tokenizers", f"tiny={src}", "--uslm_codec_tags", "tiny",
              "--uslm_config", "../librispeech/conf/tuning/train_uslm_tiny.yaml"]
    # Stages 4-5, then 9-10 (6-7, resynthesis and scoring, run in test_mini_synth.py).
    for stages in (("4", "5"), ("9", "10")):
        proc = subprocess.run([str(recipe / "run.sh"), "--stage", stages[0], "--stop_stage",
                               stages[1], *common], env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]

    exp = recipe / "exp" / "tiny"
    assert os.readlink(exp / "config.yaml") == str(src / "config.yaml")
    assert os.readlink(exp / "valid.mel_distance.best.pth") == str(src / "2steps.pth")
    assert not (exp / "train.log").exists()  # linked, not trained
    assert sorted(os.listdir(src)) == src_files  # outputs went to this recipe's exp/tiny
    assert (exp / "dump_codes" / "test_clean" / "log").is_dir()
    monkeypatch.chdir(recipe)  # ark paths are relative to the recipe
    for name in ("train_960", "dev_clean", "test_clean"):
        num_samples = read_kv_file(recipe / "dump/raw" / name / "utt2num_samples")
        codes = dict(iter_codes(recipe / "dump/codes/tiny" / name / "codes.scp"))
        assert sorted(codes) == sorted(num_samples)
        assert all(m.shape == (-(-int(num_samples[k]) // HOP), 2) for k, m in codes.items())

    # LibriTTS's punctuation reaches the USLM's text.
    tokens = read_kv_file(recipe / "dump/phn/train_960/text")["103_1240_000001_000000"].split()
    assert "," in tokens and "." in tokens
    uslm = recipe / "exp" / "uslm_tiny"
    config = yaml.safe_load((uslm / "config.yaml").read_text())
    assert (config["codebook_size"], config["n_q"]) == (16, 2)
    assert config["train_codes"] == "dump/codes/tiny/train_960/codes.scp"
    assert "training finished at step 2" in (uslm / "train.log").read_text()
