"""SEANet encoder and decoder (EnCodec's architecture, as used by SpeechTokenizer).

Encoder: conv k7 -> per stage [residual block(s), act, strided conv k=2s doubling channels] ->
LSTM with skip (bidirectional in SpeechTokenizer) -> act -> conv k7 to ``dimension``.
Decoder: conv k7 -> LSTM with skip -> per stage [act, transposed conv k=2s halving channels,
residual block(s)] -> act -> conv k7 to audio channels.

Every forward takes optional ``lengths`` [B] and returns the output lengths, and a padded batch
gives each item the output it would get alone up to float rounding (padding never leaks into the
valid frames; the batched matmuls and the packed BiLSTM round differently). Layers are stored in ``self.model`` with the same
indices as EnCodec's ``nn.Sequential`` so released checkpoints keep their key names.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from sptok.modules.conv import SConv1d, SConvTranspose1d
from sptok.modules.lengths import IntOrTensor, check_lengths, mask_padding
from sptok.modules.lstm import SLSTM


def make_activation(name: str, params: Optional[Dict[str, Any]] = None) -> nn.Module:
    """Instantiate ``torch.nn.<name>(**params)`` (e.g. "ELU" with {"alpha": 1.0})."""
    activation = getattr(nn, name, None)
    if not (isinstance(activation, type) and issubclass(activation, nn.Module)):
        raise ValueError(f"activation must name a torch.nn module such as 'ELU', got {name!r}")
    return activation(**(params or {}))


class SEANetResnetBlock(nn.Module):
    """Residual block: [act, conv k (dilated), act, conv 1] on dim -> dim // compress -> dim.

    Args:
        dim: input/output channels.
        kernel_sizes, dilations: per convolution of the residual branch.
        activation, activation_params: torch.nn activation.
        norm, causal, pad_mode: passed to ``SConv1d``.
        compress: channel reduction inside the branch.
        true_skip: identity shortcut; False uses a 1x1 convolution (SpeechTokenizer/EnCodec).
    """

    def __init__(self, dim: int, kernel_sizes: Sequence[int] = (3, 1), dilations: Sequence[int] = (1, 1),
                 activation: str = "ELU", activation_params: Optional[Dict[str, Any]] = None,
                 norm: str = "weight_norm", causal: bool = False, pad_mode: str = "reflect",
                 compress: int = 2, true_skip: bool = False):
        super().__init__()
        if len(kernel_sizes) != len(dilations):
            raise ValueError(f"kernel_sizes {kernel_sizes} and dilations {dilations} differ in length")
        hidden = dim // compress
        block: List[nn.Module] = []
        for i, (kernel_size, dilation) in enumerate(zip(kernel_sizes, dilations)):
            in_channels = dim if i == 0 else hidden
            out_channels = dim if i == len(kernel_sizes) - 1 else hidden
            block += [
                make_activation(activation, activation_params),
                SConv1d(in_channels, out_channels, kernel_size, dilation=dilation, norm=norm,
                        causal=causal, pad_mode=pad_mode),
            ]
        self.block = nn.Sequential(*block)
        self.shortcut: nn.Module
        if true_skip:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = SConv1d(dim, dim, 1, norm=norm, causal=causal, pad_mode=pad_mode)

    def get_output_length(self, length: IntOrTensor) -> IntOrTensor:
        return length

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """[B, dim, T] -> ([B, dim, T], lengths)."""
        y, _ = run_layers(self.block, x, lengths)
        shortcut, _ = run_layers([self.shortcut], x, lengths)
        return shortcut + y, lengths


_LENGTH_AWARE = (SConv1d, SConvTranspose1d, SLSTM, SEANetResnetBlock)


def run_layers(layers, x: torch.Tensor, lengths: Optional[torch.Tensor]
               ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Apply ``layers`` in order, threading lengths through those that change or need them."""
    for layer in layers:
        if isinstance(layer, _LENGTH_AWARE):
            x, lengths = layer(x, lengths)
        else:  # element-wise activations and identities
            x = layer(x)
    return x, lengths


def chain_output_length(layers, length: IntOrTensor) -> IntOrTensor:
    for layer in layers:
        if isinstance(layer, _LENGTH_AWARE):
            length = layer.get_output_length(length)
    return length


class SEANetEncoder(nn.Module):
    """SEANet encoder: waveform [B, channels, N] -> latent [B, dimension, ceil(N / hop_length)].

    Defaults are SpeechTokenizer's (64 -> 1024 channels, strides 2, 4, 5, 8, 2-layer BiLSTM,
    ELU, final conv k7 2048 -> 1024, weight norm, reflect padding, 1x1-conv shortcuts).

    Args:
        channels: audio channels.
        dimension: latent channels.
        n_filters: channels of the first convolution, doubled by every stage.
        strides: downsampling factors in the order they are applied.
        n_residual_layers: residual blocks per stage (dilation dilation_base ** j).
        lstm_layers: LSTM layers after the last stage (0: none).
        bidirectional: bidirectional LSTM (doubles the channels fed to the final conv).
        causal: causal convolutions (requires bidirectional=False).
        activation, activation_params: torch.nn activation and its arguments.
        kernel_size, residual_kernel_size, last_kernel_size: first / residual / final kernels.
        dilation_base: dilation growth per residual block.
        compress: channel reduction in residual branches.
        true_skip: identity shortcuts in residual blocks instead of 1x1 convolutions.
        norm: "weight_norm" or "none".
        pad_mode: "reflect", "replicate" or "constant".
    """

    def __init__(self, channels: int = 1, dimension: int = 1024, n_filters: int = 64,
                 strides: Sequence[int] = (2, 4, 5, 8), n_residual_layers: int = 1,
                 lstm_layers: int = 2, bidirectional: bool = True, causal: bool = False,
                 activation: str = "ELU", activation_params: Optional[Dict[str, Any]] = None,
                 kernel_size: int = 7, residual_kernel_size: int = 3, last_kernel_size: int = 7,
                 dilation_base: int = 2, compress: int = 2, true_skip: bool = False,
                 norm: str = "weight_norm", pad_mode: str = "reflect"):
        super().__init__()
        if causal and bidirectional and lstm_layers:
            raise ValueError("SEANetEncoder: causal=True needs bidirectional=False "
                             "(a bidirectional LSTM looks ahead)")
        if activation_params is None:
            activation_params = {"alpha": 1.0} if activation == "ELU" else {}
        self.channels = channels
        self.dimension = dimension
        self.strides = tuple(int(s) for s in strides)

        def act() -> nn.Module:
            return make_activation(activation, activation_params)

        conv_args = dict(norm=norm, causal=causal, pad_mode=pad_mode)
        mult = 1
        model: List[nn.Module] = [SConv1d(channels, n_filters, kernel_size, **conv_args)]
        for stride in self.strides:
            for j in range(n_residual_layers):
                model.append(SEANetResnetBlock(
                    mult * n_filters, kernel_sizes=(residual_kernel_size, 1),
                    dilations=(dilation_base ** j, 1), activation=activation,
                    activation_params=activation_params, compress=compress,
                    true_skip=true_skip, **conv_args))
            model += [act(), SConv1d(mult * n_filters, mult * n_filters * 2, 2 * stride,
                                     stride=stride, **conv_args)]
            mult *= 2
        channels_out = mult * n_filters
        if lstm_layers:
            lstm = SLSTM(channels_out, num_layers=lstm_layers, bidirectional=bidirectional)
            model.append(lstm)
            channels_out = lstm.output_channels
        model += [act(), SConv1d(channels_out, dimension, last_kernel_size, **conv_args)]
        self.model = nn.ModuleList(model)

    @property
    def hop_length(self) -> int:
        """Input samples per latent frame."""
        return math.prod(self.strides)

    def get_output_length(self, n_samples: IntOrTensor) -> IntOrTensor:
        """Latent frames for ``n_samples`` input samples: ceil(n_samples / hop_length)."""
        return chain_output_length(self.model, n_samples)

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Encode ``x`` [B, channels, N].

        Args:
            x: waveform batch, items padded at the end.
            lengths: optional [B] valid samples per item (1 <= lengths <= N).

        Returns:
            z [B, dimension, ceil(N / hop_length)] (zero past each item's frames when lengths
            are given) and the frame counts [B] (None without lengths).
        """
        if x.dim() != 3 or x.shape[1] != self.channels:
            raise ValueError(f"SEANetEncoder expects [B, {self.channels}, N], got {list(x.shape)}")
        lengths = check_lengths(lengths, x)
        z, lengths = run_layers(self.model, x, lengths)
        return mask_padding(z, lengths), lengths


class SEANetDecoder(nn.Module):
    """SEANet decoder: latent [B, dimension, T] -> waveform [B, channels, T * hop_length].

    Defaults are SpeechTokenizer's (1024 -> 64 channels, strides 8, 5, 4, 2, 2-layer
    unidirectional LSTM, ELU, no final activation).

    Args:
        strides: upsampling factors in the order they are applied.
        final_activation, final_activation_params: optional torch.nn activation at the end
            (EnCodec experiments used Tanh; SpeechTokenizer uses none).
        trim_right_ratio: causal transposed convolutions' right trimming share.
        Others: as ``SEANetEncoder``.
    """

    def __init__(self, channels: int = 1, dimension: int = 1024, n_filters: int = 64,
                 strides: Sequence[int] = (8, 5, 4, 2), n_residual_layers: int = 1,
                 lstm_layers: int = 2, causal: bool = False, activation: str = "ELU",
                 activation_params: Optional[Dict[str, Any]] = None, kernel_size: int = 7,
                 residual_kernel_size: int = 3, last_kernel_size: int = 7, dilation_base: int = 2,
                 compress: int = 2, true_skip: bool = False, norm: str = "weight_norm",
                 pad_mode: str = "reflect", trim_right_ratio: float = 1.0,
                 final_activation: Optional[str] = None,
                 final_activation_params: Optional[Dict[str, Any]] = None):
        super().__init__()
        if activation_params is None:
            activation_params = {"alpha": 1.0} if activation == "ELU" else {}
        self.channels = channels
        self.dimension = dimension
        self.strides = tuple(int(s) for s in strides)

        def act() -> nn.Module:
            return make_activation(activation, activation_params)

        conv_args = dict(norm=norm, causal=causal, pad_mode=pad_mode)
        mult = 2 ** len(self.strides)
        model: List[nn.Module] = [SConv1d(dimension, mult * n_filters, kernel_size, **conv_args)]
        if lstm_layers:
            model.append(SLSTM(mult * n_filters, num_layers=lstm_layers, bidirectional=False))
        for stride in self.strides:
            model += [act(), SConvTranspose1d(mult * n_filters, mult * n_filters // 2, 2 * stride,
                                              stride=stride, causal=causal, norm=norm,
                                              trim_right_ratio=trim_right_ratio)]
            for j in range(n_residual_layers):
                model.append(SEANetResnetBlock(
                    mult * n_filters // 2, kernel_sizes=(residual_kernel_size, 1),
                    dilations=(dilation_base ** j, 1), activation=activation,
                    activation_params=activation_params, compress=compress,
                    true_skip=true_skip, **conv_args))
            mult //= 2
        model += [act(), SConv1d(n_filters, channels, last_kernel_size, **conv_args)]
        if final_activation is not None:
            model.append(make_activation(final_activation, final_activation_params))
        self.model = nn.ModuleList(model)

    @property
    def hop_length(self) -> int:
        """Output samples per latent frame."""
        return math.prod(self.strides)

    def get_output_length(self, n_frames: IntOrTensor) -> IntOrTensor:
        """Output samples for ``n_frames`` latent frames: n_frames * hop_length."""
        return chain_output_length(self.model, n_frames)

    def forward(self, z: torch.Tensor, lengths: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Decode ``z`` [B, dimension, T].

        Args:
            z: latent batch, items padded at the end.
            lengths: optional [B] valid frames per item (1 <= lengths <= T).

        Returns:
            wav [B, channels, T * hop_length] (zero past each item's samples when lengths are
            given) and the sample counts [B] = lengths * hop_length (None without lengths).
            Trim to the original number of samples yourself.
        """
        if z.dim() != 3 or z.shape[1] != self.dimension:
            raise ValueError(f"SEANetDecoder expects [B, {self.dimension}, T], got {list(z.shape)}")
        lengths = check_lengths(lengths, z)
        wav, lengths = run_layers(self.model, z, lengths)
        return mask_padding(wav, lengths), lengths
