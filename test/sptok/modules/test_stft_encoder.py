import math

import pytest
import torch

from sptok.models.speechtokenizer import SpeechTokenizerModel
from sptok.modules.istft_decoder import ISTFTDecoder
from sptok.modules.stft_encoder import STFTEncoder
from sptok.quantization.residual_vq import ResidualVQ


def tiny_encoder(**overrides) -> STFTEncoder:
    args = dict(dimension=8, hop_length=4, n_fft=12, channels=16, num_layers=2)
    args.update(overrides)
    return STFTEncoder(**args)


def test_frames_are_ceil_of_samples_over_hop():
    torch.manual_seed(0)
    encoder = tiny_encoder()
    for n in [1, 3, 4, 5, 8, 9, 37]:
        z, frame_lengths = encoder(torch.randn(2, 1, n))
        assert z.shape == (2, 8, math.ceil(n / 4)), n
        assert frame_lengths is None
        assert encoder.get_output_length(n) == z.shape[-1]
    assert encoder.get_output_length(torch.tensor([1, 4, 5])).tolist() == [1, 1, 2]
    assert STFTEncoder(channels=8, num_layers=1).get_output_length(16000) == 50


def test_padded_batch_gives_each_item_its_own_latent():
    torch.manual_seed(0)
    encoder = tiny_encoder()
    wav = torch.randn(3, 1, 37)
    lengths = torch.tensor([37, 21, 3])
    z, frame_lengths = encoder(wav, lengths)
    assert frame_lengths.tolist() == [10, 6, 1]
    for b in range(3):
        alone, _ = encoder(wav[b:b + 1, :, :lengths[b]])
        torch.testing.assert_close(z[b, :, :frame_lengths[b]], alone[0], atol=1e-6, rtol=1e-5)
        assert torch.all(z[b, :, frame_lengths[b]:] == 0)


def test_log_magnitudes_match_a_zero_padded_stft():
    torch.manual_seed(0)
    encoder = tiny_encoder()
    wav = torch.randn(1, 1, 16)
    padded = torch.nn.functional.pad(wav[0, 0], (4, 4))  # (n_fft - hop) / 2 zeros each side
    expected = torch.stft(padded, n_fft=12, hop_length=4, window=encoder.window, center=False,
                          return_complex=True).abs().clamp(min=1e-5).log()
    torch.testing.assert_close(encoder.log_magnitudes(wav)[0], expected, atol=1e-5, rtol=1e-5)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    encoder = tiny_encoder()
    z, _ = encoder(torch.randn(2, 1, 20))
    z.square().mean().backward()
    assert not [name for name, p in encoder.named_parameters() if p.grad is None]


@pytest.mark.parametrize("kwargs, message", [
    (dict(hop_length=8, n_fft=4), "hop_length <= n_fft"),
    (dict(hop_length=4, n_fft=11), "must be even"),
    (dict(kernel_size=2), "kernel_size must be odd"),
    (dict(num_layers=0), "num_layers"),
    (dict(log_floor=0.0), "log_floor"),
])
def test_bad_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_encoder(**kwargs)


def test_bad_input_shape_is_rejected():
    with pytest.raises(ValueError, match=r"expects \[B, 1, N\]"):
        tiny_encoder()(torch.randn(2, 20))


def test_frame_rate_codec_codes_batch_equal_single():
    torch.manual_seed(0)
    model = SpeechTokenizerModel(tiny_encoder(), ResidualVQ(dimension=8, n_q=2, codebook_size=4),
                                 ISTFTDecoder(dimension=8, hop_length=4, n_fft=12, channels=16,
                                              num_layers=2)).eval()
    wav = torch.randn(2, 1, 30)
    lengths = torch.tensor([30, 13])
    codes, code_lengths = model.encode(wav, lengths)
    for b in range(2):
        alone, _ = model.encode(wav[b:b + 1, :, :lengths[b]])
        assert torch.equal(codes[b, :, :code_lengths[b]], alone[0])
