"""The codec task: SpeechTokenizer (and its no-distillation baseline) trained as a GAN.

YAML (``task: codec``), components chosen by name::

    encoder: seanet          # SEANetEncoder(**encoder_conf)
                             # | stft (STFTEncoder: STFT log-magnitudes + frame-rate ConvNeXt)
    quantizer: rvq           # ResidualVQ(dimension=<encoder dimension>, **quantizer_conf)
    decoder: seanet          # SEANetDecoder(dimension=<encoder dimension>, **decoder_conf)
                             # | istft (ISTFTDecoder: frame-rate ConvNeXt + inverse STFT)
    teacher: offline         # dumped features (teacher_conf.feature_dim) | online | none
    distill_loss: d_axis     # d_axis | t_axis | none (none together with teacher: none)
    mel_loss: multi_resolution
    discriminators: [mpd, msd, msstft]   # or {msstft: {filters: 16}}, or none
    model: speechtokenizer   # loss weights, discriminator warm-up: model_conf

Data: ``train_data_dir`` / ``valid_data_dir`` (formatted data dirs with wav.scp and
utt2num_samples) and, with ``teacher: offline``, ``train_teacher_feats`` / ``valid_teacher_feats``
(scp of the dumped teacher features). Training takes random ``segment_seconds`` crops;
validation deterministic ``valid_segment_seconds`` crops (null: whole utterances).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

import torch
from torch import nn

from sptok.data.codec_dataset import CodecDataset, collate_codec_batch
from sptok.discriminators.combined import build_discriminator, discriminator_choices
from sptok.losses.distill import teacher_num_frames
from sptok.losses.mel import MultiResolutionMelLoss
from sptok.models.codec_model import SpeechTokenizerGAN
from sptok.models.distill import DAxisDistillLoss, TAxisDistillLoss
from sptok.models.speechtokenizer import SpeechTokenizerModel
from sptok.models.teacher_targets import OfflineTeacher, OnlineHubertTeacher, TeacherTargets
from sptok.modules.istft_decoder import ISTFTDecoder
from sptok.modules.seanet import SEANetDecoder, SEANetEncoder
from sptok.modules.semantic import SemanticHead
from sptok.modules.stft_encoder import STFTEncoder
from sptok.quantization.residual_vq import ResidualVQ
from sptok.train.task_mixin import GANTrainTask
from sptok.utils.config import ConfigError, Option, Override, load_yaml
from sptok.utils.registry import ClassChoices

encoder_choices = ClassChoices("encoder", {"seanet": SEANetEncoder, "stft": STFTEncoder},
                               default="seanet",
                               type_check=nn.Module)
quantizer_choices = ClassChoices("quantizer", {"rvq": ResidualVQ}, default="rvq",
                                 type_check=nn.Module, injected=("dimension",))
decoder_choices = ClassChoices("decoder", {"seanet": SEANetDecoder, "istft": ISTFTDecoder},
                               default="seanet",
                               type_check=nn.Module, injected=("dimension",))
teacher_choices = ClassChoices("teacher", {"offline": OfflineTeacher,
                                           "online": OnlineHubertTeacher},
                               default="offline", optional=True, type_check=TeacherTargets)
distill_loss_choices = ClassChoices("distill_loss", {"d_axis": DAxisDistillLoss,
                                                     "t_axis": TAxisDistillLoss},
                                    default="d_axis", optional=True, type_check=nn.Module)
mel_loss_choices = ClassChoices("mel_loss", {"multi_resolution": MultiResolutionMelLoss},
                                default="multi_resolution", type_check=nn.Module,
                                injected=("sample_rate",))
model_choices = ClassChoices("model", {"speechtokenizer": SpeechTokenizerGAN},
                             default="speechtokenizer", type_check=nn.Module,
                             injected=("generator", "discriminator", "mel_loss", "distill_loss",
                                       "teacher"))

CODEC_OPTIONS = [
    Option("sample_rate", 16000, help="Audio sample rate in Hz (the data must already have it)."),
    Option("discriminators", ["mpd", "msd", "msstft"], type=(list, dict, str), nullable=True,
           help="Discriminators by name (mpd, msd, msstft, or package.module:Class): a list, or "
                "a mapping name -> options; none/null trains without a discriminator."),
    Option("train_data_dir", None, type=str,
           help="Training data dir (wav.scp + utt2num_samples), e.g. dump/raw/train."),
    Option("valid_data_dir", None, type=str, help="Validation data dir, e.g. dump/raw/dev."),
    Option("train_teacher_feats", None, type=str,
           help="teacher: offline: scp of the dumped teacher features of the training set."),
    Option("valid_teacher_feats", None, type=str,
           help="teacher: offline: scp of the dumped teacher features of the validation set."),
    Option("segment_seconds", 3.0, help="Training crop length in seconds (rounded to whole "
                                        "frames); shorter utterances are padded."),
    Option("valid_segment_seconds", None, type=float,
           help="Validation crop length (middle of the utterance); null: whole utterances."),
    Option("min_seconds", 0.1, help="Utterances shorter than this are left out."),
]

# Dry-run batch: two items of different lengths (seconds), the second padded.
_DRY_RUN_SECONDS = (0.5, 0.35)

PathLike = Union[str, Path]


def complete_discriminators(spec: Any) -> Optional[Dict[str, Dict[str, Any]]]:
    """The ``discriminators`` option as name -> completed options, or None (no discriminator)."""
    if spec is None or spec == "none" or (isinstance(spec, (list, dict)) and not spec):
        return None
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, list):
        names = [str(name) for name in spec]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError(f"discriminators: repeated name(s) {', '.join(duplicates)}")
        spec = {name: None for name in names}
    completed = {}
    for name, conf in spec.items():
        try:
            completed[str(name)] = discriminator_choices.complete_conf(name, conf)
        except ConfigError as error:
            raise ConfigError(f"discriminators: {name}: {error}") from error
    return completed


class CodecTask(GANTrainTask):
    """SpeechTokenizer codec training (see the module docstring)."""

    class_choices_list = [encoder_choices, quantizer_choices, decoder_choices, teacher_choices,
                          distill_loss_choices, mel_loss_choices, model_choices]
    options = CODEC_OPTIONS

    # ------------------------------------------------------------------ config
    @classmethod
    def resolve_config(cls, file_config: Optional[Mapping[str, Any]] = None,
                       overrides: Sequence[Override] = (),
                       source: str = "<config>") -> Dict[str, Any]:
        config = super().resolve_config(file_config, overrides, source)
        try:
            config["discriminators"] = complete_discriminators(config["discriminators"])
            if teacher_choices.is_off(config["teacher"]) != distill_loss_choices.is_off(
                    config["distill_loss"]):
                raise ConfigError(f"teacher is {config['teacher']!r} but distill_loss is "
                                  f"{config['distill_loss']!r}: distil with both set, or set "
                                  "both to none (the baseline)")
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from error
        return config

    # ------------------------------------------------------------------ model
    @classmethod
    def build_generator(cls, config: Mapping[str, Any],
                        semantic_dim: Optional[int] = None) -> SpeechTokenizerModel:
        """Encoder + quantizer + decoder (+ semantic head when distilling).

        Args:
            semantic_dim: output size of the semantic head; None takes the teacher's (an online
                teacher is loaded to learn it); 0 builds no head.
        """
        encoder = encoder_choices.build(config["encoder"], config["encoder_conf"])
        dimension = encoder.dimension
        quantizer = quantizer_choices.build(config["quantizer"], config["quantizer_conf"],
                                            dimension=dimension)
        decoder = decoder_choices.build(config["decoder"], config["decoder_conf"],
                                        dimension=dimension)
        head = None
        if semantic_dim is None:
            semantic_dim = cls.teacher_feature_dim(config)
        if semantic_dim:
            head = SemanticHead(dimension, semantic_dim)
        try:
            return SpeechTokenizerModel(encoder, quantizer, decoder, head,
                                        sample_rate=config["sample_rate"])
        except ValueError as error:
            raise ConfigError(f"encoder_conf / decoder_conf: {error}") from error

    @classmethod
    def teacher_feature_dim(cls, config: Mapping[str, Any]) -> Optional[int]:
        """Feature dimension of the configured teacher without loading it when avoidable."""
        if teacher_choices.is_off(config["teacher"]):
            return None
        if config["teacher"] == "offline":
            return int(config["teacher_conf"]["feature_dim"])
        return cls.build_teacher(config).feature_dim

    @classmethod
    def load_generator(cls, config: Union[Mapping[str, Any], PathLike], weights: PathLike,
                       map_location: Union[str, torch.device] = "cpu") -> SpeechTokenizerModel:
        """A trained generator in eval mode, for tokenizing and resynthesis.

        Args:
            config: the experiment's resolved ``config.yaml`` (path) or config dict.
            weights: generator weights (``*.pth`` written by the trainer: ``<step>steps.pth``,
                ``valid.mel_distance.best.pth``) or a training ``checkpoint.pt``.
            map_location: device for the weights (the model is built on CPU, then moved).
        """
        if not isinstance(config, Mapping):
            path = config
            config = cls.resolve_config(load_yaml(path), source=str(path))
        state = torch.load(weights, map_location="cpu", weights_only=False)
        if isinstance(state, Mapping) and isinstance(state.get("model"), Mapping):
            prefix = "generator."  # a trainer checkpoint holds the whole model
            state = {k[len(prefix):]: v for k, v in state["model"].items() if k.startswith(prefix)}
        if not isinstance(state, Mapping) or not state:
            raise ValueError(f"{weights}: neither generator weights nor a training checkpoint")
        head = state.get("semantic_head.weight")
        # The head's size comes from the weights: an online teacher need not be at hand.
        generator = cls.build_generator(config, semantic_dim=0 if head is None else head.shape[0])
        generator.load_state_dict(state)
        return generator.to(map_location).eval()

    @classmethod
    def build_teacher(cls, config: Mapping[str, Any]) -> Optional[TeacherTargets]:
        return teacher_choices.build(config["teacher"], config["teacher_conf"])

    @classmethod
    def build_model(cls, config: Mapping[str, Any]) -> SpeechTokenizerGAN:
        teacher = cls.build_teacher(config)
        generator = cls.build_generator(config, semantic_dim=teacher.feature_dim if teacher else 0)
        discriminator = None
        if config["discriminators"]:
            discriminator = build_discriminator(config["discriminators"])
        mel_loss = mel_loss_choices.build(config["mel_loss"], config["mel_loss_conf"],
                                          sample_rate=config["sample_rate"])
        distill_loss = distill_loss_choices.build(config["distill_loss"],
                                                  config["distill_loss_conf"])
        try:
            return model_choices.build(config["model"], config["model_conf"], generator=generator,
                                       discriminator=discriminator, mel_loss=mel_loss,
                                       distill_loss=distill_loss, teacher=teacher)
        except ValueError as error:
            raise ConfigError(f"model_conf: {error}") from error

    # ------------------------------------------------------------------ data
    @classmethod
    def hop_length(cls, config: Mapping[str, Any]) -> int:
        """Samples per codec frame, from the encoder's strides (building it only if needed)."""
        strides = config["encoder_conf"].get("strides")
        if strides is not None:
            return int(math.prod(int(s) for s in strides))
        return int(encoder_choices.build(config["encoder"], config["encoder_conf"]).hop_length)

    @classmethod
    def build_dataset(cls, config: Mapping[str, Any], split: str) -> CodecDataset:
        if split not in ("train", "valid"):
            raise ValueError(f"split must be 'train' or 'valid', got {split!r}")
        data_dir = config[f"{split}_data_dir"]
        if not data_dir:
            raise ConfigError(f"{split}_data_dir: not set (a formatted data dir such as "
                              f"dump/raw/{'train' if split == 'train' else 'dev'})")
        feats_key = f"{split}_teacher_feats"
        feats = config[feats_key]
        teacher_dim = None
        if config["teacher"] == "offline":
            if not feats:
                raise ConfigError(f"{feats_key}: not set, but teacher: offline needs the dumped "
                                  "teacher features (an scp from the teacher stage)")
            teacher_dim = int(config["teacher_conf"]["feature_dim"])
        elif feats:
            raise ConfigError(f"{feats_key}: given, but teacher is {config['teacher']!r}; only "
                              "teacher: offline reads dumped features")
        training = split == "train"
        return CodecDataset(
            data_dir, sample_rate=config["sample_rate"],
            segment_seconds=config["segment_seconds"] if training else config["valid_segment_seconds"],
            hop_length=cls.hop_length(config), random_crop=training,
            teacher_feats=feats or None, teacher_dim=teacher_dim,
            min_seconds=config["min_seconds"])

    @classmethod
    def collate_fn(cls, config: Mapping[str, Any]) -> Callable:
        return collate_codec_batch

    @classmethod
    def item_length(cls, dataset: CodecDataset, index: int) -> float:
        """Seconds of audio of item ``index``."""
        return dataset.item_seconds(index)

    # ------------------------------------------------------------------ dry run
    @classmethod
    def dry_run_inputs(cls, config: Mapping[str, Any]) -> Dict[str, Any]:
        generator = torch.Generator().manual_seed(0)
        rate, hop = config["sample_rate"], cls.hop_length(config)
        lengths = torch.tensor([int(s * rate) for s in _DRY_RUN_SECONDS])
        wav = 0.1 * torch.randn(len(lengths), 1, int(lengths.max()), generator=generator)
        wav[1, :, int(lengths[1]):] = 0
        batch: Dict[str, Any] = {"wav": wav, "lengths": lengths}
        if config["teacher"] == "offline":
            dim = int(config["teacher_conf"]["feature_dim"])
            frames = -(-int(lengths.max()) // hop)
            batch["teacher_feats"] = torch.randn(len(lengths), frames, dim, generator=generator)
            batch["teacher_lengths"] = teacher_num_frames(lengths, hop=hop)
        return {"batch": batch}

    @classmethod
    def dry_run_forward(cls, model: SpeechTokenizerGAN, inputs: Mapping[str, Any]) -> Any:
        """Generator forward + generator loss, and one discriminator forward.

        In eval mode: a fresh quantizer would otherwise run its k-means initialisation, which
        takes long for paper-size codebooks and proves nothing about the config.
        """
        batch = inputs["batch"]
        model.eval()
        out = model.forward_generator(model.generator, batch)
        loss, stats = model.generator_loss(model.discriminator, batch, out)
        report = {"wav_hat": out["wav_hat"], "codes": out["codes"], "loss": loss}
        if out.get("semantic") is not None:
            report["semantic"] = out["semantic"]
        if model.discriminator is not None:
            logits, _ = model.discriminator(out["wav_hat"])
            report["discriminator_outputs"] = len(logits)
        return report
