"""The public SpeechTokenizer API: official codes, batch exactness, level ranges, bad input."""
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from sptok import SpeechTokenizer
from sptok.data.audio import load_audio
from sptok.modules.weight_norm import has_weight_norm

from tiny_codecs import build_tiny_generator

LENGTHS = [4100, 2500, 700]  # samples; 13, 8 and 3 frames


def padded_batch(seed=0, lengths=LENGTHS):
    generator = torch.Generator().manual_seed(seed)
    wav = 0.3 * torch.randn(len(lengths), max(lengths), generator=generator)
    for i, length in enumerate(lengths):
        wav[i, length:] = 5.0  # loud filler: must not change any item's codes
    return wav, torch.tensor(lengths)


@pytest.fixture
def tokenizer(exp_dir):
    return SpeechTokenizer.from_pretrained(exp_dir)


# --- official release ------------------------------------------------------------------------

@pytest.mark.parametrize("batch_mode", ["per_item", "padded"])
def test_official_release_gives_the_official_codes(official_release, batch_mode):
    release, official = official_release
    tokenizer = SpeechTokenizer.from_pretrained(release, batch_mode=batch_mode)
    wav, lengths = padded_batch()
    codes, code_lengths = tokenizer.encode(wav, lengths)
    assert code_lengths.tolist() == [13, 8, 3]
    assert codes.shape == (3, 3, 13)
    with torch.no_grad():
        for i, length in enumerate(LENGTHS):
            alone = wav[i:i + 1, None, :length]
            expected = official.encode(alone)[:, 0]  # official codes are [n_q, B, T]
            assert torch.equal(codes[i, :, :code_lengths[i]], expected)
            two_levels, _ = tokenizer.encode(alone, n_q=2)
            assert torch.equal(two_levels[0], official.encode(alone, n_q=2)[:, 0])
            audio, sample_lengths = tokenizer.decode(codes[i:i + 1, :, :code_lengths[i]])
            torch.testing.assert_close(audio, official.decode(expected[:, None]),
                                       atol=1e-5, rtol=1e-4)
            assert sample_lengths.tolist() == [int(code_lengths[i]) * 320]
    # the comparison means something: every level uses several codes
    assert all(len(torch.unique(codes[:, level])) > 1 for level in range(3))


def test_official_meta_info(official_release):
    release, _ = official_release
    info = SpeechTokenizer.from_pretrained(release).meta_info()
    assert {k: info[k] for k in ("sample_rate", "hop_length", "frame_shift", "frame_rate", "n_q",
                                 "codebook_size", "dimension", "semantic_dim")} == {
        "sample_rate": 16000, "hop_length": 320, "frame_shift": 320, "frame_rate": 50.0,
        "n_q": 3, "codebook_size": 4, "dimension": 8, "semantic_dim": 6}


# --- batches ---------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_mode", ["per_item", "padded"])
def test_padded_batch_gives_each_item_its_own_codes_and_audio(exp_dir, batch_mode):
    tokenizer = SpeechTokenizer.from_pretrained(exp_dir, batch_mode=batch_mode)
    wav, lengths = padded_batch()
    codes, code_lengths = tokenizer.encode(wav[:, None], lengths)  # [B, 1, N] works too
    audio, sample_lengths = tokenizer.decode(codes, code_lengths)
    assert audio.shape == (3, 1, 13 * 320)
    assert sample_lengths.tolist() == [13 * 320, 8 * 320, 3 * 320]
    for i, length in enumerate(LENGTHS):
        frames = int(code_lengths[i])
        alone, alone_lengths = tokenizer.encode(wav[i, :length])  # 1-D: a batch of one
        assert alone_lengths.tolist() == [frames]
        assert torch.equal(codes[i, :, :frames], alone[0])
        assert not codes[i, :, frames:].any()  # frames past the end are 0
        alone_audio, _ = tokenizer.decode(alone[0])
        torch.testing.assert_close(audio[i, :, :frames * 320], alone_audio[0],
                                   atol=1e-6, rtol=1e-5)
        assert not audio[i, :, frames * 320:].any()


def test_a_list_of_utterances_is_a_padded_batch(tokenizer):
    wav, lengths = padded_batch(seed=2)
    items = [wav[i, :n] for i, n in enumerate(LENGTHS)]
    codes, code_lengths = tokenizer.encode(items)
    expected, expected_lengths = tokenizer.encode(wav, lengths)
    assert torch.equal(codes, expected) and torch.equal(code_lengths, expected_lengths)
    with pytest.raises(ValueError, match="lengths must be None"):
        tokenizer.encode(items, lengths)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        tokenizer.encode([wav[0], wav[1:2]])


def test_batch_modes_agree(exp_dir):
    wav, lengths = padded_batch(seed=1)
    per_item = SpeechTokenizer.from_pretrained(exp_dir, batch_mode="per_item")
    padded = SpeechTokenizer.from_pretrained(exp_dir, batch_mode="padded")
    codes, code_lengths = per_item.encode(wav.numpy(), lengths.numpy())  # numpy input too
    assert torch.equal(codes, padded.encode(wav, lengths)[0])
    torch.testing.assert_close(per_item.decode(codes, code_lengths)[0],
                               padded.decode(codes, code_lengths)[0], atol=1e-6, rtol=1e-5)


# --- levels ----------------------------------------------------------------------------------

def test_n_q_takes_the_first_levels(tokenizer):
    wav, lengths = padded_batch()
    codes, _ = tokenizer.encode(wav, lengths)
    for n_q in (1, 2):
        fewer, _ = tokenizer.encode(wav, lengths, n_q=n_q)
        assert torch.equal(fewer, codes[:, :n_q])


@pytest.mark.parametrize("first, last", [(0, 1), (0, 2), (1, 3), (2, 3), (0, 3)])
def test_decode_any_range_of_levels(tokenizer, first, last):
    wav, lengths = padded_batch()
    codes, code_lengths = tokenizer.encode(wav, lengths)
    audio, _ = tokenizer.decode(codes[:, first:last], code_lengths, start_level=first)
    model = tokenizer.model
    with torch.no_grad():
        latent = sum(model.quantizer.codebooks[level].embed[codes[:, level]].transpose(1, 2)
                     for level in range(first, last))
        for i in range(len(LENGTHS)):
            frames = int(code_lengths[i])
            expected, _ = model.decoder(latent[i:i + 1, :, :frames])
            torch.testing.assert_close(audio[i:i + 1, :, :frames * 320], expected,
                                       atol=1e-5, rtol=1e-4)


# --- weight norm, metadata, files ------------------------------------------------------------

def test_folding_weight_norm_keeps_the_outputs():
    _, generator = build_tiny_generator(seed=2)
    _, same = build_tiny_generator(seed=2)
    unfolded = SpeechTokenizer(generator, fold_weight_norm=False)
    folded = SpeechTokenizer(same)
    assert any(has_weight_norm(m) for m in unfolded.model.modules())
    assert not any(has_weight_norm(m) for m in folded.model.modules())
    wav, lengths = padded_batch(seed=3)
    codes, code_lengths = unfolded.encode(wav, lengths)
    assert torch.equal(folded.encode(wav, lengths)[0], codes)
    torch.testing.assert_close(folded.decode(codes, code_lengths)[0],
                               unfolded.decode(codes, code_lengths)[0], atol=1e-6, rtol=1e-5)


def test_meta_info_and_properties(tokenizer):
    info = tokenizer.meta_info()
    assert info["sample_rate"] == tokenizer.sample_rate == 16000
    assert info["frame_shift"] == info["hop_length"] == tokenizer.hop_length == 320
    assert info["frame_rate"] == tokenizer.frame_rate == 50.0
    assert info["n_q"] == tokenizer.n_q == 3
    assert info["codebook_size"] == tokenizer.codebook_size == 4
    assert info["dimension"] == tokenizer.dimension == 8
    assert tokenizer.num_frames(641) == 3
    assert "n_q=3" in repr(tokenizer)


def test_encode_file_and_decode_to_file(tokenizer, tmp_path):
    wav = 0.3 * np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    sf.write(tmp_path / "in.wav", wav, 8000)  # resampled to 16 kHz: 8000 samples, 25 frames
    codes = tokenizer.encode_file(tmp_path / "in.wav")
    assert codes.shape == (3, 25)
    resampled = load_audio(str(tmp_path / "in.wav"), 16000)
    assert torch.equal(codes, tokenizer.encode(torch.from_numpy(resampled))[0][0])
    out = tokenizer.decode_to_file(codes[1:], tmp_path / "out.wav", start_level=1,
                                   num_samples=7990)
    audio, rate = sf.read(out)
    assert rate == 16000 and audio.shape == (7990,)


def test_import_sptok_does_not_import_torch():
    code = ("import sys, sptok; assert 'torch' not in sys.modules, 'torch imported'; "
            "from sptok import SpeechTokenizer; print(SpeechTokenizer.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "sptok.inference.speechtokenizer"


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(wav=torch.zeros(1, 1, 1, 800)), r"\[N\], \[B, N\] or \[B, 1, N\]"),
    (dict(wav=torch.zeros(1, 2, 800)), "mono"),
    (dict(wav=torch.zeros(2, 800, dtype=torch.int16)), "floating-point"),
    (dict(wav=torch.zeros(2, 0)), "empty"),
    (dict(wav=torch.zeros(2, 800), sample_rate=24000), "24000 Hz.*16000 Hz"),
    (dict(wav=torch.zeros(2, 800), n_q=0), r"n_q must be an integer in \[1, 3\]"),
    (dict(wav=torch.zeros(2, 800), n_q=4), r"n_q must be an integer in \[1, 3\]"),
    (dict(wav=torch.zeros(2, 800), lengths=torch.tensor([800])), r"shape \[B\]=\[2\]"),
    (dict(wav=torch.zeros(2, 800), lengths=torch.tensor([800, 900])), r"\[1, 800\]"),
    (dict(wav=torch.zeros(2, 800), lengths=torch.tensor([800.0, 80.0])), "integers"),
    (dict(wav="audio.wav"), "torch.Tensor or numpy array"),
])
def test_bad_encode_input(tokenizer, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tokenizer.encode(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(codes=torch.zeros(1, 1, 3, 5, dtype=torch.long)), r"\[B, n_q, T\]"),
    (dict(codes=torch.zeros(1, 3, 5)), "integers"),
    (dict(codes=torch.full((1, 3, 5), 4)), r"\[0, 3\].*got values in \[4, 4\]"),
    (dict(codes=torch.full((1, 3, 5), -1)), r"got values in \[-1, -1\]"),
    (dict(codes=torch.zeros(1, 4, 5, dtype=torch.long)), "hold 4 levels"),
    (dict(codes=torch.zeros(1, 3, 5, dtype=torch.long), start_level=1), "hold 3 levels"),
    (dict(codes=torch.zeros(1, 1, 5, dtype=torch.long), start_level=3), "start_level"),
    (dict(codes=torch.zeros(1, 3, 5, dtype=torch.long), lengths=torch.tensor([6])),
     r"\[1, 5\]"),
])
def test_bad_decode_input(tokenizer, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tokenizer.decode(**kwargs)


def test_bad_constructor_arguments(exp_dir):
    with pytest.raises(ValueError, match="batch_mode"):
        SpeechTokenizer.from_pretrained(exp_dir, batch_mode="fast")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            SpeechTokenizer.from_pretrained(exp_dir, device="cuda")
