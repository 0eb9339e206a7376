import math

import pytest
import torch

from sptok.uslm.embeddings import (ScaledSinusoidalPositions, left_padded_positions,
                                   left_padded_valid, lengths_to_valid, sinusoidal_encoding)


def test_sinusoidal_encoding_values():
    encoding = sinusoidal_encoding(torch.tensor([[0, 3]]), 4)
    assert encoding.shape == (1, 2, 4)
    # dim 4: frequencies 1 and 1e-2; sines first, cosines second.
    expected = torch.tensor([math.sin(3), math.sin(0.03), math.cos(3), math.cos(0.03)])
    torch.testing.assert_close(encoding[0, 1], expected)
    torch.testing.assert_close(encoding[0, 0], torch.tensor([0.0, 0.0, 1.0, 1.0]))


def test_sinusoidal_encoding_is_position_wise():
    # A position encodes the same whether it comes alone (a cached step) or in a sequence.
    full = sinusoidal_encoding(torch.arange(50)[None], 16)
    single = sinusoidal_encoding(torch.tensor([[37]]), 16)
    assert torch.equal(full[:, 37], single[:, 0])


def test_odd_width_rejected():
    with pytest.raises(ValueError, match="even"):
        sinusoidal_encoding(torch.zeros(1, 1), 5)


def test_scaled_positions_learned_alpha():
    module = ScaledSinusoidalPositions(8)
    x = torch.randn(2, 3, 8)
    positions = torch.tensor([[0, 1, 2], [5, 6, 7]])
    with torch.no_grad():
        module.alpha.fill_(0.5)
    torch.testing.assert_close(module(x, positions), x + 0.5 * sinusoidal_encoding(positions, 8))
    module(x, positions).sum().backward()
    assert module.alpha.grad is not None and module.alpha.grad.abs() > 0


def test_padding_helpers():
    lengths = torch.tensor([3, 1, 0])
    assert lengths_to_valid(lengths, 3).tolist() == [[True] * 3, [True, False, False],
                                                     [False] * 3]
    assert left_padded_valid(lengths, 3).tolist() == [[True] * 3, [False, False, True],
                                                      [False] * 3]
    assert left_padded_positions(torch.tensor([3, 1]), 3).tolist() == [[0, 1, 2], [0, 0, 0]]
