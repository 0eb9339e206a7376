"""The SLMTokBench text-alignment probe: token embeddings -> 2-layer BiLSTM -> linear -> CTC.

The paper trains a 2-layer BiLSTM (1024 units per direction) with a character CTC head on top of
each tokenizer's token embeddings; its WER, and the likelihood q(y|x) it assigns to transcripts,
measure how much text information the tokens carry in an easily readable form.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sptok.slmtokbench.token_sources import UnitEmbedding


class CTCDownstream(nn.Module):
    """BiLSTM-CTC probe.

    Args:
        vocab_size: CTC output size, blank (index 0) included.
        feat_dim: size D of continuous inputs [B, T, D] (codes as codebook sums, features);
            exclusive with ``num_ids``.
        num_ids: size of the unit-id table for inputs [B, T, L] of level-offset ids.
        embed_dim: learned embedding size for unit ids.
        hidden_size: LSTM units per direction (paper: 1024).
        num_layers: stacked BiLSTM layers (paper: 2).
        dropout: between LSTM layers and before the output layer.
        input_norm: LayerNorm on the input vectors. Not in the paper's description; codebook
            sums and SSL features come in very different scales, and a per-frame normalisation
            makes one learning rate fit all token types.
    """

    def __init__(self, vocab_size: int, feat_dim: Optional[int] = None,
                 num_ids: Optional[int] = None, embed_dim: int = 256, hidden_size: int = 1024,
                 num_layers: int = 2, dropout: float = 0.1, input_norm: bool = True):
        super().__init__()
        if (feat_dim is None) == (num_ids is None):
            raise ValueError("give exactly one of feat_dim (continuous inputs) and num_ids "
                             "(unit ids)")
        if vocab_size < 2:
            raise ValueError(f"vocab_size must count the blank and at least one symbol, got "
                             f"{vocab_size}")
        self.embedding: Optional[UnitEmbedding] = None
        if num_ids is not None:
            self.embedding = UnitEmbedding(num_ids, embed_dim)
            in_dim = embed_dim
        else:
            in_dim = int(feat_dim)
        self.norm = nn.LayerNorm(in_dim) if input_norm else nn.Identity()
        self.lstm = nn.LSTM(in_dim, hidden_size, num_layers=num_layers, batch_first=True,
                            bidirectional=True, dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(2 * hidden_size, vocab_size)
        self.vocab_size = vocab_size

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Log-probabilities [B, T, V] (float32) for inputs [B, T, D] float or [B, T, L] ids with
        lengths [B]; frames past an item's length are padding."""
        x = self.embedding(inputs) if self.embedding is not None else inputs.float()
        x = self.norm(x)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        hidden, _ = self.lstm(packed)
        hidden, _ = pad_packed_sequence(hidden, batch_first=True, total_length=x.shape[1])
        return F.log_softmax(self.output(self.dropout(hidden)).float(), dim=-1)


def ctc_log_likelihood(log_probs: torch.Tensor, lengths: torch.Tensor,
                       targets: Sequence[Sequence[int]]) -> torch.Tensor:
    """log q(y_b | x_b) [B] (nats) of targets under CTC outputs log_probs [B, T, V].

    An impossible alignment (a target needing more frames than the input has: its length plus
    its repeated neighbours) gives -inf.
    """
    if len(targets) != log_probs.shape[0]:
        raise ValueError(f"{len(targets)} targets for a batch of {log_probs.shape[0]}")
    device = log_probs.device
    target_lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
    flat = torch.tensor([i for t in targets for i in t], dtype=torch.long)
    loss = F.ctc_loss(log_probs.transpose(0, 1), flat.to(device), lengths.to(device),
                      target_lengths.to(device), blank=0, reduction="none", zero_infinity=False)
    return -loss


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor) -> List[List[int]]:
    """Best path: argmax per frame, merge repeats, drop blanks (id 0). [B, T, V] -> B id lists."""
    best = log_probs.argmax(dim=-1).cpu()
    out = []
    for row, length in zip(best, lengths.tolist()):
        path = torch.unique_consecutive(row[:length]).tolist()
        out.append([i for i in path if i != 0])
    return out
