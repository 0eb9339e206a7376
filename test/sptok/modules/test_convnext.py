import torch
from torch import nn

from sptok.modules.convnext import ConvNeXtBlock, init_convnext_weights


def test_convnext_block_keeps_shape_and_starts_near_identity():
    torch.manual_seed(0)
    block = ConvNeXtBlock(dim=6, intermediate_dim=12, layer_scale_init=1e-6)
    x = torch.randn(2, 6, 10)
    y = block(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, x, atol=1e-4, rtol=0)


def test_masked_frames_read_as_zero_padding():
    torch.manual_seed(0)
    block = ConvNeXtBlock(dim=4, intermediate_dim=8, kernel_size=5)
    x = torch.randn(1, 4, 9)
    mask = torch.ones(1, 1, 9)
    mask[..., 6:] = 0
    # Frames 0-5 of the masked sequence equal the block run on those frames alone.
    torch.testing.assert_close(block(x, mask)[..., :6], block(x[..., :6]))


def test_init_gives_zero_biases_and_small_weights():
    torch.manual_seed(0)
    layer = nn.Linear(64, 64)
    init_convnext_weights(layer)
    assert torch.all(layer.bias == 0)
    assert abs(layer.weight.std().item() - 0.02) < 0.002
