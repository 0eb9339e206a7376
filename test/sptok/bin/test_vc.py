"""sptok.bin.vc: the output is the codec's decode of source RVQ-1 + reference levels 2..k."""
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))
from tiny_codecs import make_exp_dir  # noqa: E402

from sptok import SpeechTokenizer  # noqa: E402
from sptok.bin import vc  # noqa: E402
from sptok.data.audio import load_audio  # noqa: E402
from sptok.slmtokbench.disentangle import swap_levels  # noqa: E402

RATE = 16000
PCM16_STEP = 1 / 32768


@pytest.fixture(autouse=True)
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("vc")
    exp = make_exp_dir(root)
    rng = np.random.default_rng(0)
    source, reference = root / "source.wav", root / "reference.wav"
    sf.write(source, (0.3 * rng.standard_normal(9000)).astype(np.float32), RATE)
    sf.write(reference, (0.3 * rng.standard_normal(4000)).astype(np.float32), RATE)
    return exp, source, reference


def expected(exp, source, reference, k, policy="tile"):
    codec = SpeechTokenizer.from_pretrained(exp)
    src = load_audio(str(source), RATE)
    ref = load_audio(str(reference), RATE)
    codes = swap_levels(codec.encode(torch.from_numpy(src))[0][0].numpy(),
                        codec.encode(torch.from_numpy(ref))[0][0].numpy(), k, policy)
    wav, _ = codec.decode(torch.from_numpy(codes))
    return wav[0, 0, :len(src)].numpy(), codes


@pytest.mark.parametrize("levels, k", [("2:3", 3), ("2", 2), ("1", 1)])
def test_output_is_the_decode_of_the_swapped_codes(setup, tmp_path, levels, k):
    exp, source, reference = setup
    out = tmp_path / "vc.wav"
    assert vc.main(["--codec", str(exp), "--source", str(source), "--reference",
                    str(reference), "--levels", levels, "--out", str(out)]) == 0
    wav, rate = sf.read(out, dtype="float32")
    want, codes = expected(exp, source, reference, k)
    assert rate == RATE and wav.shape == (9000,) and codes.shape[0] == k
    np.testing.assert_allclose(wav, np.clip(want, -1, 1), atol=PCM16_STEP)
    # convert() returns the codes it decoded: the reference's levels, not the source's
    codec = SpeechTokenizer.from_pretrained(exp)
    src = load_audio(str(source), RATE)
    _, used = vc.convert(codec, src, load_audio(str(reference), RATE), k)
    np.testing.assert_array_equal(used, codes)
    own = codec.encode(torch.from_numpy(src))[0][0].numpy()
    np.testing.assert_array_equal(used[0], own[0])
    if k > 1:
        assert not np.array_equal(used[1:], own[1:k])


def test_reference_frames_tiled_or_cropped(setup, tmp_path, capsys):
    exp, source, reference = setup
    out = tmp_path / "vc.wav"
    # the reference (4000 samples) is shorter than the source (9000): crop cannot fit it
    assert vc.main(["--codec", str(exp), "--source", str(source), "--reference",
                    str(reference), "--levels", "2:3", "--frames", "crop",
                    "--out", str(out)]) == 1
    assert "crop: the reference has 13 frames, fewer than the source's 29" in \
        capsys.readouterr().err
    assert not out.exists()
    assert vc.main(["--codec", str(exp), "--source", str(reference), "--reference",
                    str(source), "--levels", "2:3", "--frames", "crop", "--out", str(out)]) == 0
    want, _ = expected(exp, reference, source, 3, "crop")
    np.testing.assert_allclose(sf.read(out, dtype="float32")[0], np.clip(want, -1, 1),
                               atol=PCM16_STEP)


def test_bad_levels_and_rates(setup, tmp_path, capsys):
    exp, source, reference = setup
    out = tmp_path / "vc.wav"
    base = ["--codec", str(exp), "--source", str(source), "--reference", str(reference),
            "--out", str(out)]
    assert vc.main([*base, "--levels", "3:3"]) == 1
    assert "must start at 2" in capsys.readouterr().err
    assert vc.main([*base, "--levels", "2:8"]) == 1
    assert "the codec has 3 levels" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        vc.main([*base, "--levels", "x"])
    assert not out.exists()
    # audio at another rate is resampled to the codec's
    slow = tmp_path / "slow.wav"
    sf.write(slow, sf.read(source, dtype="float32")[0][::2], RATE // 2)
    assert vc.main([*base[:2], "--source", str(slow), *base[4:], "--levels", "2:3"]) == 0
    assert sf.info(out).samplerate == RATE and sf.info(out).frames == 9000
