import pytest
import torch

from sptok.modules.lstm import SLSTM


@pytest.mark.parametrize("bidirectional", [False, True])
def test_slstm_batch_equals_single(bidirectional):
    torch.manual_seed(0)
    lstm = SLSTM(4, num_layers=2, bidirectional=bidirectional)
    lengths = torch.tensor([3, 7, 1])
    x = torch.randn(3, 4, 7)
    y, out_lengths = lstm(x, lengths)
    assert y.shape == (3, lstm.output_channels, 7)
    assert torch.equal(out_lengths, lengths)
    for b, length in enumerate(lengths.tolist()):
        alone, _ = lstm(x[b: b + 1, :, :length])
        torch.testing.assert_close(y[b: b + 1, :, :length], alone, atol=1e-6, rtol=1e-5)


def test_slstm_skip_adds_input_to_both_directions():
    lstm = SLSTM(2, num_layers=1, bidirectional=True)
    for parameter in lstm.lstm.parameters():
        torch.nn.init.zeros_(parameter)
    x = torch.randn(1, 2, 5)
    y, _ = lstm(x)
    torch.testing.assert_close(y, torch.cat([x, x], dim=1))
