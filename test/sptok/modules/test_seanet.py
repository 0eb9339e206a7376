import math

import pytest
import torch

from sptok.modules.seanet import SEANetDecoder, SEANetEncoder
from sptok.modules.weight_norm import remove_weight_norm


def tiny(strides=(2, 2), **overrides):
    args = dict(n_filters=4, dimension=16, strides=strides, lstm_layers=2)
    args.update(overrides)
    encoder = SEANetEncoder(**args)
    decoder_args = dict(args, strides=tuple(reversed(strides)))
    decoder_args.pop("bidirectional", None)
    return encoder, SEANetDecoder(**decoder_args)


def test_output_lengths_for_many_sizes():
    torch.manual_seed(0)
    encoder, decoder = tiny(strides=(2, 3))
    assert encoder.hop_length == decoder.hop_length == 6
    for n in [1, 2, 3, 5, 6, 7, 11, 12, 13, 29, 60, 61]:
        z, _ = encoder(torch.randn(1, 1, n))
        assert z.shape == (1, 16, math.ceil(n / 6)), n
        assert encoder.get_output_length(n) == z.shape[-1]
        wav, _ = decoder(z)
        assert wav.shape == (1, 1, z.shape[-1] * 6)
        assert decoder.get_output_length(z.shape[-1]) == wav.shape[-1]


def test_default_strides_lengths():
    encoder = SEANetEncoder(n_filters=2, dimension=8, lstm_layers=1)
    assert encoder.hop_length == 320
    n = torch.tensor([1, 319, 320, 321, 400, 16000, 16001])
    assert encoder.get_output_length(n).tolist() == [1, 1, 1, 2, 2, 50, 51]
    assert SEANetDecoder(n_filters=2, dimension=8, lstm_layers=1).get_output_length(7) == 2240


def assert_batch_equals_single(encoder, decoder, sizes, atol=1e-5):
    torch.manual_seed(1)
    lengths = torch.tensor(sizes)
    x = torch.randn(len(sizes), 1, max(sizes))
    x[:, :, :][torch.arange(max(sizes))[None, None, :].expand_as(x) >= lengths[:, None, None]] = 1e3
    with torch.no_grad():
        z, frames = encoder(x, lengths)
        wav, samples = decoder(z, frames)
    assert frames.tolist() == [encoder.get_output_length(n) for n in sizes]
    assert samples.tolist() == [f * decoder.hop_length for f in frames.tolist()]
    for b, n in enumerate(sizes):
        with torch.no_grad():
            z_alone, _ = encoder(x[b: b + 1, :, :n])
            wav_alone, _ = decoder(z_alone)
        t = z_alone.shape[-1]
        torch.testing.assert_close(z[b: b + 1, :, :t], z_alone, atol=atol, rtol=1e-4)
        assert (z[b, :, t:] == 0).all()
        torch.testing.assert_close(wav[b: b + 1, :, : wav_alone.shape[-1]], wav_alone, atol=atol, rtol=1e-4)
        assert (wav[b, :, wav_alone.shape[-1]:] == 0).all()


@pytest.mark.parametrize("strides", [(2, 2), (2, 3), (4,)])
def test_batch_equals_single_tiny(strides):
    torch.manual_seed(0)
    encoder, decoder = tiny(strides=strides)
    assert_batch_equals_single(encoder, decoder, [37, 1, 2, 5, 12, 23])


def test_batch_equals_single_two_residual_layers_true_skip():
    torch.manual_seed(0)
    encoder, decoder = tiny(strides=(2, 2), n_residual_layers=2, true_skip=True, pad_mode="constant")
    assert_batch_equals_single(encoder, decoder, [30, 7, 16])


def test_batch_equals_single_default_strides():
    torch.manual_seed(0)
    encoder = SEANetEncoder(n_filters=2, dimension=8)
    decoder = SEANetDecoder(n_filters=2, dimension=8)
    assert_batch_equals_single(encoder, decoder, [1500, 321, 640, 97, 1])


def test_causal_has_no_lookahead():
    torch.manual_seed(0)
    encoder, decoder = tiny(strides=(2, 3), causal=True, bidirectional=False, pad_mode="constant")
    x = torch.randn(1, 1, 60)
    x_changed = x.clone()
    x_changed[..., 30:] = torch.randn(1, 1, 30)
    with torch.no_grad():
        z, _ = encoder(x)
        z_changed, _ = encoder(x_changed)
        # frame t covers samples [6t, 6t + 6): frames 0..4 end before sample 30.
        torch.testing.assert_close(z[..., :5], z_changed[..., :5])
        assert not torch.allclose(z[..., 5:], z_changed[..., 5:])
        wav, _ = decoder(z)
        wav_changed, _ = decoder(z_changed)
        torch.testing.assert_close(wav[..., :30], wav_changed[..., :30])
        assert not torch.allclose(wav[..., 30:], wav_changed[..., 30:])


def test_non_causal_looks_ahead():
    torch.manual_seed(0)
    encoder, _ = tiny(strides=(2, 3))
    x = torch.randn(1, 1, 60)
    x_changed = x.clone()
    x_changed[..., 30:] = 0
    with torch.no_grad():
        assert not torch.allclose(encoder(x)[0][..., :5], encoder(x_changed)[0][..., :5])


def test_causal_bidirectional_rejected():
    with pytest.raises(ValueError, match="bidirectional"):
        SEANetEncoder(n_filters=2, dimension=4, causal=True, bidirectional=True)


def test_paper_config_parameter_count():
    encoder, decoder = SEANetEncoder(), SEANetDecoder()
    n_encoder = sum(p.numel() for p in encoder.parameters())
    n_decoder = sum(p.numel() for p in decoder.parameters())
    # The official speechtokenizer 1.0.1 model with the released config has exactly these;
    # with the 1024 -> 768 semantic head (787,200) the generator has 103.68 M (paper: ~104 M).
    assert n_encoder == 67_705_856
    assert n_decoder == 35_182_530
    assert encoder.model[-1].conv.conv.in_channels == 2048
    assert encoder.model[-3].lstm.hidden_size == 1024 and encoder.model[-3].lstm.bidirectional
    assert not decoder.model[1].lstm.bidirectional


def test_remove_weight_norm_keeps_outputs():
    torch.manual_seed(0)
    encoder, decoder = tiny()
    x = torch.randn(2, 1, 25)
    lengths = torch.tensor([25, 9])
    with torch.no_grad():
        z, frames = encoder(x, lengths)
        wav, _ = decoder(z, frames)
        remove_weight_norm(encoder)
        remove_weight_norm(decoder)
        assert not any("parametrizations" in k for k in encoder.state_dict())
        assert "model.0.conv.conv.weight" in encoder.state_dict()
        z_folded, _ = encoder(x, lengths)
        wav_folded, _ = decoder(z_folded, frames)
    torch.testing.assert_close(z_folded, z, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(wav_folded, wav, atol=1e-5, rtol=1e-5)


def test_gradients_flow_and_bad_inputs():
    encoder, decoder = tiny()
    x = torch.randn(2, 1, 20, requires_grad=True)
    z, frames = encoder(x, torch.tensor([20, 11]))
    wav, _ = decoder(z, frames)
    wav.pow(2).sum().backward()
    assert x.grad is not None and x.grad[1, :, 11:].abs().sum() == 0
    assert all(p.grad is not None for p in encoder.parameters())
    with pytest.raises(ValueError, match="lengths"):
        encoder(x, torch.tensor([21, 3]))
    with pytest.raises(ValueError, match="lengths"):
        encoder(x, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="SEANetEncoder"):
        encoder(torch.randn(2, 20))
    with pytest.raises(ValueError, match="activation"):
        SEANetEncoder(activation="NoSuchAct")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batch_equals_single_cuda():
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    # TF32 picks precision per kernel/shape, which would swamp the comparison.
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        torch.manual_seed(0)
        encoder = SEANetEncoder(n_filters=4, dimension=16).cuda()
        decoder = SEANetDecoder(n_filters=4, dimension=16).cuda()
        sizes = [1500, 321, 640, 1]
        lengths = torch.tensor(sizes, device="cuda")
        x = torch.randn(len(sizes), 1, max(sizes), device="cuda")
        with torch.no_grad():
            z, frames = encoder(x, lengths)
            wav, _ = decoder(z, frames)
            for b, n in enumerate(sizes):
                z_alone, _ = encoder(x[b: b + 1, :, :n])
                wav_alone, _ = decoder(z_alone)
                torch.testing.assert_close(z[b: b + 1, :, : z_alone.shape[-1]], z_alone, atol=1e-5, rtol=1e-4)
                torch.testing.assert_close(wav[b: b + 1, :, : wav_alone.shape[-1]], wav_alone,
                                           atol=1e-5, rtol=1e-4)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
