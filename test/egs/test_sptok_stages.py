"""egs/TEMPLATE/sptok.sh on a toy recipe: stage selection, outputs and resumability of stages 1-2,
option checks and preconditions of the codec stages 3-7 and of the SLMTokBench and USLM stages
8-11 (all of which run end to end in test_mini_synth.py), and the helper scripts of those
stages."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf
import yaml


def read_table(path: Path) -> dict:
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def leftovers(recipe: Path) -> list:
    """Temporary files and markers of unfinished work anywhere under the recipe's outputs."""
    found = []
    for top in ("data", "dump", "exp"):
        for p in (recipe / top).rglob("*") if (recipe / top).exists() else []:
            if ".tmp" in p.name or p.name in (".signature", ".backup", "split"):
                found.append(str(p.relative_to(recipe)))
    return found


def test_stage_selection(toy_recipe, run_recipe):
    res = run_recipe(toy_recipe, "--stage", "1", "--stop_stage", "1")
    assert res.returncode == 0, res.stderr
    assert (toy_recipe / "data/train/wav.scp").is_file()
    assert (toy_recipe / "exp/data_prep/log/data.log").is_file()
    assert not (toy_recipe / "dump").exists()

    res = run_recipe(toy_recipe, "--stage", "2", "--stop_stage", "2")
    assert res.returncode == 0, res.stderr
    assert "Stage 1" not in res.stderr and "Stage 2" in res.stderr
    assert (toy_recipe / "dump/raw/train/wav.scp").is_file()
    assert (toy_recipe / "local/runs.txt").read_text().count("run") == 1

    res = run_recipe(toy_recipe, "--stage", "3")
    assert res.returncode == 0, res.stderr
    assert "Stage 1" not in res.stderr and "Stage 2" not in res.stderr
    # Without a teacher and tokenizer configs the codec stages have nothing to do.
    assert "Stage 3: skipped" in res.stderr and "Stages 4-7: skipped" in res.stderr


def test_stage2_formats_resamples_and_filters(toy_recipe, run_recipe, toy_sets, venv_env):
    res = run_recipe(toy_recipe, "--stop_stage", "2", "--nj", "1",
                     env=dict(venv_env, TOY_FS="8000"))
    assert res.returncode == 0, res.stderr
    raw = toy_recipe / "dump/raw"
    for name, utts in toy_sets.items():
        kept = [u for u in utts if name == "test" or u[2] >= 0.1]
        wav_scp = read_table(raw / name / "wav.scp")
        assert sorted(wav_scp) == sorted(u[0] for u in kept)
        num_samples = read_table(raw / name / "utt2num_samples")
        for utt, spk, sec in kept:
            info = sf.info(str(toy_recipe / wav_scp[utt]))
            assert info.samplerate == 16000 and info.channels == 1
            assert int(num_samples[utt]) == info.frames == round(16000 * sec)
        assert read_table(raw / name / "utt2spk") == {u: s for u, s, _ in kept}
        assert read_table(raw / name / "text").keys() == wav_scp.keys()
        spk2utt = read_table(raw / name / "spk2utt")
        assert sorted(spk2utt) == sorted({s for _, s, _ in kept})
    assert sorted(read_table(raw / "org/train/wav.scp")) == sorted(u[0] for u in toy_sets["train"])
    log = (toy_recipe / "exp/format/test/log/format.1.log").read_text()
    assert "# Ended (code 0)" in log
    assert leftovers(toy_recipe) == []


def test_rerun_skips_finished_work_and_redoes_changed(toy_recipe, run_recipe):
    assert run_recipe(toy_recipe, "--stop_stage", "2").returncode == 0
    wav_scp = toy_recipe / "dump/raw/org/train/wav.scp"
    mtime = wav_scp.stat().st_mtime_ns

    res = run_recipe(toy_recipe, "--stop_stage", "2")
    assert res.returncode == 0, res.stderr
    assert "data/ is up to date" in res.stderr
    assert "dump/raw/org/train is up to date" in res.stderr
    assert "dump/raw/test is up to date" in res.stderr
    assert wav_scp.stat().st_mtime_ns == mtime
    assert (toy_recipe / "local/runs.txt").read_text().count("run") == 1

    # Another duration limit redoes the filter only.
    res = run_recipe(toy_recipe, "--stage", "2", "--max_wav_duration", "0.35")
    assert res.returncode == 0, res.stderr
    assert "dump/raw/org/train is up to date" in res.stderr
    assert sorted(read_table(toy_recipe / "dump/raw/train/wav.scp")) == ["spk1_b"]
    assert wav_scp.stat().st_mtime_ns == mtime

    # Other local/data.sh options redo stage 1; the same data again leaves stage 2 as it is.
    res = run_recipe(toy_recipe, "--local_data_opts", "--x 1", "--stop_stage", "2")
    assert res.returncode == 0, res.stderr
    assert (toy_recipe / "local/runs.txt").read_text().count("run") == 2
    assert "dump/raw/org/train is up to date" in res.stderr
    # Empty extra options change nothing.
    res = run_recipe(toy_recipe, "--local_data_opts", " --x  1 ", "--quick", "true",
                     "--quick_data_opts", "", "--stop_stage", "1")
    assert res.returncode == 0, res.stderr
    assert (toy_recipe / "local/runs.txt").read_text().count("run") == 2


def test_failed_job_then_rerun_completes(toy_recipe, run_recipe):
    assert run_recipe(toy_recipe, "--stop_stage", "1").returncode == 0
    broken = Path(read_table(toy_recipe / "data/test/wav.scp")["spk4_b"])
    good_audio = broken.read_bytes()
    broken.write_bytes(b"not a wav file at all")

    res = run_recipe(toy_recipe, "--stage", "2")
    assert res.returncode != 0
    assert "1 of 2 jobs failed" in res.stderr
    assert "exp/format/test/log/format.2.log" in res.stderr
    assert not (toy_recipe / "dump/raw/test/.done").exists()
    assert (toy_recipe / "dump/raw/train/.done").exists()  # finished sets stay finished

    broken.write_bytes(good_audio)
    res = run_recipe(toy_recipe, "--stage", "2")
    assert res.returncode == 0, res.stderr
    assert "dump/raw/train is up to date" in res.stderr
    assert "resuming dump/raw/test" in res.stderr
    assert sorted(read_table(toy_recipe / "dump/raw/test/wav.scp")) == ["spk4_a", "spk4_b"]
    assert leftovers(toy_recipe) == []


HANGING_PYTHON = """#!/usr/bin/env bash
# python that hangs in the second format job of the train set (after the first has finished).
if [ "$2" = sptok.bin.format_wav_scp ] && [[ "${@: -1}" == */org/train/data/format.2 ]]; then
    while [ ! -f "$(dirname "${@: -1}")/format.1/wav.scp" ]; do sleep 0.05; done
    touch "${HANG_FLAG}"
    exec sleep 300
fi
exec "${REAL_PYTHON}" "$@"
"""


def test_killed_stage_rerun_keeps_finished_audio(toy_recipe, run_recipe, venv_env, tmp_path):
    assert run_recipe(toy_recipe, "--stop_stage", "1").returncode == 0
    fake_python = tmp_path / "hanging_python"
    fake_python.write_text(HANGING_PYTHON)
    fake_python.chmod(0o755)
    flag = tmp_path / "hanging"
    env = dict(venv_env, HANG_FLAG=str(flag), REAL_PYTHON=sys.executable)
    proc = subprocess.Popen([str(toy_recipe / "run.sh"), "--stage", "2", "--python",
                             str(fake_python)], cwd=toy_recipe, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "stage 2 did not reach the second job"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no chance to clean up
        proc.wait(timeout=30)
    finished = toy_recipe / "dump/raw/org/train/data/format.1"
    first_audio = sorted((finished / "data").iterdir())
    assert first_audio
    mtimes = [p.stat().st_mtime_ns for p in first_audio]
    assert not (toy_recipe / "dump/raw/org/train/.done").exists()

    res = run_recipe(toy_recipe, "--stage", "2")
    assert res.returncode == 0, res.stderr
    assert "resuming dump/raw/org/train" in res.stderr
    assert [p.stat().st_mtime_ns for p in first_audio] == mtimes  # not made again
    assert sorted(read_table(toy_recipe / "dump/raw/train/wav.scp")) == ["spk1_a", "spk1_b", "spk2_b"]
    assert leftovers(toy_recipe) == []


def test_interrupted_stage1_is_redone(toy_recipe, run_recipe):
    data_sh = toy_recipe / "local/data.sh"
    good = data_sh.read_text()
    data_sh.write_text(good + "exit 3\n")  # writes the data dirs, then fails
    res = run_recipe(toy_recipe, "--stop_stage", "1")
    assert res.returncode != 0
    assert not (toy_recipe / "data/.done").exists()
    data_sh.write_text(good)
    res = run_recipe(toy_recipe, "--stop_stage", "1")
    assert res.returncode == 0, res.stderr
    assert "up to date" not in res.stderr
    assert (toy_recipe / "data/.done").exists()


def test_quick_adds_quick_data_opts(toy_recipe, run_recipe):
    data_sh = toy_recipe / "local/data.sh"
    data_sh.write_text(data_sh.read_text().replace(
        "echo run >> local/runs.txt", 'echo "run $*" >> local/runs.txt'))
    res = run_recipe(toy_recipe, "--stop_stage", "1", "--local_data_opts", "--a 1",
                     "--quick", "true", "--quick_data_opts", "--hours 0.05")
    assert res.returncode == 0, res.stderr
    assert (toy_recipe / "local/runs.txt").read_text() == "run --a 1 --hours 0.05\n"
    assert "quick mode" in res.stderr


def test_missing_data_dir_is_reported(toy_recipe, run_recipe):
    res = run_recipe(toy_recipe, "--stop_stage", "1", "--test_sets", "test nowhere")
    assert res.returncode != 0
    assert "local/data.sh did not make data/nowhere/wav.scp" in res.stderr


@pytest.mark.parametrize("args, message", [
    (("--resynth_levels", "1:x"), "--resynth_levels takes level ranges"),
    (("--resynth_levels", "0"), "--resynth_levels takes level ranges"),
    (("--tokenizer_configs", "conf/a.yaml conf/train_a.yaml"), "two configs give the tag a"),
    (("--ngpu", "-1"), "--ngpu takes an integer >= 0"),
    (("--inference_nj", "0"), "--inference_nj takes an integer >= 1"),
    (("--mini_teacher_conf", "conf/nowhere.conf"), "--mini_teacher_conf conf/nowhere.conf: no such"),
    (("--slmtokbench_config", "conf/no.yaml"), "--slmtokbench_config conf/no.yaml: no such file"),
    (("--unit_vocoder_config", "conf/no.yaml"), "--unit_vocoder_config conf/no.yaml: no such file"),
    (("--uslm_config", "conf/nowhere.yaml"), "--uslm_config conf/nowhere.yaml: no such file"),
    (("--tts_prompt_seconds", "0"), "--tts_prompt_seconds takes a number of seconds > 0, got '0'"),
    (("--tts_prompt_seconds", "3s"), "--tts_prompt_seconds takes a number of seconds > 0"),
])
def test_codec_options_are_checked_first(toy_recipe, run_recipe, args, message):
    res = run_recipe(toy_recipe, *args)
    assert res.returncode != 0
    assert message in res.stderr
    assert "Stage 1" not in res.stderr  # nothing ran


@pytest.mark.parametrize("args, message", [
    (("--slmtokbench_config", "conf/bench.yaml", "--slmtokbench_test_set", "dev"),
     "--slmtokbench_test_set dev: not one of --test_sets (test)"),
    (("--uslm_config", "conf/uslm.yaml", "--tts_test_sets", "test nowhere"),
     "--tts_test_sets: nowhere is not one of --test_sets (test)"),
    (("--uslm_config", "conf/uslm.yaml"),
     "--uslm_config needs tokenizers: give --tokenizer_configs"),
    (("--uslm_config", "conf/uslm.yaml", "--tokenizer_configs", "conf/train_st.yaml",
      "--uslm_codec_tags", "st nope"),
     "--uslm_codec_tags: nope is not a tag of --tokenizer_configs"),
])
def test_bench_and_uslm_options_are_checked_first(toy_recipe, run_recipe, repo_root, args,
                                                  message):
    for name in ("bench.yaml", "uslm.yaml", "train_st.yaml"):
        (toy_recipe / "conf" / name).write_text("task: x\n")
    res = run_recipe(toy_recipe, *args)
    assert res.returncode != 0
    assert message in res.stderr
    assert "Stage 1" not in res.stderr  # nothing ran
    # Runs of other stages do not check them: they may narrow --test_sets or the tokenizers.
    res = run_recipe(toy_recipe, *args, "--stop_stage", "1")
    assert res.returncode == 0, res.stderr


def test_codec_stages_check_their_inputs(toy_recipe, run_recipe, repo_root):
    config = toy_recipe / "conf" / "train_st.yaml"
    shutil.copy(repo_root / "egs/mini_synth/conf/train_speechtokenizer.yaml", config)
    res = run_recipe(toy_recipe, "--stage", "4", "--tokenizer_configs", "conf/train_st.yaml")
    assert res.returncode != 0
    assert "dump/raw/train is missing or incomplete: run stage 2 first" in res.stderr

    assert run_recipe(toy_recipe, "--stop_stage", "2").returncode == 0
    res = run_recipe(toy_recipe, "--stage", "3", "--stop_stage", "3", "--teacher", "nowhere")
    assert res.returncode != 0 and "--teacher nowhere: no such file or directory" in res.stderr
    # A distilling config needs stage 3's features; a bad override is named.
    res = run_recipe(toy_recipe, "--stage", "4", "--tokenizer_configs", "conf/train_st.yaml")
    assert res.returncode != 0
    assert "run stage 3 with --teacher or --train_mini_teacher true first" in res.stderr
    res = run_recipe(toy_recipe, "--stage", "4", "--tokenizer_configs", "conf/train_st.yaml",
                     "--tokenizer_args", "--no_such_option 1")
    assert res.returncode != 0 and "not a valid config" in res.stderr
    # Later stages name the stage that makes their input.
    res = run_recipe(toy_recipe, "--stage", "5", "--tokenizer_configs", "conf/train_st.yaml")
    assert res.returncode != 0
    assert "exp/st is missing or incomplete: run stage 4 (training of st) first" in res.stderr
    assert not (toy_recipe / "exp" / "st").exists()


def test_bench_and_uslm_stages_check_their_inputs(toy_recipe, run_recipe, repo_root):
    conf = toy_recipe / "conf"
    mini_conf = repo_root / "egs/mini_synth/conf"
    shutil.copy(mini_conf / "train_speechtokenizer.yaml", conf / "train_st.yaml")
    shutil.copy(mini_conf / "slmtokbench.yaml", conf / "bench.yaml")
    shutil.copy(mini_conf / "train_uslm.yaml", conf / "uslm.yaml")
    codec = ("--tokenizer_configs", "conf/train_st.yaml")
    res = run_recipe(toy_recipe, "--stage", "8", "--slmtokbench_config", "conf/bench.yaml", *codec)
    assert res.returncode != 0
    assert "dump/raw/train is missing or incomplete: run stage 2 first" in res.stderr

    assert run_recipe(toy_recipe, "--stop_stage", "2").returncode == 0
    res = run_recipe(toy_recipe, "--stage", "8", "--slmtokbench_config", "conf/bench.yaml", *codec)
    assert res.returncode != 0
    assert "exp/st is missing or incomplete: run stage 4 (training of st) first" in res.stderr
    assert not (toy_recipe / "exp" / "slmtokbench").exists()
    # Without a YAML, stage 8 says why it does nothing; the same for stages 9-11.
    res = run_recipe(toy_recipe, "--stage", "8", *codec)
    assert res.returncode == 0, res.stderr
    assert "Stage 8: skipped: no --slmtokbench_config" in res.stderr
    assert "Stages 9-11: skipped: no --uslm_config" in res.stderr

    # A YAML of another task is named.
    (conf / "codec.yaml").write_text("task: codec\n")
    res = run_recipe(toy_recipe, "--stage", "9", "--uslm_config", "conf/codec.yaml", *codec)
    assert res.returncode != 0
    assert "--uslm_config conf/codec.yaml: task is 'codec', not uslm" in res.stderr
    # Stage 9 tokenises with the USLM config's front end: phonemes, one token list.
    res = run_recipe(toy_recipe, "--stage", "9", "--stop_stage", "9", "--uslm_config",
                     "conf/uslm.yaml", *codec)
    assert res.returncode == 0, res.stderr
    symbols = read_table(toy_recipe / "dump/phn/tokens.txt")
    for name in ("train", "dev", "test"):
        text = read_table(toy_recipe / "dump/phn" / name / "text")
        assert text.keys() == read_table(toy_recipe / "dump/raw" / name / "text").keys()
        assert all(token in symbols for line in text.values() for token in line.split())
    assert "HH" in read_table(toy_recipe / "dump/phn/train/text")["spk1_a"].split()  # "hello"
    # Later stages name the stage that makes their input.
    res = run_recipe(toy_recipe, "--stage", "10", "--uslm_config", "conf/uslm.yaml", *codec)
    assert res.returncode != 0
    assert "dump/codes/st/train is missing or incomplete: run stage 5 first" in res.stderr
    res = run_recipe(toy_recipe, "--stage", "11", "--uslm_config", "conf/uslm.yaml", *codec)
    assert res.returncode != 0
    assert "exp/st is missing or incomplete: run stage 4 (training of st) first" in res.stderr
    assert not (toy_recipe / "exp" / "tts").exists()


def trained_tokenizer_exp(path: Path, task: str = "codec") -> Path:
    """An experiment dir as stage 4 of another recipe leaves it (the weights are not read)."""
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(f"task: {task}\nbest_criterion: [valid, mel_distance, min]\n")
    (path / "2steps.pth").write_bytes(b"weights of step 2")
    (path / "4steps.pth").write_bytes(b"weights of step 4")
    os.symlink("4steps.pth", path / "valid.mel_distance.best.pth")
    (path / ".done").write_text("train --max_steps 4\n")
    return path


def test_pretrained_tokenizers_are_linked_not_trained(toy_recipe, run_recipe, repo_root,
                                                      tmp_path):
    """--pretrained_tokenizers: stage 4 links another recipe's tokenizer into exp/<tag>; the
    LibriTTS recipe runs stages 5 and 9-11 on such links (test_libritts.py)."""
    src = trained_tokenizer_exp(tmp_path / "other" / "exp" / "st")
    src_files = sorted(os.listdir(src))
    # Relative to the recipe, as a recipe's run.sh gives it.
    args = ("--stage", "4", "--stop_stage", "4", "--pretrained_tokenizers", "st=../../other/exp/st")
    res = run_recipe(toy_recipe, *args)
    assert res.returncode == 0, res.stderr
    exp = toy_recipe / "exp" / "st"
    assert os.readlink(exp / "config.yaml") == str(src / "config.yaml")
    assert os.readlink(exp / "valid.mel_distance.best.pth") == str(src / "4steps.pth")
    assert sorted(os.listdir(exp)) == [".done", "config.yaml", "valid.mel_distance.best.pth"]
    res = run_recipe(toy_recipe, *args)
    assert res.returncode == 0, res.stderr
    assert "exp/st is up to date" in res.stderr

    # The source trained further: linked again; outputs of later stages stay (their own .done
    # signatures hold this .done, so those stages redo them).
    (exp / "dump_codes").mkdir()
    (src / "valid.mel_distance.best.pth").unlink()
    os.symlink("2steps.pth", src / "valid.mel_distance.best.pth")
    (src / ".done").write_text("train --max_steps 6\n")
    done = (exp / ".done").read_text()
    res = run_recipe(toy_recipe, *args)
    assert res.returncode == 0, res.stderr
    assert os.readlink(exp / "valid.mel_distance.best.pth") == str(src / "2steps.pth")
    assert (exp / ".done").read_text() != done and (exp / "dump_codes").is_dir()
    assert sorted(os.listdir(src)) == src_files  # the source is only read

    # Its tag is one of the tokenizers for the USLM (stage 10 then wants stage 9's text).
    shutil.copy(repo_root / "egs/mini_synth/conf/train_uslm.yaml",
                toy_recipe / "conf" / "uslm.yaml")
    res = run_recipe(toy_recipe, "--stage", "10", "--pretrained_tokenizers",
                     "st=../../other/exp/st", "--uslm_config", "conf/uslm.yaml",
                     "--uslm_codec_tags", "st")
    assert res.returncode != 0
    assert "dump/phn is missing or incomplete: run stage 9 first" in res.stderr


@pytest.mark.parametrize("entry, message", [
    ("base", "--pretrained_tokenizers takes TAG=EXP_DIR words"),
    ("base=nowhere", "--pretrained_tokenizers base=nowhere: nowhere is not a finished tokenizer "
                     "training (no nowhere/.done"),
    ("st=../../src", "--pretrained_tokenizers: the tag st is given twice"),  # conf/train_st.yaml's
])
def test_pretrained_tokenizers_are_checked_first(toy_recipe, run_recipe, tmp_path, entry, message):
    trained_tokenizer_exp(tmp_path / "src")
    (toy_recipe / "conf" / "train_st.yaml").write_text("task: codec\n")
    res = run_recipe(toy_recipe, "--pretrained_tokenizers", entry,
                     "--tokenizer_configs", "conf/train_st.yaml")
    assert res.returncode != 0
    assert message in res.stderr
    assert "Stage 1" not in res.stderr  # nothing ran


def test_pretrained_tokenizer_must_be_a_tokenizer_and_not_replace_one(toy_recipe, run_recipe,
                                                                      tmp_path):
    trained_tokenizer_exp(tmp_path / "uslm", task="uslm")
    res = run_recipe(toy_recipe, "--stage", "4", "--stop_stage", "4",
                     "--pretrained_tokenizers", f"st={tmp_path / 'uslm'}")
    assert res.returncode != 0
    assert f"{tmp_path / 'uslm'}/config.yaml is not a tokenizer's (task: codec)" in res.stderr
    # A tokenizer trained here under the same tag is never replaced by a link.
    trained_tokenizer_exp(toy_recipe / "exp" / "st")
    (toy_recipe / "exp" / "st" / ".done").write_text("trained here\n")
    res = run_recipe(toy_recipe, "--stage", "4", "--stop_stage", "4",
                     "--pretrained_tokenizers", f"st={trained_tokenizer_exp(tmp_path / 'src')}")
    assert res.returncode != 0
    assert "exp/st holds a tokenizer trained here; remove it or give the pretrained one another " \
           "tag" in res.stderr
    assert not (toy_recipe / "exp" / "st" / "config.yaml").is_symlink()


LIB_STEPS = r"""
set -euo pipefail
. scripts/utils/lib.sh
out=$1
begin_step "${out}" sig1 && echo "begin1 $?"
touch "${out}/part"
begin_step "${out}" sig1 && echo "begin2 keeps $(ls "${out}")"
end_step "${out}" sig1
begin_step "${out}" sig1 || echo "done $(ls -A "${out}" | tr '\n' ' ')"
begin_step "${out}" sig2 && echo "afresh $(ls -A "${out}" | tr '\n' ' ')"
"""


def test_lib_begin_and_end_step(template_dir, tmp_path):
    res = subprocess.run(["bash", "-c", LIB_STEPS, "lib", str(tmp_path / "step")],
                         cwd=template_dir, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["begin1 0", "begin2 keeps part", "done .done part ",
                                       "afresh .signature "]
    assert "resuming" in res.stderr


def test_yaml_get(template_dir, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("teacher: none\nquantizer_conf:\n  codebook_size: 1024\n  dims: [2, 4]\n")
    script = template_dir / "scripts/utils/yaml_get.py"

    def get(*args, stdin=None):
        return subprocess.run([sys.executable, str(script), *args], input=stdin,
                              capture_output=True, text=True)

    assert get(str(config), "quantizer_conf.codebook_size").stdout == "1024\n"
    assert get(str(config), "quantizer_conf.dims").stdout == "[2, 4]\n"
    assert get("-", "teacher", stdin=config.read_text()).stdout == "none\n"
    missing = get(str(config), "quantizer_conf.n_q")
    assert missing.returncode == 1 and "no key quantizer_conf.n_q" in missing.stderr
    assert get(str(config), "nope", "--default", "x").stdout == "x\n"


def test_collect_results(template_dir, tmp_path):
    def summary(name, metrics):
        path = tmp_path / f"{name}.yaml"
        path.write_text(json.dumps({"tag": name, "n_utt": 3, "scorers": {"asr": "whisper_tiny"},
                                    "metrics": {m: {"value": v} for m, v in metrics.items()}}))
        return str(path)

    stats = tmp_path / "usage.json"
    stats.write_text(json.dumps({"codebook_size": 16, "num_frames": 40, "levels": [
        {"level": 1, "perplexity": 5.25, "used_codes": 9},
        {"level": 2, "perplexity": 2.0, "used_codes": 3}]}))
    out = tmp_path / "results.md"
    res = subprocess.run(
        [sys.executable, str(template_dir / "scripts/codec/collect_results.py"), "--out", str(out),
         "--score", "test", "ground truth", summary("gt", {"wer": 4.5}),
         "--score", "test", "st RVQ-1:8", summary("st", {"wer": 12.345, "spk_sim": 0.91,
                                                         "stoi": 0.8, "pesq": 2.5, "mel": 0.75}),
         "--usage", "test", "st", str(stats)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    assert res.stdout == text
    assert "## test (3 utterances)" in text and "ASR: whisper_tiny" in text
    assert "| system | WER (%) | SIM | STOI | PESQ | mel distance |" in text
    assert "| ground truth | 4.50 | - | - | - | - |" in text
    assert "| st RVQ-1:8 | 12.35 | 0.910 | 0.800 | 2.50 | 0.750 |" in text
    assert "| st | 40 | 5.2 (9) | 2.0 (3) |" in text

    bad = tmp_path / "bad.yaml"
    bad.write_text("tag: x\n")
    res = subprocess.run([sys.executable, str(template_dir / "scripts/codec/collect_results.py"),
                          "--out", str(out), "--score", "test", "x", str(bad)],
                         capture_output=True, text=True)
    assert res.returncode == 1 and "not a summary.yaml of sptok.bin.score_audio" in res.stderr


def test_slmtokbench_make_config(template_dir, tmp_path):
    """The recipe's sources (codecs, units) with the YAML's entries merged in by name."""
    script = template_dir / "scripts/slmtokbench/make_config.py"
    conf = tmp_path / "bench.yaml"
    conf.write_text("max_utts: 5\nsources:\n"
                    "  - {name: units, label: HuBERT k-means 50, num_units: 50}\n"
                    "  - {name: st, label: SpeechTokenizer, role: main, levels: ['1', '1:4']}\n")
    out = tmp_path / "out.yaml"

    def make(*args):
        return subprocess.run([sys.executable, str(script), "--config", str(conf), "--out",
                               str(out), *args], capture_output=True, text=True)

    res = make("--codec", "st", "exp/st", "--codec", "base", "exp/base",
               "--units", "units", "f/train.scp", "f/test.scp", "--teacher", "exp/hubert",
               "--layer", "avg", "--vocoder", "exp/vocoder")
    assert res.returncode == 0, res.stderr
    config = yaml.safe_load(out.read_text())
    assert config["max_utts"] == 5
    assert [s["name"] for s in config["sources"]] == ["units", "st", "base"]
    units, st, base = config["sources"]
    assert units == {"name": "units", "label": "HuBERT k-means 50", "kind": "units",
                     "feats": {"train": "f/train.scp", "test": "f/test.scp"},
                     "teacher": "exp/hubert", "layer": "avg", "vocoder": "exp/vocoder",
                     "num_units": 50}
    assert st == {"name": "st", "label": "SpeechTokenizer", "kind": "codec", "model": "exp/st",
                  "role": "main", "levels": ["1", "1:4"]}
    assert base == {"name": "base", "label": "base", "kind": "codec", "model": "exp/base"}

    # A key the recipe sets, and a bad source, are named.
    conf.write_text("sources:\n  - {name: st, model: elsewhere}\n")
    res = make("--codec", "st", "exp/st")
    assert res.returncode == 1 and "sources[0] (st): ['model'] are set by the recipe" in res.stderr
    conf.write_text("sources:\n  - {name: st, role: boss}\n")
    res = make("--codec", "st", "exp/st")
    assert res.returncode == 1 and "role must be main or baseline" in res.stderr
    conf.write_text("max_utts: 5\n")
    res = make()
    assert res.returncode == 1 and "no token source" in res.stderr


@pytest.mark.parametrize("shipped", ["egs/mini_synth/conf/slmtokbench.yaml",
                                     "egs/TEMPLATE/conf/tuning/slmtokbench_paper.yaml"])
def test_shipped_slmtokbench_configs_are_valid(template_dir, repo_root, tmp_path, shipped):
    """The benchmark YAMLs we ship pass make_config.py's check once the recipe adds its sources
    (test_configs.py lists them as non-training configs and relies on this)."""
    out = tmp_path / "bench.yaml"
    res = subprocess.run(
        [sys.executable, str(template_dir / "scripts/slmtokbench/make_config.py"),
         "--config", str(repo_root / shipped), "--out", str(out),
         "--codec", "speechtokenizer", "exp/speechtokenizer", "--codec", "baseline", "exp/baseline",
         "--units", "hubert_km", "f/train.scp", "f/test.scp", "--teacher", "exp/hubert",
         "--layer", "avg", "--vocoder", "exp/vocoder"],
        capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    names = [s["name"] for s in yaml.safe_load(out.read_text())["sources"]]
    assert sorted(names) == ["baseline", "hubert_km", "speechtokenizer"]


def test_uslm_collect_results(template_dir, tmp_path):
    def summary(name, wer, sim):
        path = tmp_path / f"{name}.yaml"
        path.write_text(json.dumps({"tag": name, "n_utt": 4, "scorers": {
            "asr": "whisper_tiny", "spk_model": "resemblyzer"}, "metrics": {
            "wer": {"value": wer}, "spk_sim": {"value": sim}}}))
        return str(path)

    out = tmp_path / "uslm_results.md"
    script = template_dir / "scripts/uslm/collect_results.py"
    res = subprocess.run(
        [sys.executable, str(script), "--out", str(out), "--prompt_seconds", "3",
         "--score", "test", "ground truth", summary("gt", 4.5, 0.9),
         "--score", "test", "USLM (st tokens)", summary("st", 50.123, 0.61),
         "--score", "test", "VALL-E-style (base tokens)", summary("base", 60.0, 0.55)],
        capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    assert res.stdout == text
    assert "## test (4 utterances)" in text and "3 s prompt" in text
    assert "(whisper_tiny)" in text and "(resemblyzer)" in text
    assert "| system | WER (%) | SIM |\n|---|---:|---:|\n| ground truth | 4.50 | 0.900 |\n" \
           "| USLM (st tokens) | 50.12 | 0.610 |\n| VALL-E-style (base tokens) | 60.00 | 0.550 |" \
        in text
    assert "| USLM (SpeechTokenizer tokens) | 6.5 | 0.84 | 3.63 | 3.45 |" in text  # the paper

    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({"metrics": {"wer": {"value": 1.0}}}))
    res = subprocess.run([sys.executable, str(script), "--out", str(out), "--score", "test", "x",
                          str(bad)], capture_output=True, text=True)
    assert res.returncode == 1 and "no spk_sim among its metrics" in res.stderr
