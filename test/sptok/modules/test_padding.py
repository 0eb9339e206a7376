import pytest
import torch

from sptok.modules.padding import pad1d, pad1d_per_item, unpad1d


@pytest.mark.parametrize("mode", ["reflect", "replicate", "constant"])
def test_pad1d_per_item_matches_single_items(mode):
    torch.manual_seed(0)
    time = 9
    lengths = torch.tensor([9, 1, 2, 4, 5, 7])
    x = torch.randn(len(lengths), 3, time)
    x[1, :, 1:] = float("nan")  # filler must never be read
    pad_left = 3
    pad_right = torch.tensor([0, 6, 3, 2, 4, 1])
    out_length = int((lengths + pad_left + pad_right).max()) + 2
    out = pad1d_per_item(x, lengths, pad_left, pad_right, out_length, mode, value=0.5)
    assert out.shape == (len(lengths), 3, out_length)
    assert not torch.isnan(out).any()
    for b, (length, right) in enumerate(zip(lengths.tolist(), pad_right.tolist())):
        alone = pad1d(x[b: b + 1, :, :length], (pad_left, right), mode, value=0.5)
        assert torch.equal(out[b: b + 1, :, : alone.shape[-1]], alone), (b, mode)
        fill = 0.5 if mode == "constant" else 0.0
        assert (out[b, :, alone.shape[-1]:] == fill).all()


def test_pad1d_reflect_short_input_like_encodec():
    x = torch.tensor([[[1.0, 2.0]]])
    # Length 2 cannot be reflected by 3: zero-extend to 4, reflect, cut the extension.
    assert pad1d(x, (3, 1), "reflect").tolist() == [[[0.0, 0.0, 2.0, 1.0, 2.0, 0.0]]]


def test_unpad1d_and_errors():
    x = torch.arange(6.0).view(1, 1, 6)
    assert unpad1d(x, (1, 2)).tolist() == [[[1.0, 2.0, 3.0]]]
    with pytest.raises(ValueError):
        unpad1d(x, (4, 3))
    with pytest.raises(ValueError):
        pad1d(x, (-1, 0))
