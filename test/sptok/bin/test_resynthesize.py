"""resynthesize: codes -> wav files + wav.scp, level ranges, trimming, errors."""
import argparse
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))
from tiny_codecs import make_exp_dir  # noqa: E402

from sptok import SpeechTokenizer  # noqa: E402
from sptok.bin import resynthesize  # noqa: E402
from sptok.data.ark import CodesWriter  # noqa: E402
from sptok.data.kaldi_dir import read_kv_file  # noqa: E402
from sptok.inference.cli_utils import parse_levels  # noqa: E402

NUM_SAMPLES = {"utt_a": 4800, "utt_b": 1700, "utt_c": 8320}
PCM16_STEP = 1 / 32768


@pytest.fixture(autouse=True)
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def setup(tmp_path):
    """(exp dir, tokenizer, codes scp of three utterances, their codes [n_q, T])."""
    exp = make_exp_dir(tmp_path)
    tokenizer = SpeechTokenizer.from_pretrained(exp)
    rng = np.random.default_rng(0)
    codes = {}
    with CodesWriter(tmp_path / "codes.ark", tmp_path / "codes.scp") as writer:
        for key, samples in NUM_SAMPLES.items():
            wav = torch.from_numpy(0.3 * rng.standard_normal(samples).astype(np.float32))
            codes[key] = tokenizer.encode(wav)[0][0]
            writer[key] = codes[key].T.numpy()
    return exp, tokenizer, tmp_path / "codes.scp", codes


def run(exp, codes_scp, out_dir, *extra):
    return resynthesize.main(["--model", str(exp), "--codes_scp", str(codes_scp),
                              "--out_dir", str(out_dir), *extra])


@pytest.mark.parametrize("levels, first, end", [(None, 0, 3), ("1", 0, 1), ("2:3", 1, 3),
                                                ("1:2", 0, 2)])
def test_wav_files_and_scp(setup, tmp_path, levels, first, end):
    exp, tokenizer, codes_scp, codes = setup
    out_dir = tmp_path / "resynth"
    extra = ["--levels", levels] if levels else []
    assert run(exp, codes_scp, out_dir, *extra, "--batch_seconds", "0.3") == 0
    scp = read_kv_file(out_dir / "wav.scp")
    assert list(scp) == sorted(NUM_SAMPLES)
    for key, item in codes.items():
        audio, rate = sf.read(scp[key], dtype="float32")
        assert rate == 16000
        expected, _ = tokenizer.decode(item[first:end], start_level=first)
        expected = expected[0, 0].clamp(-1, 1).numpy()
        assert audio.shape == expected.shape == (item.shape[1] * 320,)
        np.testing.assert_allclose(audio, expected, atol=PCM16_STEP, rtol=0)


def test_utt2num_samples_trims_and_out_scp(setup, tmp_path):
    exp, _, codes_scp, _ = setup
    utt2num_samples = tmp_path / "utt2num_samples"
    utt2num_samples.write_text("".join(f"{k} {n}\n" for k, n in NUM_SAMPLES.items()))
    out_scp = tmp_path / "scps" / "wav.1.scp"
    assert run(exp, codes_scp, tmp_path / "out", "--utt2num_samples", str(utt2num_samples),
               "--out_scp", str(out_scp)) == 0
    assert not (tmp_path / "out" / "wav.scp").exists()
    for key, path in read_kv_file(out_scp).items():
        assert sf.info(path).frames == NUM_SAMPLES[key]


def test_errors(setup, tmp_path, capsys):
    exp, _, codes_scp, _ = setup
    assert run(exp, codes_scp, tmp_path / "out", "--levels", "2:5") == 1
    assert "only 3 levels stored" in capsys.readouterr().err
    utt2num_samples = tmp_path / "utt2num_samples"
    utt2num_samples.write_text("utt_a 4800\n")
    assert run(exp, codes_scp, tmp_path / "out", "--utt2num_samples", str(utt2num_samples)) == 1
    assert "missing" in capsys.readouterr().err
    assert not (tmp_path / "out" / "wav.scp").exists()


def test_levels_beyond_the_model_are_refused(setup, tmp_path, capsys):
    exp, _, _, _ = setup
    with CodesWriter(tmp_path / "c.ark", tmp_path / "c.scp") as writer:
        writer["utt"] = np.zeros((4, 4), dtype=np.int64)  # 4 levels, the model has 3
    assert run(exp, tmp_path / "c.scp", tmp_path / "out") == 1
    assert "hold 4 levels" in capsys.readouterr().err


@pytest.mark.parametrize("spec, expected", [("1:8", (0, 8)), ("1", (0, 1)), ("2:8", (1, 8)),
                                            ("3:3", (2, 3))])
def test_parse_levels(spec, expected):
    assert parse_levels(spec) == expected


@pytest.mark.parametrize("spec", ["0:2", "3:2", "a", "1:2:3", ""])
def test_parse_levels_refuses(spec):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_levels(spec)
