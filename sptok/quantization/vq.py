"""One level of the residual quantizer: codebook look-up, straight-through estimator, commitment."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sptok.quantization.codebook import EuclideanCodebook


@dataclass
class LevelOutput:
    """What one level returns for N input vectors of dimension D.

    Attributes:
        codes: [N] long, nearest code of each vector.
        vectors: [N, D] the code vectors (no gradient).
        quantized: [N, D] value of ``vectors``; in training the gradient passes straight through
            to the input (x + (vectors - x).detach()).
        commit_loss: [] commitment weight x mean squared distance between the input and its code
            vector over the counted vectors (gradient to the input only).
    """

    codes: torch.Tensor
    vectors: torch.Tensor
    quantized: torch.Tensor
    commit_loss: torch.Tensor


class VectorQuantizer(nn.Module):
    """A single vector-quantisation level on flattened vectors [N, D].

    The codebook lives in ``self._codebook`` so that state-dict keys read
    ``layers.{i}._codebook.embed`` as in EnCodec and official SpeechTokenizer checkpoints.

    Args:
        dim: vector dimension D.
        codebook_size: number of codes K.
        commitment_weight: factor of the commitment loss.
        **codebook_kwargs: passed to :class:`EuclideanCodebook` (kmeans_init, kmeans_iters,
            decay, epsilon, threshold_ema_dead_code).
    """

    def __init__(self, dim: int, codebook_size: int, commitment_weight: float = 1.0,
                 **codebook_kwargs):
        super().__init__()
        if commitment_weight < 0:
            raise ValueError(f"commitment_weight must be >= 0, got {commitment_weight}")
        self.commitment_weight = commitment_weight
        self._codebook = EuclideanCodebook(dim, codebook_size, **codebook_kwargs)

    @property
    def codebook(self) -> EuclideanCodebook:
        return self._codebook

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> LevelOutput:
        """Quantise x [N, D] (float32); ``weights`` [N] is 1 for vectors that count, 0 for
        padding and dropped levels (they still get codes, but stay out of init and the loss).

        In training, an uninitialised codebook is first initialised by k-means on the counted
        vectors (a collective when distributed).
        """
        codebook = self._codebook
        if self.training and not codebook.initialized:
            codebook.init_from_data_(x.detach()[weights > 0])
        codes = codebook.nearest(x.detach())
        vectors = codebook.lookup(codes)
        quantized = x + (vectors - x).detach() if self.training else vectors
        squared_error = (quantized.detach() - x).pow(2).sum(dim=1)
        denominator = (weights.sum() * x.shape[1]).clamp_min(1.0)
        commit_loss = self.commitment_weight * (squared_error * weights).sum() / denominator
        return LevelOutput(codes=codes, vectors=vectors, quantized=quantized, commit_loss=commit_loss)
