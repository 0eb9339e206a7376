"""The corpus CLI (sptok.bin.make_mini_synth) and the recipe's local/data.sh, on a tiny corpus."""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from sptok.bin import make_mini_synth
from sptok.data.kaldi_dir import c_sort_key, read_kv_file, validate_data_dir

SETS = ("train", "dev", "test", "test_unseen")
FILES = ("wav.scp", "text", "utt2spk", "spk2utt", "utt2num_samples")
TINY = ["--hours", "0.01", "--seed", "7", "--nj", "2"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("mini_synth")
    rc = make_mini_synth.main(["--out_dir", str(root / "data"), "--wav_dir", str(root / "wav")]
                              + TINY)
    assert rc == 0
    return root


@pytest.fixture(scope="module")
def corpus_again(tmp_path_factory):
    """The same corpus made again by another process, elsewhere."""
    root = tmp_path_factory.mktemp("mini_synth_again")
    proc = subprocess.run([sys.executable, "-m", "sptok.bin.make_mini_synth", "--out_dir",
                           str(root / "data"), "--wav_dir", str(root / "wav")] + TINY,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return root, proc.stdout


def test_data_dirs_are_valid(corpus):
    for subset in SETS:
        d = corpus / "data" / subset
        for name in FILES:
            keys = list(read_kv_file(d / name))
            assert keys == sorted(keys, key=c_sort_key), f"{d / name} not in C order"
        summary = validate_data_dir(d, check_audio=True, require_text=True, fs=16000)
        assert summary.num_utts >= 2


def test_audio_is_16k_mono_16bit_with_absolute_paths(corpus):
    for subset in SETS:
        d = corpus / "data" / subset
        lengths = read_kv_file(d / "utt2num_samples")
        for utt, path in read_kv_file(d / "wav.scp").items():
            assert Path(path).is_absolute() and Path(path).is_relative_to(corpus / "wav")
            info = sf.info(path)
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            assert info.frames == int(lengths[utt])
            assert 2.5 < info.frames / 16000 < 8.5


def test_speakers_and_sentences_per_set(corpus):
    utt2spk = {s: read_kv_file(corpus / "data" / s / "utt2spk") for s in SETS}
    text = {s: read_kv_file(corpus / "data" / s / "text") for s in SETS}
    spk = {s: set(utt2spk[s].values()) for s in SETS}
    assert not spk["train"] & spk["test_unseen"]
    assert spk["dev"] <= spk["train"] and spk["test"] <= spk["train"]
    assert len(spk["train"]) >= 20 and len(spk["test_unseen"]) >= 4
    for s in SETS:
        assert all(utt.startswith(sp + "_") for utt, sp in utt2spk[s].items())
    per_unseen = [list(utt2spk["test_unseen"].values()).count(sp) for sp in spk["test_unseen"]]
    assert min(per_unseen) >= 3
    train_text = set(text["train"].values())
    for s in ("dev", "test", "test_unseen"):
        assert not train_text & set(text[s].values())


def test_stats_table(corpus, corpus_again):
    table = (corpus / "data" / "mini_synth_stats.txt").read_text()
    _, stdout = corpus_again
    assert table == stdout
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["set", "hours", "utts", "speakers"]
    assert [ln.split()[0] for ln in lines[1:]] == list(SETS) + ["total"]
    n_utts = sum(len(read_kv_file(corpus / "data" / s / "text")) for s in SETS)
    assert int(lines[-1].split()[2]) == n_utts


def test_same_seed_same_corpus(corpus, corpus_again):
    again, _ = corpus_again
    for subset in SETS:
        for name in ("text", "utt2spk", "utt2num_samples"):
            assert (corpus / "data" / subset / name).read_text() == \
                (again / "data" / subset / name).read_text()
        scp_a = read_kv_file(corpus / "data" / subset / "wav.scp")
        scp_b = read_kv_file(again / "data" / subset / "wav.scp")
        assert list(scp_a) == list(scp_b)
        for utt in scp_a:
            assert hashlib.md5(Path(scp_a[utt]).read_bytes()).digest() == \
                hashlib.md5(Path(scp_b[utt]).read_bytes()).digest(), utt


def test_rerun_keeps_finished_audio(corpus, monkeypatch):
    wavs = sorted((corpus / "wav").rglob("*.wav"))
    mtimes = [w.stat().st_mtime_ns for w in wavs]
    monkeypatch.setattr("sptok.corpus.batch.synthesize",
                        lambda *a, **k: pytest.fail("a finished file was synthesised again"))
    assert make_mini_synth.main(["--out_dir", str(corpus / "data"), "--wav_dir",
                                 str(corpus / "wav")] + TINY) == 0
    assert [w.stat().st_mtime_ns for w in wavs] == mtimes


def test_missing_engine_is_a_clear_error(tmp_path, path_without):
    env = dict(os.environ, PATH=path_without("text2wave", "festival"))
    proc = subprocess.run([sys.executable, "-m", "sptok.bin.make_mini_synth", "--out_dir",
                           str(tmp_path / "data"), "--wav_dir", str(tmp_path / "wav")] + TINY,
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert "'text2wave' not found on PATH" in proc.stderr and "festival" in proc.stderr
    assert not (tmp_path / "data").exists()


def test_bad_options(tmp_path, capsys):
    assert make_mini_synth.main(["--out_dir", str(tmp_path), "--hours", "0"]) == 1
    assert "--hours" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        make_mini_synth.main(["--mbrola", "maybe"])


# ---- egs/mini_synth/local/data.sh


def test_data_sh_passes_shellcheck(repo_root):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed")
    recipe = repo_root / "egs" / "mini_synth"
    for flags in ([], ["-x"]):
        proc = subprocess.run(["shellcheck", *flags, "local/data.sh"], cwd=recipe,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


def test_data_sh_makes_the_data_dirs(repo_root, tmp_path, corpus, venv_env):
    # a recipe folder like egs/mini_synth: local/data.sh, path.sh and utils -> TEMPLATE/utils
    recipe = repo_root / "egs" / "mini_synth"
    (tmp_path / "local").mkdir()
    shutil.copy(recipe / "local" / "data.sh", tmp_path / "local")
    shutil.copy(recipe / "path.sh", tmp_path)
    (tmp_path / "utils").symlink_to(repo_root / "egs" / "TEMPLATE" / "utils")
    proc = subprocess.run(["local/data.sh", "--wav_dir", str(corpus / "wav")] + TINY,
                          cwd=tmp_path, capture_output=True, text=True, env=venv_env)
    assert proc.returncode == 0, proc.stderr
    for subset in SETS:
        assert (tmp_path / "data" / subset / "text").read_text() == \
            (corpus / "data" / subset / "text").read_text()
    assert (tmp_path / "data" / "mini_synth_stats.txt").is_file()

    proc = subprocess.run(["local/data.sh", "--no_such_option", "1"], cwd=tmp_path,
                          capture_output=True, text=True, env=venv_env)
    assert proc.returncode != 0 and "no_such_option" in proc.stderr
