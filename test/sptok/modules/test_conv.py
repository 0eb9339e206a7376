import math

import pytest
import torch

from sptok.modules.conv import SConv1d, SConvTranspose1d, conv1d_output_length

CONV_CASES = [  # kernel, stride, dilation
    (7, 1, 1), (3, 1, 2), (3, 1, 4), (1, 1, 1), (4, 2, 1), (8, 4, 1), (10, 5, 1), (16, 8, 1), (3, 2, 1),
]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("kernel,stride,dilation", CONV_CASES)
def test_sconv1d_output_length(kernel, stride, dilation, causal):
    conv = SConv1d(2, 3, kernel, stride=stride, dilation=dilation, causal=causal, norm="weight_norm")
    for length in [1, 2, 3, 5, 7, 8, 13, 16, 31, 40]:
        y, _ = conv(torch.randn(1, 2, length))
        assert y.shape[-1] == conv.get_output_length(length)
        if kernel == 2 * stride or stride == 1:
            assert y.shape[-1] == math.ceil(length / stride)
    lengths = torch.tensor([1, 7, 40])
    assert conv.get_output_length(lengths).tolist() == [conv.get_output_length(n) for n in [1, 7, 40]]
    assert conv1d_output_length(13, kernel, stride, dilation, causal) == conv.get_output_length(13)


@pytest.mark.parametrize("pad_mode", ["reflect", "constant", "replicate"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("kernel,stride,dilation", CONV_CASES)
def test_sconv1d_batch_equals_single(kernel, stride, dilation, causal, pad_mode):
    torch.manual_seed(0)
    conv = SConv1d(2, 3, kernel, stride=stride, dilation=dilation, causal=causal, pad_mode=pad_mode,
                   norm="weight_norm")
    lengths = torch.tensor([23, 1, 2, 9, 17])
    x = torch.randn(len(lengths), 2, 23)
    y, out_lengths = conv(x, lengths)
    assert y.shape[-1] == conv.get_output_length(23)
    for b, length in enumerate(lengths.tolist()):
        alone, none = conv(x[b: b + 1, :, :length])
        assert none is None
        assert out_lengths[b] == alone.shape[-1]
        torch.testing.assert_close(y[b: b + 1, :, : alone.shape[-1]], alone, atol=1e-6, rtol=1e-5)


def test_sconv1d_full_lengths_equal_unbatched_path():
    torch.manual_seed(0)
    conv = SConv1d(2, 3, 8, stride=4)
    x = torch.randn(3, 2, 37)
    y_plain, _ = conv(x)
    y_lengths, _ = conv(x, torch.full((3,), 37))
    torch.testing.assert_close(y_plain, y_lengths)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("stride", [1, 2, 3, 5, 8])
def test_sconvtranspose1d_batch_equals_single(stride, causal):
    torch.manual_seed(0)
    conv = SConvTranspose1d(3, 2, 2 * stride, stride=stride, causal=causal, norm="weight_norm")
    lengths = torch.tensor([6, 1, 3])
    x = torch.randn(3, 3, 6)
    x[1, :, 1:] = float("inf")  # filler must not leak into the output
    y, out_lengths = conv(x, lengths)
    assert y.shape[-1] == 6 * stride
    assert out_lengths.tolist() == (lengths * stride).tolist()
    for b, length in enumerate(lengths.tolist()):
        alone, _ = conv(x[b: b + 1, :, :length])
        assert alone.shape[-1] == length * stride
        torch.testing.assert_close(y[b: b + 1, :, : alone.shape[-1]], alone, atol=1e-6, rtol=1e-5)


def test_conv_argument_errors():
    with pytest.raises(ValueError, match="norm"):
        SConv1d(1, 1, 3, norm="batch_norm")
    with pytest.raises(ValueError, match="pad_mode"):
        SConv1d(1, 1, 3, pad_mode="circular")
    with pytest.raises(ValueError, match="trim_right_ratio"):
        SConvTranspose1d(1, 1, 4, stride=2, trim_right_ratio=0.5)
