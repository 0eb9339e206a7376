"""SpeechTokenizer generator: SEANet encoder -> residual VQ -> SEANet decoder, plus the semantic
head that projects RVQ-1's output into the teacher's feature space for distillation.

Every entry point takes optional per-item ``lengths`` (valid samples of a padded batch) and gives
each utterance the codes and audio it gets alone, up to float rounding: the encoder and decoder
keep the padding out of every item's output (the bidirectional LSTM packs the batch) and the
quantizer works frame by frame. Not bit for bit: the packed LSTM runs other kernels than an
unpadded one, which flips rare near-tie codes (24-58 of 12,200 in tools/bench/bench_codec.py at
paper size). Codes that must equal one-at-a-time coding exactly come from one forward per
utterance (``sptok.inference.SpeechTokenizer`` with ``batch_mode="per_item"``).

Shapes: waveforms [B, 1, N] at ``sample_rate``; latents [B, D, T] with T = ceil(N / hop_length);
codes [B, n_q, T] (long). The official package returns codes as [n_q, B, T]: transpose when
comparing.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch
from torch import nn

from sptok.modules.lengths import check_lengths, mask_padding
from sptok.modules.official import load_official_state_dict, official_config_to_kwargs
from sptok.modules.seanet import SEANetDecoder, SEANetEncoder
from sptok.modules.semantic import SemanticHead
from sptok.quantization.official import (quantizer_state_from_official,
                                         residual_vq_kwargs_from_official_config)
from sptok.quantization.residual_vq import ResidualVQ

PathLike = Union[str, Path]


class SpeechTokenizerModel(nn.Module):
    """The trainable codec (the GAN's generator).

    Args:
        encoder: waveform [B, 1, N] -> latent [B, D, T]; ``forward(x, lengths)`` returns
            ``(z, frame_lengths)`` and it has ``hop_length`` and ``dimension``
            (:class:`~sptok.modules.seanet.SEANetEncoder`).
        quantizer: :class:`~sptok.quantization.ResidualVQ` (or the same interface) over D.
        decoder: latent [B, D, T] -> waveform [B, 1, T * hop_length]
            (:class:`~sptok.modules.seanet.SEANetDecoder`).
        semantic_head: Linear D -> teacher_dim applied to RVQ-1's output; None when the model is
            trained without distillation (the baseline).
        sample_rate: audio sample rate in Hz (metadata; the model does not resample).
    """

    def __init__(self, encoder: nn.Module, quantizer: ResidualVQ, decoder: nn.Module,
                 semantic_head: Optional[nn.Module] = None, sample_rate: int = 16000):
        super().__init__()
        if encoder.hop_length != decoder.hop_length:
            raise ValueError(f"encoder hop length {encoder.hop_length} (strides "
                             f"{getattr(encoder, 'strides', '?')}) differs from the decoder's "
                             f"{decoder.hop_length} (strides {getattr(decoder, 'strides', '?')})")
        for name, module in (("quantizer", quantizer), ("decoder", decoder)):
            if module.dimension != encoder.dimension:
                raise ValueError(f"{name} dimension {module.dimension} differs from the encoder "
                                 f"dimension {encoder.dimension}")
        if semantic_head is not None and semantic_head.in_features != encoder.dimension:
            raise ValueError(f"semantic head input {semantic_head.in_features} differs from the "
                             f"latent dimension {encoder.dimension}")
        self.encoder = encoder
        self.quantizer = quantizer
        self.decoder = decoder
        self.semantic_head = semantic_head
        self.sample_rate = int(sample_rate)

    # ------------------------------------------------------------------ properties
    @property
    def hop_length(self) -> int:
        """Samples per code frame (320 for 16 kHz at 50 Hz)."""
        return int(self.encoder.hop_length)

    @property
    def frame_rate(self) -> float:
        """Code frames per second."""
        return self.sample_rate / self.hop_length

    @property
    def n_q(self) -> int:
        return int(self.quantizer.n_q)

    @property
    def codebook_size(self) -> int:
        return int(self.quantizer.codebook_size)

    @property
    def dimension(self) -> int:
        return int(self.encoder.dimension)

    @property
    def semantic_dim(self) -> Optional[int]:
        """Teacher feature dimension of the semantic head (None without one)."""
        return None if self.semantic_head is None else int(self.semantic_head.out_features)

    def num_frames(self, n_samples):
        """Code frames for ``n_samples`` samples (int or tensor): ceil(N / hop_length)."""
        return self.encoder.get_output_length(n_samples)

    def meta_info(self) -> Dict[str, Any]:
        """What a user of the tokens needs to know (ESPnet codec convention)."""
        return {
            "sample_rate": self.sample_rate,
            "hop_length": self.hop_length,
            "frame_shift": self.hop_length,
            "frame_rate": self.frame_rate,
            "n_q": self.n_q,
            "codebook_size": self.codebook_size,
            "dimension": self.dimension,
            "semantic_dim": self.semantic_dim,
            "bitrate": self.frame_rate * self.n_q * float(torch.tensor(self.codebook_size).log2()),
        }

    # ------------------------------------------------------------------ helpers
    def _check_wav(self, wav: torch.Tensor, lengths: Optional[torch.Tensor]
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
        if wav.dim() != 3 or wav.shape[1] != 1:
            raise ValueError(f"{type(self).__name__} expects waveforms [B, 1, N], "
                             f"got {list(wav.shape)}")
        lengths = check_lengths(lengths, wav)
        if lengths is None:
            lengths = torch.full((wav.shape[0],), wav.shape[-1], dtype=torch.long,
                                 device=wav.device)
        return wav, lengths

    def _encode_latent(self, wav: torch.Tensor, lengths: Optional[torch.Tensor]
                       ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(latent [B, D, T], sample lengths [B], frame lengths [B])."""
        wav, lengths = self._check_wav(wav, lengths)
        z, frame_lengths = self.encoder(wav, lengths)
        return z, lengths, frame_lengths

    # ------------------------------------------------------------------ training forward
    def forward(self, wav: torch.Tensor, lengths: Optional[torch.Tensor] = None,
                n_q: Optional[int] = None) -> Dict[str, Any]:
        """Encode, quantise (updating the codebooks in training) and decode.

        Args:
            wav: [B, 1, N] waveforms, padded at the end.
            lengths: [B] valid samples per item (None: all N).
            n_q: quantizer levels to use (default all; quantizer dropout may use fewer per item).

        Returns:
            dict with
            ``wav_hat`` [B, 1, N] reconstruction (zero past each item's length),
            ``lengths`` [B] valid samples, ``frame_lengths`` [B] valid frames,
            ``codes`` [B, n_q, T], ``commit_loss`` [n_q] per-level commitment loss,
            ``semantic`` [B, T, teacher_dim] RVQ-1's output through the semantic head (None
            without a head), ``perplexity`` [n_q], ``n_levels`` [B] levels each item used.
        """
        z, lengths, frame_lengths = self._encode_latent(wav, lengths)
        q = self.quantizer(z, n_q=n_q, lengths=frame_lengths)
        wav_hat, _ = self.decoder(q.quantized, frame_lengths)
        # The decoder yields whole frames (T * hop >= N): keep the input's length.
        wav_hat = mask_padding(wav_hat[..., :wav.shape[-1]], lengths)
        semantic = None
        if self.semantic_head is not None:
            semantic = self.semantic_head(q.first_level.transpose(1, 2))
        return {
            "wav_hat": wav_hat,
            "lengths": lengths,
            "frame_lengths": frame_lengths,
            "codes": q.codes,
            "commit_loss": q.commit_loss,
            "semantic": semantic,
            "perplexity": q.perplexity,
            "n_levels": q.n_levels,
        }

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def encode(self, wav: torch.Tensor, lengths: Optional[torch.Tensor] = None,
               n_q: Optional[int] = None, start_level: int = 0,
               restart_residual: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """Codes of a padded batch.

        Args:
            wav: [B, 1, N]; lengths: [B] valid samples (None: all N).
            n_q: number of levels (default all from ``start_level``).
            start_level: first level returned.
            restart_residual: feed the latent itself to ``start_level`` (official
                ``encode(st=...)``) instead of the residual left by the levels before it.

        Returns:
            (codes [B, n_q, T] long, code_lengths [B] valid frames per item). Frames past an
            item's length hold the codes of a zero latent; ignore them.
        """
        z, _, frame_lengths = self._encode_latent(wav, lengths)
        codes = self.quantizer.encode(z, n_q=n_q, start_level=start_level,
                                      restart_residual=restart_residual)
        return codes, frame_lengths

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, lengths: Optional[torch.Tensor] = None,
               start_level: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
        """Waveforms from codes of any contiguous range of levels.

        Args:
            codes: [B, k, T] integer codes of levels start_level .. start_level + k - 1.
            lengths: [B] valid frames per item (None: all T).
            start_level: level of the first row of ``codes``.

        Returns:
            (wav [B, 1, T * hop_length], sample lengths [B] = lengths * hop_length); zero past
            each item's length.
        """
        if codes.dim() != 3:
            raise ValueError(f"codes must be [B, n_q, T], got {list(codes.shape)}")
        lengths = check_lengths(lengths, codes)
        if lengths is None:
            lengths = torch.full((codes.shape[0],), codes.shape[-1], dtype=torch.long,
                                 device=codes.device)
        latent = self.quantizer.decode(codes, start_level=start_level)
        latent = mask_padding(latent, lengths)
        wav, sample_lengths = self.decoder(latent, lengths)
        return wav, sample_lengths

    @torch.no_grad()
    def quantized_levels(self, wav: torch.Tensor, lengths: Optional[torch.Tensor] = None,
                         n_q: Optional[int] = None) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """Each level's quantized latent [B, D, T] (official ``forward_feature``) and the
        frame lengths [B]. Level 0 is the distilled, "semantic" one."""
        z, _, frame_lengths = self._encode_latent(wav, lengths)
        n_q = self.n_q if n_q is None else n_q
        codes = self.quantizer.encode(z, n_q=n_q)
        levels = [mask_padding(self.quantizer.decode(codes[:, i:i + 1], start_level=i),
                               frame_lengths) for i in range(n_q)]
        return levels, frame_lengths

    # ------------------------------------------------------------------ official release
    @classmethod
    def from_official(cls, config: Union[Mapping[str, Any], PathLike],
                      state_dict: Union[Mapping[str, torch.Tensor], PathLike]
                      ) -> "SpeechTokenizerModel":
        """Build the model of an official release (``config.json`` + ``SpeechTokenizer.pt``).

        Args:
            config: the release's config (dict) or the path of its ``config.json``.
            state_dict: the release's state dict or the path of its ``.pt``.

        Returns:
            the model in eval mode, weights loaded strictly.
        """
        if not isinstance(config, Mapping):
            with open(config, encoding="utf-8") as f:
                config = json.load(f)
        if not isinstance(state_dict, Mapping):
            state_dict = torch.load(state_dict, map_location="cpu", weights_only=True)
        encoder_kwargs, decoder_kwargs = official_config_to_kwargs(config)
        encoder = SEANetEncoder(**encoder_kwargs)
        decoder = SEANetDecoder(**decoder_kwargs)
        quantizer = ResidualVQ(**residual_vq_kwargs_from_official_config(config))
        dimension = int(config["dimension"])
        semantic_dim = int(config.get("semantic_dimension", dimension))
        head = SemanticHead(dimension, semantic_dim)
        load_official_state_dict(encoder, state_dict, "encoder.")
        load_official_state_dict(decoder, state_dict, "decoder.")
        quantizer.load_state_dict(quantizer_state_from_official(state_dict))
        if any(key.startswith("transform.") for key in state_dict):
            load_official_state_dict(head, state_dict, "transform.")
        else:  # the release uses nn.Identity when the dimensions agree
            with torch.no_grad():
                head.weight.copy_(torch.eye(semantic_dim, dimension))
                head.bias.zero_()
        model = cls(encoder, quantizer, decoder, head,
                    sample_rate=int(config.get("sample_rate", 16000)))
        return model.eval()
