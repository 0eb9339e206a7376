"""Codec building blocks: padded/causal convolutions, LSTM, SEANet encoder/decoder, semantic head."""
from sptok.modules.conv import (NormConv1d, NormConvTranspose1d, SConv1d, SConvTranspose1d,
                                conv1d_output_length)
from sptok.modules.lengths import check_lengths, lengths_to_mask, mask_padding
from sptok.modules.lstm import SLSTM
from sptok.modules.official import (convert_weight_norm_keys, load_official_state_dict,
                                    official_config_to_kwargs)
from sptok.modules.padding import pad1d, pad1d_per_item, unpad1d
from sptok.modules.seanet import SEANetDecoder, SEANetEncoder, SEANetResnetBlock
from sptok.modules.semantic import SemanticHead
from sptok.modules.weight_norm import remove_weight_norm

__all__ = [
    "NormConv1d", "NormConvTranspose1d", "SConv1d", "SConvTranspose1d", "conv1d_output_length",
    "check_lengths", "lengths_to_mask", "mask_padding", "SLSTM", "convert_weight_norm_keys",
    "load_official_state_dict", "official_config_to_kwargs", "pad1d", "pad1d_per_item", "unpad1d",
    "SEANetDecoder", "SEANetEncoder", "SEANetResnetBlock", "SemanticHead", "remove_weight_norm",
]
