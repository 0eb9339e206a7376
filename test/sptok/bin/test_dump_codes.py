"""dump_codes (codes of a wav.scp, batched, resumable) and codebook_stats on its output."""
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))
from tiny_codecs import make_exp_dir  # noqa: E402

from sptok import SpeechTokenizer  # noqa: E402
from sptok.bin import codebook_stats, dump_codes  # noqa: E402
from sptok.data.ark import CodesReader  # noqa: E402

SECONDS = {"utt_a": 0.3, "utt_b": 0.11, "utt_c": 0.52}


@pytest.fixture(autouse=True)
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_wav_scp(root: Path) -> Path:
    """Three utterances: two files, one through a pipe."""
    rng = np.random.default_rng(0)
    lines = []
    for key, seconds in SECONDS.items():
        path = root / "wav" / f"{key}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, 0.3 * rng.standard_normal(int(seconds * 16000)), 16000)
        lines.append(f"{key} cat {path} |" if key == "utt_b" else f"{key} {path}")
    wav_scp = root / "wav.scp"
    wav_scp.write_text("\n".join(lines) + "\n")
    return wav_scp


@pytest.fixture
def setup(tmp_path):
    return make_exp_dir(tmp_path), make_wav_scp(tmp_path), tmp_path / "out" / "codes.1"


def run_dump(exp, wav_scp, prefix, *extra):
    return dump_codes.main(["--model", str(exp), "--wav_scp", str(wav_scp),
                            "--out_prefix", str(prefix), *extra])


def read_codes(prefix):
    with CodesReader(f"{prefix}.scp") as reader:
        return {key: reader[key] for key in reader}


@pytest.mark.parametrize("batch_seconds", ["60", "0.2"])
def test_codes_equal_single_utterance_encoding(setup, batch_seconds):
    exp, wav_scp, prefix = setup
    assert run_dump(exp, wav_scp, prefix, "--batch_seconds", batch_seconds) == 0
    codes = read_codes(prefix)
    assert list(codes) == list(SECONDS)  # wav.scp order
    tokenizer = SpeechTokenizer.from_pretrained(exp)
    for key, seconds in SECONDS.items():
        wav, _ = sf.read(wav_scp.parent / "wav" / f"{key}.wav", dtype="float32")
        expected, _ = tokenizer.encode(torch.from_numpy(wav))
        assert codes[key].dtype == np.int64
        assert codes[key].shape == (-(-len(wav) // 320), 3)
        np.testing.assert_array_equal(codes[key], expected[0].T.numpy())


def test_n_q_and_resume(setup, caplog):
    exp, wav_scp, prefix = setup
    assert run_dump(exp, wav_scp, prefix, "--n_q", "2") == 0
    full = read_codes(prefix)
    assert all(c.shape[1] == 2 for c in full.values())
    mtime = os.stat(f"{prefix}.ark").st_mtime_ns
    with caplog.at_level(logging.INFO, logger="dump_codes"):
        assert run_dump(exp, wav_scp, prefix, "--n_q", "2") == 0
    assert "complete output exists" in caplog.text
    assert os.stat(f"{prefix}.ark").st_mtime_ns == mtime  # not redone
    # another n_q, or an scp that misses a key, is not a finished job
    assert run_dump(exp, wav_scp, prefix) == 0
    assert all(c.shape[1] == 3 for c in read_codes(prefix).values())
    scp = Path(f"{prefix}.scp")
    scp.write_text("".join(scp.read_text().splitlines(keepends=True)[:2]))
    assert run_dump(exp, wav_scp, prefix) == 0
    assert list(read_codes(prefix)) == list(SECONDS)


def test_bad_input_is_reported(setup, capsys):
    exp, wav_scp, prefix = setup
    bad_scp = wav_scp.parent / "bad.scp"
    bad_scp.write_text(wav_scp.read_text() + "utt_d /nonexistent/utt_d.wav\n")
    assert run_dump(exp, bad_scp, prefix) == 1
    err = capsys.readouterr().err
    assert "bad.scp" in err and "utt_d" in err and "not found" in err
    assert not Path(f"{prefix}.scp").exists() and not Path(f"{prefix}.ark").exists()
    assert run_dump(exp, wav_scp, prefix, "--n_q", "4") == 1
    assert "--n_q 4" in capsys.readouterr().err


def test_official_release_model(tmp_path, official_release_dir):
    wav_scp = make_wav_scp(tmp_path)
    prefix = tmp_path / "codes"
    assert run_dump(official_release_dir, wav_scp, prefix) == 0
    assert set(read_codes(prefix)) == set(SECONDS)


@pytest.fixture
def official_release_dir(tmp_path):
    import tiny_codecs

    tiny_codecs.make_official_release(tiny_codecs.load_official_class(), tmp_path / "release")
    return tmp_path / "release"


# --- codebook_stats ---------------------------------------------------------------------------

def test_codebook_stats(setup, capsys):
    exp, wav_scp, prefix = setup
    assert run_dump(exp, wav_scp, prefix) == 0
    capsys.readouterr()
    out = prefix.parent / "stats.json"
    assert codebook_stats.main(["--codes_scp", f"{prefix}.scp", "--codebook_size", "4",
                                "--out", str(out)]) == 0
    table = capsys.readouterr().out
    stats = json.loads(out.read_text())
    assert (prefix.parent / "stats.md").read_text() == table
    codes = np.concatenate(list(read_codes(prefix).values()))  # [frames, 3]
    assert stats["num_utterances"] == 3 and stats["num_frames"] == codes.shape[0]
    assert [level["level"] for level in stats["levels"]] == [1, 2, 3]
    for level, row in zip(stats["levels"], codes.T):
        probs = np.bincount(row, minlength=4) / len(row)
        nonzero = probs[probs > 0]
        assert level["used_codes"] == len(nonzero)
        assert level["perplexity"] == pytest.approx(np.exp(-(nonzero * np.log(nonzero)).sum()))
        assert level["top_code_share"] == pytest.approx(probs.max())
        assert f"| {level['level']} | {level['perplexity']:.1f} |" in table


def test_codebook_stats_refuses_codes_beyond_the_codebook(setup, capsys):
    exp, wav_scp, prefix = setup
    assert run_dump(exp, wav_scp, prefix) == 0
    assert codebook_stats.main(["--codes_scp", f"{prefix}.scp", "--codebook_size", "1",
                                "--out", str(prefix.parent / "stats")]) == 1
    assert "--codebook_size" in capsys.readouterr().err
