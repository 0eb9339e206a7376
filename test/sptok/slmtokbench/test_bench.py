"""The SLMTokBench command line end to end on a tiny setup: a random codec, HuBERT-style units
with a unit vocoder, user codes; every step, caching and forced reruns, config errors."""
import logging
from pathlib import Path

import pytest
import yaml

from sptok.data.kaldi_dir import read_kv_file
from sptok.slmtokbench.bench import main, parse_steps
from sptok.slmtokbench.bench_config import resolve
from sptok.utils.config import ConfigError


def base_config(scorers: dict, sources: list) -> dict:
    return dict(scorers, max_utts=4, device="cpu", batch_size=3, progress=False,
                text_alignment={"hidden_size": 8, "num_layers": 1, "max_epochs": 1,
                                "batch_size": 4, "device": "cpu", "mi_batch_size": 4},
                voice_conversion={"pairs": 2, "k": [2, 3, 8]},
                projection={"per_speaker": 2}, report={"title": "tiny bench", "examples": 1},
                sources=sources)


def write_yaml(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def test_benchmark_end_to_end(tmp_path, caplog, capsys, bench_kit):
    train = bench_kit.write_data_dir(tmp_path / "train", {"spkA": 3, "spkB": 3}, seed=1)
    test = bench_kit.write_data_dir(tmp_path / "test", {"spkA": 2, "spkB": 2, "spkC": 2},
                                    seed=2)
    codec = bench_kit.tiny_codec_exp(tmp_path / "codec")
    teacher = bench_kit.tiny_teacher(tmp_path / "teacher.pt")
    out = tmp_path / "bench"
    codec_source = {"name": "tiny", "label": "Tiny codec", "kind": "codec", "model": str(codec),
                    "role": "main"}
    units_source = {"name": "hubert", "label": "HuBERT units", "kind": "units",
                    "teacher": str(teacher), "layer": 1, "num_units": 4}
    args = ["--data_dir", str(test), "--train_data_dir", str(train), "--out_dir", str(out)]

    # 1. tokens only: codec codes, teacher features, k-means units
    scorers = bench_kit.fake_scorers_conf()
    conf = write_yaml(tmp_path / "step1.yaml", base_config(scorers, [codec_source, units_source]))
    assert main(["--sources", str(conf), "--steps", "tokens"] + args) == 0
    for source in ("tiny", "hubert"):
        for set_name, data in (("train", train), ("test", test)):
            scp = out / "tokens" / source / set_name / "codes.scp"
            assert sorted(read_kv_file(scp)) == sorted(read_kv_file(data / "wav.scp"))
    assert (out / "tokens" / "hubert" / "kmeans.pt").is_file()
    assert not (out / "text_alignment").exists()

    # 2. a unit vocoder of those units, user codes (the codec's, with an info file): every step
    vocoder = bench_kit.unit_vocoder_exp(tmp_path / "vocoder", teacher,
                                         out / "tokens/hubert/kmeans.pt")
    info = write_yaml(tmp_path / "info.yaml", {
        "n_q": 3, "codebook_size": 4, "frame_rate": 50,
        "codebooks": str(out / "tokens/tiny/codebooks.pt")})
    user_source = {"name": "user", "label": "User codes", "kind": "codes",
                   "codes": {s: str(out / f"tokens/tiny/{s}/codes.scp") for s in ("train", "test")},
                   "info": str(info), "levels": ["1"], "decoder": str(codec),
                   "voice_conversion": False, "projection": False}
    units_source["vocoder"] = str(vocoder)
    conf = write_yaml(tmp_path / "all.yaml", base_config(scorers, [codec_source, units_source,
                                                                   user_source]))
    caplog.set_level(logging.INFO)
    assert main(["--sources", str(conf)] + args) == 0
    assert "tokens tiny/train: cached" in caplog.text
    assert "k [8] exceed its 3 levels" in caplog.text

    rows = ["ground_truth", "tiny_rvq1", "tiny_rvq1-3", "hubert", "user_rvq1"]
    for row in rows[1:]:
        results = yaml.safe_load((out / "text_alignment" / row / "results.yaml").read_text())
        assert {"wer", "mi_mean"} <= set(results["results"]["test"])
    for row in rows:
        summary = yaml.safe_load((out / "preservation" / row / "summary.yaml").read_text())
        assert summary["n_utt"] == 4
        assert set(summary["metrics"]) == {"wer", "spk_sim", "stoi", "mel"}
    for k in (2, 3):
        summary = yaml.safe_load((out / "voice_conversion/tiny" / f"k{k}" / "summary.yaml")
                                 .read_text())
        assert summary["n_pairs"] == 2 and "spk_sim_source" in summary["metrics"]
    assert not (out / "voice_conversion/tiny/k8").exists()
    assert (out / "projection/tiny/projection.png").is_file()

    md = (out / "results.md").read_text()
    assert "| tokens | MI | WER text-align (%) | WER resynth (%) | SIM | STOI | PESQ |" in md
    for label in ("ground truth", "Tiny codec RVQ-1", "Tiny codec RVQ-1:3", "HuBERT units",
                  "User codes RVQ-1"):
        assert f"| {label} |" in md
    table = md.split("## Token benchmark")[1].split("##")[0]
    codec_row = next(line for line in table.splitlines() if line.startswith("| Tiny codec RVQ-1 |"))
    cells = [c.strip() for c in codec_row.strip("|").split("|")]
    assert all(c != "-" for c in cells[1:6]) and cells[6] == "-"  # PESQ not measured
    assert "RVQ-1 + ref RVQ-2:3" in md and "1-NN speaker accuracy" in md
    html = (out / "report" / "report.html").read_text()
    assert html.count("<audio ") >= 1 + 4 + 1  # original, 4 resynthesised rows, VC reference
    assert (out / "results.yaml").is_file() and (out / "config.yaml").is_file()

    # 3. a rerun reuses everything; --force recomputes one step
    stamp = (out / "preservation/tiny_rvq1/summary.yaml").stat().st_mtime_ns
    ta_stamp = (out / "text_alignment/tiny_rvq1/results.yaml").stat().st_mtime_ns
    caplog.clear()
    assert main(["--sources", str(conf)] + args) == 0
    assert "preservation Tiny codec RVQ-1: cached" in caplog.text
    assert (out / "preservation/tiny_rvq1/summary.yaml").stat().st_mtime_ns == stamp
    assert main(["--sources", str(conf), "--steps", "preservation,report", "--force",
                 "preservation"] + args) == 0
    assert (out / "preservation/tiny_rvq1/summary.yaml").stat().st_mtime_ns != stamp
    assert (out / "text_alignment/tiny_rvq1/results.yaml").stat().st_mtime_ns == ta_stamp

    # 4. retrained weights do not silently mix with the cached results
    bench_kit.tiny_codec_exp(codec, seed=1)
    capsys.readouterr()
    assert main(["--sources", str(conf), "--steps", "tokens"] + args) == 1
    assert "source 'tiny': the model weights changed" in capsys.readouterr().err


def test_config_errors_are_named(tmp_path, capsys, bench_kit):
    test = bench_kit.write_data_dir(tmp_path / "test", {"a": 1, "b": 1})
    good = {"name": "c", "kind": "codec", "model": "exp/x"}
    config = base_config(bench_kit.fake_scorers_conf(), [good])
    resolved = resolve(dict(config, data_dir=str(test)))
    assert resolved["voice_conversion"]["frames"] == "tile"
    assert resolved["text_alignment"]["hidden_size"] == 8
    with pytest.raises(ConfigError, match=r"sources\[0\] \(c\): unknown key\(s\) \['levls'\]"):
        resolve(dict(config, data_dir=str(test), sources=[dict(good, levls=["1"])]))
    with pytest.raises(ConfigError, match="kind must be one of"):
        resolve(dict(config, data_dir=str(test), sources=[dict(good, kind="wav")]))
    with pytest.raises(ConfigError, match="codes.train: '.*missing.scp' not found"):
        resolve(dict(config, data_dir=str(test), sources=[{
            "name": "u", "kind": "codes", "info": {}, "codes": {
                "train": str(tmp_path / "missing.scp"), "test": str(tmp_path / "missing.scp")}}]))
    with pytest.raises(ConfigError, match="data_dir"):
        resolve(config)
    with pytest.raises(ConfigError, match="unknown step"):
        parse_steps("tokens,decode", "--steps")
    conf = write_yaml(tmp_path / "c.yaml", config)
    assert main(["--sources", str(conf), "--data_dir", str(test), "--out_dir",
                 str(tmp_path / "o"), "--voice_conversion.frames", "stretch"]) == 1
    assert "frames: 'stretch' is not one of ['tile', 'crop']" in capsys.readouterr().err
    assert main(["--sources", str(conf), "--data_dir", str(test), "--out_dir",
                 str(tmp_path / "o"), "--print_config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["asr"] == "fake_asr" and printed["max_utts"] == 4
