"""LSTM over convolutional-layout features [B, C, T], with a skip connection and lengths."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class SLSTM(nn.Module):
    """Multi-layer LSTM with hidden size = input size and an optional residual skip.

    A bidirectional LSTM outputs 2 * dimension channels; the skip then adds the input to both
    halves (EnCodec/SpeechTokenizer behaviour), so the next layer sees 2 * dimension channels.

    Args:
        dimension: input channels and hidden size per direction.
        num_layers: stacked LSTM layers.
        skip: add the input to the output.
        bidirectional: run a backward direction too (not causal).
    """

    def __init__(self, dimension: int, num_layers: int = 2, skip: bool = True,
                 bidirectional: bool = False):
        super().__init__()
        self.dimension = dimension
        self.skip = skip
        self.bidirectional = bidirectional
        self.lstm = nn.LSTM(dimension, dimension, num_layers, bidirectional=bidirectional,
                            batch_first=True)

    @property
    def output_channels(self) -> int:
        return 2 * self.dimension if self.bidirectional else self.dimension

    def get_output_length(self, length):
        return length

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Run the LSTM over ``x`` [B, C, T]; returns ([B, output_channels, T], lengths).

        With ``lengths``, a bidirectional LSTM packs the batch so each item's backward pass
        starts at its own last frame. A unidirectional LSTM needs no packing: its output at
        frame t never depends on later (filler) frames.
        """
        time = x.shape[-1]
        x = x.transpose(1, 2)  # [B, T, C]
        if lengths is not None and self.bidirectional:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            y, _ = self.lstm(packed)
            y, _ = pad_packed_sequence(y, batch_first=True, total_length=time)
        else:
            y, _ = self.lstm(x)
        if self.skip:
            y = y + (torch.cat([x, x], dim=-1) if self.bidirectional else x)
        return y.transpose(1, 2), lengths
