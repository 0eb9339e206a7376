"""The LibriSpeech recipe on a miniature corpus in LibriSpeech's layout, made here: data
preparation (and its errors on broken trees, and the LibriTTS layout), then egs/librispeech/run.sh
from stage 1 to the token dump (stage 5) with a tiny random HuBERT teacher in Hugging Face format
and a tiny tokenizer config, and on to the USLM stages 9-11 (text tokenisation, a tiny USLM's
training, zero-shot TTS and its scoring), on a copy of the recipe under tmp. Stages 6-8 (codec
scoring, SLMTokBench) run end to end in test_mini_synth.py."""
from __future__ import annotations

import importlib.util
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from sptok.data.ark import iter_codes, iter_feats
from sptok.data.kaldi_dir import read_kv_file, validate_data_dir
from sptok.slmtokbench.units import save_kmeans
from sptok.tasks import load_config
from sptok.teachers import HubertTeacher, save_wav2vec2
from sptok.teachers.mfcc_kmeans import KMeans
from sptok.teachers.wav2vec2_params import STANDARD_CONV_LAYERS, build_model

FS = 16000
HOP = 320

# subset -> reader -> chapter -> utterance durations (s). Reader 19 reads in two subsets' worth
# of chapters; reader 250 is female.
MINI_CORPUS: Dict[str, Dict[str, Dict[str, List[float]]]] = {
    "train-clean-100": {"19": {"198": [1.2, 0.9], "227": [1.0]}, "250": {"142276": [1.1, 0.8]}},
    "train-other-500": {"20": {"205": [1.0, 1.3]}},
    "dev-clean": {"84": {"121123": [1.0, 0.7]}},
    "test-clean": {"61": {"70968": [0.9, 1.2]}},
}
SPEAKERS_TXT = """\
; Some comments explaining the columns
;ID  |SEX| SUBSET           |MINUTES| NAME
19   | F | train-clean-100  | 25.19 | Kara Shallenberg
20   | F | train-other-500  | 30.07 | Gesine
61   | M | test-clean       |  8.08 | Paul-Gabriel Wiener
84   | F | dev-clean        |  8.02 | Christie Nowak
250  | F | train-clean-100  | 25.00 | Mary Reagan | with a bar in the name
"""
WORDS = "THE CAT SAT ON A MAT WHILE IT RAINED OUTSIDE AND NOBODY CAME".split()


def tone(seconds: float, seed: int) -> np.ndarray:
    """A short voiced-sounding signal: a few harmonics with vibrato, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * FS))) / FS
    f0 = rng.uniform(100, 220) * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / FS
    x = sum(np.sin(k * phase) / k for k in range(1, 5)) + 0.05 * rng.standard_normal(len(t))
    return (0.2 * x / np.abs(x).max()).astype(np.float32)


def make_librispeech(root: Path, corpus=MINI_CORPUS) -> Dict[str, str]:
    """Writes ROOT/LibriSpeech/<subset>/<reader>/<chapter>/ (flac + trans.txt) and SPEAKERS.TXT;
    returns utterance -> transcript."""
    top = root / "LibriSpeech"
    texts: Dict[str, str] = {}
    seed = 0
    for subset, readers in corpus.items():
        for reader, chapters in readers.items():
            for chapter, durations in chapters.items():
                d = top / subset / reader / chapter
                d.mkdir(parents=True)
                lines = []
                for i, seconds in enumerate(durations):
                    utt = f"{reader}-{chapter}-{i:04d}"
                    sf.write(d / f"{utt}.flac", tone(seconds, seed), FS, subtype="PCM_16")
                    seed += 1
                    texts[utt] = " ".join(WORDS[(seed + k) % len(WORDS)] for k in range(4))
                    lines.append(f"{utt} {texts[utt]}\n")
                (d / f"{reader}-{chapter}.trans.txt").write_text("".join(lines))
    (top / "SPEAKERS.TXT").write_text(SPEAKERS_TXT)
    return texts


def load_prepare_libri(repo_root: Path):
    spec = importlib.util.spec_from_file_location(
        "prepare_libri", repo_root / "egs/librispeech/local/prepare_libri.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def prepare_libri(repo_root: Path):
    return load_prepare_libri(repo_root)


# ---- data preparation --------------------------------------------------------------------------

def test_prepare_subsets_and_combined_train_set(tmp_path, prepare_libri):
    texts = make_librispeech(tmp_path / "corpus")
    data = tmp_path / "data"
    code = prepare_libri.main(["--root", str(tmp_path / "corpus"), "--data_dir", str(data),
                               "--subsets", "train-clean-100,train-other-500,dev-clean",
                               "--combine", "train_mini=train-clean-100,train-other-500"])
    assert code == 0
    for name, n_utts, n_spk in (("train_clean_100", 5, 2), ("train_other_500", 2, 1),
                                ("dev_clean", 2, 1), ("train_mini", 7, 3)):
        summary = validate_data_dir(data / name, check_audio=True, fs=FS)
        assert (summary.num_utts, summary.num_speakers) == (n_utts, n_spk), name
    train = data / "train_mini"
    assert read_kv_file(train / "text") == {u: t for u, t in texts.items()
                                            if u.split("-")[0] in ("19", "250", "20")}
    assert read_kv_file(train / "utt2spk")["19-227-0000"] == "19"
    assert read_kv_file(train / "spk2gender") == {"19": "f", "20": "f", "250": "f"}
    wav = read_kv_file(train / "wav.scp")["250-142276-0001"]
    assert os.path.isabs(wav) and wav.endswith("LibriSpeech/train-clean-100/250/142276/"
                                               "250-142276-0001.flac")
    # Kaldi's speaker convention on request: reader-chapter
    assert prepare_libri.main(["--root", str(tmp_path / "corpus"), "--data_dir", str(data),
                               "--subsets", "train-clean-100", "--speaker", "chapter"]) == 0
    assert read_kv_file(data / "train_clean_100/spk2gender") == {
        "19-198": "f", "19-227": "f", "250-142276": "f"}


def _break(root: Path, how: str) -> str:
    """Damage the mini corpus at ROOT; returns what the error must say."""
    top = root / "LibriSpeech"
    chapter = top / "dev-clean/84/121123"
    if how == "no_trans":
        (chapter / "84-121123.trans.txt").unlink()
        return "84-121123.trans.txt: transcript file missing (2 .flac files here)"
    if how == "flac_missing":
        (chapter / "84-121123-0001.flac").unlink()
        return "key '84-121123-0001': no audio file 84-121123-0001.flac"
    if how == "untranscribed":
        shutil.copy(chapter / "84-121123-0001.flac", chapter / "84-121123-0002.flac")
        return "1 .flac file(s) without a line in 84-121123.trans.txt, first 84-121123-0002.flac"
    if how == "no_text":
        (chapter / "84-121123.trans.txt").write_text("84-121123-0000 HELLO\n84-121123-0001\n")
        return "84-121123.trans.txt:2: key '84-121123-0001': malformed line"
    if how == "wrong_id":
        (chapter / "84-121123.trans.txt").write_text("84-121123-0000 HELLO\n85-121123-0001 X\n")
        return "key '85-121123-0001': utterance id does not match its directories"
    if how == "stray_dir":
        (top / "dev-clean/84/notes").mkdir()
        return "dev-clean/84/notes: unexpected entry: a chapter directory must be named by a number"
    if how == "no_speakers":
        (top / "SPEAKERS.TXT").unlink()
        return "SPEAKERS.TXT: speakers file not found"
    if how == "bad_speakers":
        (top / "SPEAKERS.TXT").write_text(SPEAKERS_TXT + "99 | X | dev-clean | 1.0 | Nobody\n")
        return "SPEAKERS.TXT:8: malformed line"
    if how == "unlisted_reader":
        (top / "SPEAKERS.TXT").write_text(SPEAKERS_TXT.replace("84   | F", "85   | F"))
        return "key '84': reader(s) 84 of dev_clean are not listed"
    if how == "no_subset":
        shutil.rmtree(top / "dev-clean")
        return "dev-clean: subset dev-clean not found"
    if how == "empty_subset":
        shutil.rmtree(top / "dev-clean/84")
        return "dev-clean: no utterance found"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["no_trans", "flac_missing", "untranscribed", "no_text",
                                 "wrong_id", "stray_dir", "no_speakers", "bad_speakers",
                                 "unlisted_reader", "no_subset", "empty_subset"])
def test_malformed_tree_errors_name_the_file(tmp_path, prepare_libri, capsys, how):
    make_librispeech(tmp_path / "corpus", {k: MINI_CORPUS[k] for k in ("dev-clean", "test-clean")})
    expected = _break(tmp_path / "corpus", how)
    code = prepare_libri.main(["--root", str(tmp_path / "corpus" / "LibriSpeech"), "--data_dir",
                               str(tmp_path / "data"), "--subsets", "test-clean,dev-clean"])
    assert code == 1
    err = capsys.readouterr().err
    assert expected in err, err


def test_missing_corpus_says_where_to_get_it(tmp_path, prepare_libri, capsys):
    assert prepare_libri.main(["--root", str(tmp_path / "nowhere"), "--subsets", "dev-clean"]) == 1
    err = capsys.readouterr().err
    assert "nowhere: corpus directory not found; set LIBRISPEECH in db.sh" in err
    assert "https://www.openslr.org/12" in err
    (tmp_path / "empty").mkdir()
    assert prepare_libri.main(["--root", str(tmp_path / "empty"), "--subsets", "dev-clean"]) == 1
    assert "none of the subsets dev-clean is here or under LibriSpeech/" in capsys.readouterr().err


def test_libritts_layout(tmp_path, prepare_libri, capsys, caplog):
    top = tmp_path / "LibriTTS"
    chapter = top / "dev-clean" / "1272" / "128104"
    chapter.mkdir(parents=True)
    (top / "speakers.tsv").write_text("READER\tGENDER\tSUBSET\tNAME\n1272\tM\tdev-clean\tJohn\n")
    for i, text in enumerate(["Hello, world.", "  ", "It's 5 o'clock."]):
        utt = f"1272_128104_000001_00000{i}"
        sf.write(chapter / f"{utt}.wav", tone(0.5, i), 24000)
        (chapter / f"{utt}.normalized.txt").write_text(text)
        (chapter / f"{utt}.original.txt").write_text(text.upper())
    (chapter / "1272_128104.trans.tsv").write_text("ignored\n")
    code = prepare_libri.main(["--corpus", "libritts", "--root", str(tmp_path), "--data_dir",
                               str(tmp_path / "data"), "--subsets", "dev-clean"])
    assert code == 0, capsys.readouterr().err
    out = tmp_path / "data" / "dev_clean"
    assert read_kv_file(out / "text") == {"1272_128104_000001_000000": "Hello, world.",
                                          "1272_128104_000001_000002": "It's 5 o'clock."}
    assert "left out 1 utterance(s) with an empty transcript" in caplog.text
    assert read_kv_file(out / "spk2gender") == {"1272": "m"}
    assert validate_data_dir(out, check_audio=True, fs=24000).num_utts == 2
    (chapter / "1272_128104_000001_000000.normalized.txt").unlink()
    assert prepare_libri.main(["--corpus", "libritts", "--root", str(tmp_path), "--data_dir",
                               str(tmp_path / "data"), "--subsets", "dev-clean"]) == 1
    assert "transcript file 1272_128104_000001_000000.normalized.txt missing" in \
        capsys.readouterr().err


# ---- the recipe, stages 1-5 --------------------------------------------------------------------

def tiny_hubert_hf(path: Path) -> None:
    """A random 2-layer, 32-dim HuBERT (HuBERT's conv strides at 8 channels) in HF format."""
    params = {"extractor_mode": "group_norm",
              "extractor_conv_layer_config": [(8, k, s) for _, k, s in STANDARD_CONV_LAYERS],
              "extractor_conv_bias": False, "encoder_embed_dim": 32,
              "encoder_projection_dropout": 0.0, "encoder_pos_conv_kernel": 16,
              "encoder_pos_conv_groups": 4, "encoder_num_layers": 2, "encoder_num_heads": 2,
              "encoder_attention_dropout": 0.0, "encoder_ff_interm_features": 64,
              "encoder_ff_interm_dropout": 0.0, "encoder_dropout": 0.0,
              "encoder_layer_norm_first": False, "encoder_layer_drop": 0.0}
    torch.manual_seed(0)
    save_wav2vec2(build_model(params).eval(), params, path, fmt="hf")


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory, repo_root: Path, venv_env: dict) -> Tuple[Path, str]:
    """A copy of egs/librispeech run from stage 1 to 5 on the mini corpus."""
    root = tmp_path_factory.mktemp("ls")
    make_librispeech(root / "corpus")
    tiny_hubert_hf(root / "hubert_tiny")
    (root / "egs").mkdir()
    os.symlink(repo_root / "egs" / "TEMPLATE", root / "egs" / "TEMPLATE")
    recipe = root / "egs" / "librispeech"
    shutil.copytree(repo_root / "egs" / "librispeech", recipe, symlinks=True,
                    ignore=shutil.ignore_patterns("data", "dump", "exp", "downloads"))
    env = dict(venv_env, LIBRISPEECH=str(root / "corpus"), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [str(recipe / "run.sh"), "--skip_install", "true", "--stop_stage", "5",
         "--train_set", "train_mini", "--test_sets", "test_clean",
         "--local_data_opts", "--train_set train_mini "
                              "--train_subsets train-clean-100,train-other-500 "
                              "--eval_subsets dev-clean,test-clean",
         "--teacher", str(root / "hubert_tiny"),
         "--tokenizer_configs", "conf/tuning/train_speechtokenizer_tiny.yaml",
         "--nj", "2", "--inference_nj", "2", "--num_threads", "1"],
        env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    return recipe, out


@pytest.mark.slow
def test_recipe_data_and_format(recipe_run, monkeypatch):
    recipe, _ = recipe_run
    for name, n_utts in (("train_mini", 7), ("dev_clean", 2), ("test_clean", 2)):
        assert validate_data_dir(recipe / "data" / name).num_utts == n_utts
        assert (recipe / "data" / name / "spk2gender").is_file()
    monkeypatch.chdir(recipe)  # dump/ paths are relative to the recipe
    for name in ("train_mini", "dev_clean", "test_clean"):
        summary = validate_data_dir(recipe / "dump/raw" / name, check_audio=True, fs=FS)
        assert summary.num_utts == len(read_kv_file(recipe / "data" / name / "wav.scp"))
        first = next(iter(read_kv_file(recipe / "dump/raw" / name / "wav.scp").values()))
        assert first.endswith(".flac")  # run.sh keeps the formatted audio compressed


@pytest.mark.slow
def test_recipe_teacher_features_match_the_checkpoint(recipe_run, monkeypatch):
    recipe, out = recipe_run
    monkeypatch.chdir(recipe)
    teacher = HubertTeacher.from_pretrained(recipe.parents[1] / "hubert_tiny", layer="avg").eval()
    assert "Stage 3: teacher features (layer avg)" in out
    for name in ("train_mini", "dev_clean"):
        wav_scp = read_kv_file(recipe / "dump/raw" / name / "wav.scp")
        feats = dict(iter_feats(recipe / "dump/teacher_feats" / name / "feats.scp"))
        assert sorted(feats) == sorted(wav_scp)
        key = sorted(feats)[0]
        audio, _ = sf.read(wav_scp[key], dtype="float32")
        with torch.no_grad():
            expected, _ = teacher(torch.from_numpy(audio)[None])
        assert feats[key].shape == (((len(audio) - 400) // HOP + 1), 32)
        np.testing.assert_allclose(feats[key], expected[0].numpy(), atol=1e-4)


@pytest.mark.slow
def test_recipe_token_dump(recipe_run, monkeypatch):
    recipe, _ = recipe_run
    monkeypatch.chdir(recipe)
    exp = recipe / "exp" / "speechtokenizer_tiny"
    config = yaml.safe_load((exp / "config.yaml").read_text())
    assert config["teacher_conf"]["feature_dim"] == 32  # taken from the dumped features
    assert "training finished at step 2" in (exp / "train.log").read_text()
    for name in ("train_mini", "dev_clean", "test_clean"):
        num_samples = read_kv_file(recipe / "dump/raw" / name / "utt2num_samples")
        codes = dict(iter_codes(recipe / "dump/codes/speechtokenizer_tiny" / name / "codes.scp"))
        assert sorted(codes) == sorted(num_samples)
        for key, matrix in codes.items():
            assert matrix.shape == (math.ceil(int(num_samples[key]) / HOP), 2)
            assert 0 <= matrix.min() and matrix.max() < 16
    assert not (recipe / "exp" / "speechtokenizer_tiny" / "resynth").exists()  # stop_stage 5


@pytest.mark.slow
def test_interrupted_token_dump_redoes_only_unfinished_jobs(recipe_run, venv_env):
    """Stage 5 stopped after job 1 of test_clean finished: a re-run keeps job 1's output and
    makes job 2's."""
    recipe, _ = recipe_run
    out = recipe / "dump/codes/speechtokenizer_tiny/test_clean"
    (out / ".done").rename(out / ".signature")  # as begin_step leaves an interrupted step
    for suffix in ("ark", "scp"):
        (out / f"codes.2.{suffix}").unlink()
    (out / "codes.scp").unlink()
    job1 = (out / "codes.1.ark").stat().st_mtime_ns
    env = dict(venv_env, LIBRISPEECH=str(recipe.parents[1] / "corpus"), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [str(recipe / "run.sh"), "--skip_install", "true", "--stage", "5", "--stop_stage", "5",
         "--train_set", "train_mini", "--test_sets", "test_clean",
         "--tokenizer_configs", "conf/tuning/train_speechtokenizer_tiny.yaml",
         "--nj", "2", "--inference_nj", "2"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "resuming dump/codes/speechtokenizer_tiny/test_clean" in proc.stderr
    assert "dump/codes/speechtokenizer_tiny/train_mini is up to date" in proc.stderr
    logs = recipe / "exp/speechtokenizer_tiny/dump_codes/test_clean/log"
    assert "complete output exists" in (logs / "dump_codes.1.log").read_text()
    assert "wrote " in (logs / "dump_codes.2.log").read_text()
    assert (out / "codes.1.ark").stat().st_mtime_ns == job1
    assert len(read_kv_file(out / "codes.scp")) == 2 and (out / ".done").is_file()


# ---- the SLMTokBench configs of stage 8 --------------------------------------------------------

def test_unit_vocoder_config_builds_with_the_recipe_inputs(tmp_path, repo_root):
    """conf/train_unit_vocoder.yaml at its paper size, given what stage 8 passes: the teacher
    and the benchmark's k-means (without them it names the missing option: test_configs.py)."""
    tiny_hubert_hf(tmp_path / "hubert")
    torch.manual_seed(0)
    save_kmeans(tmp_path / "kmeans.pt", KMeans(torch.randn(8, 32), torch.zeros(32), torch.ones(32)))
    shipped = repo_root / "egs/librispeech/conf/train_unit_vocoder.yaml"
    config = yaml.safe_load(shipped.read_text())
    config["encoder_conf"]["teacher"] = str(tmp_path / "hubert")
    config["quantizer_conf"]["kmeans"] = str(tmp_path / "kmeans.pt")
    (tmp_path / "vocoder.yaml").write_text(yaml.safe_dump(config))
    task, resolved = load_config(tmp_path / "vocoder.yaml")
    assert resolved["decoder_conf"]["n_filters"] == 64  # the published decoder's width
    report = str(task.dry_run(resolved))
    # One level of units at 50 Hz (0.5 s -> 25 frames) decoded back to the input's length.
    assert "codes: int64[2, 1, 25]" in report and "wav_hat: float32[2, 1, 8000]" in report


@pytest.mark.parametrize("codecs", [("speechtokenizer_avg", "baseline"), ("speechtokenizer_l9",)])
def test_slmtokbench_config_is_valid(tmp_path, repo_root, codecs):
    """conf/slmtokbench.yaml with the sources stage 8 makes, for the recipe's tokenizers and for
    the L9 run of run.sh's header."""
    out = tmp_path / "bench.yaml"
    codec_args = [arg for tag in codecs for arg in ("--codec", tag, f"exp/{tag}")]
    res = subprocess.run(
        [sys.executable, str(repo_root / "egs/TEMPLATE/scripts/slmtokbench/make_config.py"),
         "--config", str(repo_root / "egs/librispeech/conf/slmtokbench.yaml"), "--out", str(out),
         *codec_args, "--units", "hubert_km", "f/train.scp", "f/test.scp",
         "--teacher", "downloads/hubert-base-ls960", "--layer", "avg",
         "--vocoder", "exp/unit_vocoder"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    config = yaml.safe_load(out.read_text())
    assert [s["name"] for s in config["sources"]] == ["hubert_km", *codecs]
    assert config["sources"][0]["num_units"] == 500 and config["max_utts"] == 300
    assert config["spk_model"] == "resemblyzer"  # offline; the ASR comes from --score_asr


# ---- the recipe, stages 9-11 -------------------------------------------------------------------

TTS_MAX_FRAMES = 20  # --tts_args "--max_frames 20"


@pytest.fixture(scope="module")
def uslm_run(recipe_run, venv_env: dict) -> Tuple[Path, str]:
    """Stages 9-11 of the recipe run by recipe_run, with a tiny USLM on the tiny tokenizer."""
    recipe, _ = recipe_run
    env = dict(venv_env, LIBRISPEECH=str(recipe.parents[1] / "corpus"), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [str(recipe / "run.sh"), "--skip_install", "true", "--stage", "9", "--stop_stage", "11",
         "--train_set", "train_mini", "--test_sets", "test_clean",
         "--tokenizer_configs", "conf/tuning/train_speechtokenizer_tiny.yaml",
         "--uslm_config", "conf/tuning/train_uslm_tiny.yaml",
         "--uslm_codec_tags", "speechtokenizer_tiny",
         # The mini test speakers' utterances are about 1 s: shorter prompts are accepted.
         "--tts_args", f"--max_frames {TTS_MAX_FRAMES} --min_prompt_seconds 0.5",
         "--nj", "2", "--inference_nj", "2", "--num_threads", "1"],
        env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    return recipe, out


@pytest.mark.slow
def test_recipe_text_tokens(uslm_run):
    recipe, _ = uslm_run
    symbols = read_kv_file(recipe / "dump/phn/tokens.txt")
    for name in ("train_mini", "dev_clean", "test_clean"):
        text = read_kv_file(recipe / "dump/phn" / name / "text")
        assert text.keys() == read_kv_file(recipe / "dump/raw" / name / "text").keys()
        tokens = [t for line in text.values() for t in line.split()]
        assert tokens and all(t in symbols for t in tokens)
    # "THE CAT ..." in ARPAbet with stress, words separated by "_".
    first = read_kv_file(recipe / "dump/phn/train_mini/text")["19-198-0000"].split()
    words = read_kv_file(recipe / "dump/raw/train_mini/text")["19-198-0000"].split()
    assert first.count("_") == len(words) - 1
    assert any(t[-1] in "012" for t in first)


@pytest.mark.slow
def test_recipe_uslm_trained(uslm_run):
    recipe, _ = uslm_run
    exp = recipe / "exp" / "uslm_speechtokenizer_tiny"
    config = yaml.safe_load((exp / "config.yaml").read_text())
    assert config["task"] == "uslm" and config["train_ar"] and config["train_nar"]
    # The code layout of the tiny tokenizer (2 levels of 16 codes), its codes and stage 9's text.
    assert (config["codebook_size"], config["n_q"]) == (16, 2)
    assert config["train_codes"] == "dump/codes/speechtokenizer_tiny/train_mini/codes.scp"
    assert config["valid_text"] == "dump/phn/dev_clean/text"
    assert (exp / "valid.loss.best.pth").is_file() and (exp / ".done").is_file()
    assert "training finished at step 2" in (exp / "train.log").read_text()


@pytest.mark.slow
def test_recipe_zero_shot_tts(uslm_run, monkeypatch):
    recipe, _ = uslm_run
    monkeypatch.chdir(recipe)  # paths in the lists are relative to the recipe
    utt2spk = read_kv_file(recipe / "dump/raw/test_clean/utt2spk")
    utt2prompt = read_kv_file(recipe / "exp/tts/test_clean/utt2prompt")
    assert sorted(utt2prompt) == sorted(utt2spk)  # both have the other as prompt
    for key, prompt in utt2prompt.items():
        assert prompt != key and utt2spk[prompt] == utt2spk[key]
    wav_scp = read_kv_file(recipe / "exp/uslm_speechtokenizer_tiny/decode_test_clean/wav.scp")
    assert wav_scp.keys() == utt2prompt.keys()
    for path in wav_scp.values():
        info = sf.info(path)
        assert info.samplerate == FS and 0 < info.frames <= TTS_MAX_FRAMES * HOP
    results = (recipe / "exp" / "uslm_results.md").read_text()
    assert "## test_clean (2 utterances)" in results
    assert "| ground truth |" in results and "| USLM (speechtokenizer_tiny tokens) |" in results
