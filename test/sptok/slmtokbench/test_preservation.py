"""Information preservation: resynthesis from chosen levels of a tiny random codec, scored by
the (fake) ASR and speaker model and by STOI / PESQ / mel against the original."""
import numpy as np
import pytest

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import read_kv_file
from sptok.slmtokbench.preservation import (CodecResynthesis, EvalSet, GroundTruth, ScorerSet,
                                            encode_batch, load_codec, read_summary,
                                            run_preservation)


@pytest.fixture
def data(tmp_path, bench_kit):
    bench_kit.write_data_dir(tmp_path / "test", {"spkA": 2, "spkB": 2})
    return EvalSet.from_data_dir(tmp_path / "test")


@pytest.fixture
def scorers(bench_kit):
    return ScorerSet(**bench_kit.fake_scorers_conf(["wer", "spk_sim", "stoi", "pesq", "mel"]))


@pytest.fixture
def tokenizer(tmp_path, bench_kit):
    return load_codec(bench_kit.tiny_codec_exp(tmp_path / "codec"))


def test_bypassing_the_codec_gives_perfect_signal_scores(data, scorers, tmp_path):
    out = tmp_path / "gt"
    summary = run_preservation(GroundTruth(), data, scorers, out, batch_size=3,
                               progress=False)
    metrics = summary["metrics"]
    assert set(metrics) == {"wer", "spk_sim", "stoi", "pesq", "mel"}
    assert metrics["stoi"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["mel"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["spk_sim"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["pesq"]["value"] > 4.5
    assert metrics["wer"]["n_utt"] == 4 and summary["n_utt"] == 4
    # the finished run is on disk: summary last, audio, per-utterance rows
    assert read_summary(out)["metrics"]["stoi"]["value"] == metrics["stoi"]["value"]
    assert sorted(read_kv_file(out / "wav.scp")) == data.keys
    lines = (out / "results.tsv").read_text().splitlines()
    assert len(lines) == 5 and "stoi" in lines[0].split("\t")


def test_codec_rows_resynthesise_the_chosen_levels(data, scorers, tokenizer, tmp_path):
    summaries = {}
    for levels in ("1", "1:3", "2:3"):
        resynth = CodecResynthesis(tokenizer, levels)
        summaries[levels] = run_preservation(resynth, data, scorers, tmp_path / levels,
                                             progress=False, info={"levels": levels})
    for levels, summary in summaries.items():
        assert set(summary["metrics"]) == {"wer", "spk_sim", "stoi", "pesq", "mel"}
        assert summary["levels"] == levels and summary["name"] == f"RVQ-{levels}"
        assert summary["n_utt"] == len(data.keys)
        assert 0.0 <= summary["metrics"]["stoi"]["value"] < 1.0
        assert summary["metrics"]["mel"]["value"] > 0.0
    # every output has the original's length, and the levels change the audio
    key = data.keys[0]
    original = data.load(key, 16000)
    outputs = {}
    for levels in summaries:
        import soundfile as sf

        wav, rate = sf.read(read_kv_file(tmp_path / levels / "wav.scp")[key], dtype="float32")
        assert rate == 16000 and wav.shape == original.shape
        outputs[levels] = wav
    assert not np.allclose(outputs["1"], outputs["1:3"])


def test_stored_codes_give_the_same_audio_as_encoding(data, tokenizer):
    keys = data.keys[:3]
    wavs = [data.load(k, 16000) for k in keys]
    stored = {k: c.T for k, c in zip(keys, encode_batch(tokenizer, wavs))}  # [T, n_q] layout
    assert all(c.shape[1] == 3 and c.max() < 4 for c in stored.values())
    from_codes = CodecResynthesis(tokenizer, "1:2", stored)(keys, wavs)
    from_audio = CodecResynthesis(tokenizer, "1:2")(keys, wavs)
    for a, b in zip(from_codes, from_audio):
        np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(DataError, match="no codes"):
        CodecResynthesis(tokenizer, "1", {})(keys[:1], wavs[:1])


def test_bad_levels_and_data_are_named(data, tokenizer, tmp_path):
    with pytest.raises(ValueError, match="only 3 level"):
        CodecResynthesis(tokenizer, "1:8")
    (tmp_path / "test" / "text").write_text("spkA_000 RED\n")
    with pytest.raises(DataError, match="no transcript"):
        EvalSet.from_data_dir(tmp_path / "test")


def test_subsets_are_seeded(tmp_path, bench_kit):
    bench_kit.write_data_dir(tmp_path / "d", {"a": 5, "b": 5})
    first = EvalSet.from_data_dir(tmp_path / "d", max_utts=4, seed=3)
    again = EvalSet.from_data_dir(tmp_path / "d", max_utts=4, seed=3)
    assert first.keys == again.keys and len(first.keys) == 4
    assert first.keys == sorted(first.keys)
    assert len(EvalSet.from_data_dir(tmp_path / "d").keys) == 10
