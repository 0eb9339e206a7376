import math

import pytest
import torch

from sptok.modules.istft_decoder import ISTFTDecoder
from sptok.modules.seanet import SEANetEncoder
from sptok.models.speechtokenizer import SpeechTokenizerModel
from sptok.quantization.residual_vq import ResidualVQ


def tiny_decoder(**overrides) -> ISTFTDecoder:
    args = dict(dimension=8, hop_length=4, n_fft=12, channels=16, num_layers=2)
    args.update(overrides)
    return ISTFTDecoder(**args)


def test_output_length_is_frames_times_hop():
    torch.manual_seed(0)
    decoder = tiny_decoder()
    for frames in [1, 2, 3, 10]:
        wav, lengths = decoder(torch.randn(2, 8, frames))
        assert wav.shape == (2, 1, frames * 4)
        assert lengths is None
        assert decoder.get_output_length(frames) == frames * 4
    assert decoder.get_output_length(torch.tensor([3, 5])).tolist() == [12, 20]
    assert ISTFTDecoder(dimension=8, channels=8, num_layers=1).hop_length == 320


def test_padded_batch_gives_each_item_its_own_audio():
    torch.manual_seed(0)
    decoder = tiny_decoder()
    z = torch.randn(3, 8, 9)
    frame_lengths = torch.tensor([9, 5, 1])
    wav, sample_lengths = decoder(z, frame_lengths)
    assert sample_lengths.tolist() == [36, 20, 4]
    for b in range(3):
        alone, _ = decoder(z[b:b + 1, :, :frame_lengths[b]])
        n = int(sample_lengths[b])
        torch.testing.assert_close(wav[b, :, :n], alone[0], atol=1e-6, rtol=1e-5)
        assert torch.all(wav[b, :, n:] == 0)


def test_padding_content_cannot_leak_into_valid_frames():
    torch.manual_seed(0)
    decoder = tiny_decoder()
    z = torch.randn(2, 8, 7)
    lengths = torch.tensor([7, 4])
    noisy = z.clone()
    noisy[1, :, 4:] = 1e3
    torch.testing.assert_close(decoder(z, lengths)[0], decoder(noisy, lengths)[0])


def test_overlap_add_inverts_a_windowed_stft():
    # A decoder whose head gave the exact STFT of a signal would give the signal back: check the
    # synthesis half (irfft, window, "same"-padded overlap-add, envelope normalisation) alone.
    torch.manual_seed(0)
    decoder = tiny_decoder()
    hop, n_fft, frames = 4, 12, 16
    signal = torch.randn(frames * hop)
    pad = (n_fft - hop) // 2
    padded = torch.nn.functional.pad(signal, (pad, pad))
    windowed = padded.unfold(0, n_fft, hop)[:frames] * decoder.window  # [T, n_fft]
    mask = torch.ones(1, 1, frames)
    wav = decoder._overlap_add((windowed * decoder.window).T[None], mask)
    torch.testing.assert_close(wav.reshape(-1), signal, atol=1e-5, rtol=1e-5)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    decoder = tiny_decoder()
    wav, _ = decoder(torch.randn(2, 8, 5))
    wav.square().mean().backward()
    missing = [name for name, p in decoder.named_parameters() if p.grad is None]
    assert not missing


@pytest.mark.parametrize("kwargs, message", [
    (dict(hop_length=8, n_fft=4), "hop_length <= n_fft"),
    (dict(hop_length=4, n_fft=11), "must be even"),
    (dict(kernel_size=4), "kernel_size must be odd"),
    (dict(num_layers=0), "num_layers"),
])
def test_bad_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_decoder(**kwargs)


def test_bad_input_shape_is_rejected():
    with pytest.raises(ValueError, match=r"expects \[B, 8, T\]"):
        tiny_decoder()(torch.randn(2, 7, 5))
    with pytest.raises(ValueError, match="lengths"):
        tiny_decoder()(torch.randn(2, 8, 5), torch.tensor([6, 2]))


def test_codec_with_istft_decoder_round_trips_shapes():
    torch.manual_seed(0)
    encoder = SEANetEncoder(n_filters=2, dimension=8, strides=(2, 2), lstm_layers=1)
    model = SpeechTokenizerModel(encoder, ResidualVQ(dimension=8, n_q=2, codebook_size=4),
                                 tiny_decoder())
    wav = torch.randn(2, 1, 37)
    out = model(wav, torch.tensor([37, 20]))
    assert out["wav_hat"].shape == wav.shape
    assert out["frame_lengths"].tolist() == [math.ceil(37 / 4), math.ceil(20 / 4)]


def test_hop_mismatch_with_the_encoder_is_rejected():
    encoder = SEANetEncoder(n_filters=2, dimension=8, strides=(2, 3), lstm_layers=1)
    with pytest.raises(ValueError, match="hop length"):
        SpeechTokenizerModel(encoder, ResidualVQ(dimension=8, n_q=2, codebook_size=4),
                             tiny_decoder())
