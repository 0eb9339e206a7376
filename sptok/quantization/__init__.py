"""Residual vector quantization with EMA codebooks (EnCodec / SpeechTokenizer)."""
from sptok.quantization.codebook import EuclideanCodebook
from sptok.quantization.official import (quantizer_state_from_official,
                                         residual_vq_kwargs_from_official_config)
from sptok.quantization.residual_vq import QuantizerOutput, ResidualVQ
from sptok.quantization.usage import code_counts, codebook_usage, perplexity_from_counts
from sptok.quantization.vq import VectorQuantizer

__all__ = ["EuclideanCodebook", "QuantizerOutput", "ResidualVQ", "VectorQuantizer",
           "code_counts", "codebook_usage", "perplexity_from_counts",
           "quantizer_state_from_official", "residual_vq_kwargs_from_official_config"]
