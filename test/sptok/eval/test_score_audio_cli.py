"""python -m sptok.bin.score_audio on three tiny utterances: outputs, prompts, key errors."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf
import yaml

from sptok.bin.score_audio import main

pytest.importorskip("faster_whisper")
pytest.importorskip("resemblyzer")
pytest.importorskip("pesq")

KEYS = ("utt1", "utt2", "utt3")
SIDS = ("s1", "s2", "s3")


@pytest.fixture(scope="module")
def data(tmp_path_factory, synth, load_wav, references):
    """ref: slt; hyp: utt1 identical, utt2 with noise, utt3 a few samples longer; awb copies."""
    root = tmp_path_factory.mktemp("score_cli")
    rng = np.random.default_rng(0)
    ref_lines, hyp_lines, awb_lines, prompt_lines, text_lines = [], [], [], [], []
    for key, sid in zip(KEYS, SIDS):
        ref_path = synth("slt", sid)
        wav = load_wav(ref_path)
        if key == "utt2":
            wav = wav + 0.02 * rng.standard_normal(wav.shape[0]).astype(np.float32)
        if key == "utt3":
            wav = np.concatenate([wav, np.zeros(160, np.float32)])
        hyp_path = root / f"hyp_{key}.wav"
        sf.write(str(hyp_path), wav, 16000)
        ref_lines.append(f"{key} {ref_path}")
        hyp_lines.append(f"{key} {hyp_path}")
        awb_lines.append(f"{key} {synth('awb', sid)}")
        prompt_lines.append(f"{key} {synth('slt', 's4')}")
        text_lines.append(f"{key} {references[sid].upper()}")
    for name, lines in (("ref.scp", ref_lines), ("hyp.scp", hyp_lines), ("awb.scp", awb_lines),
                        ("prompt.scp", prompt_lines), ("text", text_lines)):
        (root / name).write_text("\n".join(lines) + "\n")
    return root


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_all_metrics(data, capsys):
    out = data / "score"
    rc = main(["--ref_scp", str(data / "ref.scp"), "--hyp_scp", str(data / "hyp.scp"),
               "--text", str(data / "text"), "--metrics", "wer,cer,spk_sim,stoi,pesq,mel",
               "--asr", "whisper_tiny", "--asr_conf", "{cpu_threads: 2}", "--batch_size", "2",
               "--out_dir", str(out), "--tag", "mytag"])
    assert rc == 0, capsys.readouterr().err
    rows = {r["key"]: r for r in read_tsv(out / "results.tsv")}
    assert list(rows) == list(KEYS)
    header = list(rows["utt1"])
    assert header[:2] == ["key", "wer"] and header[-3:] == ["ref_text", "asr_text", "asr_raw"]
    assert float(rows["utt1"]["stoi"]) == pytest.approx(1.0, abs=1e-5)
    assert float(rows["utt1"]["mel"]) == 0.0 and float(rows["utt3"]["mel"]) == 0.0
    assert float(rows["utt1"]["pesq"]) > 4.5 > float(rows["utt2"]["pesq"])
    assert float(rows["utt2"]["stoi"]) < float(rows["utt1"]["stoi"])
    assert float(rows["utt1"]["spk_sim"]) == pytest.approx(1.0, abs=1e-5)

    summary = yaml.safe_load((out / "summary.yaml").read_text())
    assert summary["n_utt"] == 3 and summary["tag"] == "mytag"
    assert summary["metrics"]["wer"]["value"] < 25.0
    assert summary["metrics"]["wer"]["ref_len"] == sum(int(r["wer_ref_len"])
                                                       for r in rows.values())
    assert summary["scorers"]["asr"] == "whisper_tiny"
    assert summary["scorers"]["asr_conf"]["cpu_threads"] == 2
    assert summary["scorers"]["spk_model"] == "resemblyzer"
    for name in ("asr", "spk", "signal"):
        assert summary["timing"][name]["rtf"] > 0
    table = (out / "summary.md").read_text().splitlines()
    assert table[0].startswith("| tag | utts | WER (%) | CER (%) | SIM | STOI | PESQ |")
    assert table[2].startswith("| mytag | 3 |")
    asr_text = (out / "text_asr").read_text().splitlines()
    assert [line.split()[0] for line in asr_text] == list(KEYS)
    assert not list(out.glob(".*tmp*"))  # atomic writes leave no temporary files


def test_speaker_prompts(data, capsys):
    """Voice-conversion style: awb speech against slt prompts scores lower than slt speech."""
    sims = {}
    for name in ("hyp", "awb"):
        out = data / f"spk_{name}"
        rc = main(["--hyp_scp", str(data / f"{name}.scp"), "--spk_ref_scp",
                   str(data / "prompt.scp"), "--metrics", "spk_sim", "--out_dir", str(out)])
        assert rc == 0, capsys.readouterr().err
        sims[name] = yaml.safe_load((out / "summary.yaml").read_text())["metrics"]["spk_sim"]
        assert not (out / "text_asr").exists()
    assert sims["hyp"]["value"] > sims["awb"]["value"] + 0.15


def test_missing_keys_are_named(data, tmp_path, capsys):
    hyp = tmp_path / "hyp.scp"
    hyp.write_text((data / "hyp.scp").read_text() + f"utt4 {data / 'hyp_utt1.wav'}\n")
    args = ["--ref_scp", str(data / "ref.scp"), "--hyp_scp", str(hyp), "--metrics", "stoi,mel"]
    assert main(args + ["--out_dir", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert "1 of the 4 keys" in err and "utt4" in err and "--ref_scp" in err
    assert not (tmp_path / "a").exists()
    assert main(args + ["--out_dir", str(tmp_path / "b"), "--allow_missing", "true"]) == 0
    assert [r["key"] for r in read_tsv(tmp_path / "b" / "results.tsv")] == list(KEYS)


def test_bad_options_and_lengths(data, tmp_path, capsys):
    base = ["--hyp_scp", str(data / "hyp.scp"), "--out_dir", str(tmp_path / "x")]
    assert main(base + ["--metrics", "wer"]) == 1
    assert "need --text" in capsys.readouterr().err
    assert main(base + ["--metrics", "pesq"]) == 1
    assert "need --ref_scp" in capsys.readouterr().err
    assert main(base + ["--metrics", "wer,blue"]) == 1
    assert "unknown metric" in capsys.readouterr().err
    assert main(base + ["--metrics", "spk_sim", "--ref_scp", str(data / "ref.scp"),
                        "--spk_model", "resemblizer"]) == 1
    assert "did you mean 'resemblyzer'" in capsys.readouterr().err
    # utt1 of awb.scp is not the same length as the reference: a mismatched pairing
    assert main(["--hyp_scp", str(data / "awb.scp"), "--ref_scp", str(data / "ref.scp"),
                 "--metrics", "stoi", "--max_length_diff", "0.01",
                 "--out_dir", str(tmp_path / "y")]) == 1
    err = capsys.readouterr().err
    assert "key 'utt1'" in err and "--max_length_diff" in err
