import pytest
import torch

from sptok.modules.lengths import (ceil_div, check_lengths, floor_div, frame_mask,
                                   lengths_to_mask, mask_padding)


def test_division_helpers_agree_for_ints_and_tensors():
    values = [-7, -1, 0, 1, 5, 6, 7]
    for b in (1, 3, 320):
        assert [ceil_div(v, b) for v in values] == ceil_div(torch.tensor(values), b).tolist()
        assert [floor_div(v, b) for v in values] == floor_div(torch.tensor(values), b).tolist()
    assert ceil_div(16001, 320) == 51 and floor_div(16001, 320) == 50


def test_lengths_to_mask_and_frame_mask():
    lengths = torch.tensor([3, 1])
    assert lengths_to_mask(lengths, 4).tolist() == [[True, True, True, False],
                                                    [True, False, False, False]]
    like = torch.zeros(1, dtype=torch.float64)
    mask = frame_mask(lengths, 2, 4, like)
    assert mask.shape == (2, 1, 4) and mask.dtype == torch.float64
    assert mask[:, 0].tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]
    assert torch.equal(frame_mask(None, 2, 3, like), torch.ones(2, 1, 3, dtype=torch.float64))


def test_mask_padding_keeps_nan_out():
    x = torch.full((2, 1, 4), float("nan"))
    x[:, :, :2] = 1.0
    y = mask_padding(x, torch.tensor([2, 2]))
    assert y.tolist() == [[[1, 1, 0, 0]], [[1, 1, 0, 0]]]
    assert mask_padding(x, None) is x


@pytest.mark.parametrize("lengths, message", [
    (torch.tensor([1]), r"shape \[B\]"),
    (torch.tensor([1.0, 2.0]), "integer tensor"),
    (torch.tensor([0, 2]), r"lie in \[1, 4\]"),
    (torch.tensor([2, 5]), r"lie in \[1, 4\]"),
])
def test_check_lengths_rejects_bad_lengths(lengths, message):
    with pytest.raises(ValueError, match=message):
        check_lengths(lengths, torch.zeros(2, 1, 4))
