"""The USLM task: zero-shot TTS language models (AR over RVQ-1, NAR over levels 2..n_q) trained
on the codec's tokens. Non-GAN: the trainer runs only its generator half.

YAML (``task: uslm``)::

    token_type: phn                # phn | bpe | char: how the recipe tokenized the text
    token_list: dump/phn/tokens.txt  # tokenize_text --write_token_list (null: the full
                                   # inventory of the tokenizer, what that CLI writes by default)
    tokenizer_conf: {cleaner: english, punctuation: true, stress: true, word_sep: _}
    codebook_size: 1024
    n_q: 8
    ar: uslm                       # USLMARModel(num_phonemes, codebook_size, **ar_conf)
    ar_conf: {d_model: 1024, num_heads: 16, num_layers: 12, ffn_dim: 4096}
    nar: uslm                      # USLMNARModel(..., n_q, **nar_conf)
    nar_conf: {...}
    train_ar: true                 # which models this run trains (see below)
    train_nar: true

Data: ``train_text`` / ``valid_text`` (tokenized Kaldi text, ``dump/<token_type>/<set>/text``)
and ``train_codes`` / ``valid_codes`` (the codec's ``codes.scp``); utterances outside
``min_frames .. max_frames`` code frames (or with more than ``max_phonemes`` tokens) are left
out. Batches are bucketed by code frames: ``batch_seconds`` counts padded **code frames** per
batch here (items x longest item), e.g. 7500 for the paper's "7,500 tokens per GPU".

One run or two:

* ``train_ar: true`` and ``train_nar: true`` (default): one experiment holds both models, the
  loss is the sum of the AR and NAR losses (upstream USLM's ``train_stage: 0``).
* Two runs (upstream's stages 1 and 2, e.g. in parallel on two GPUs): ``train_nar: false``
  trains the AR alone into one experiment, ``train_ar: false`` the NAR alone into another. A
  model that a run does not train is not built at all. Decoding takes both experiments:
  ``sptok.bin.tts --uslm_exp exp/uslm_ar exp/uslm_nar``.

The best model is ranked by the validation ``loss`` (``valid.loss.best.pth``). The symbol
table (``tokens.txt``) and, for BPE, the sentencepiece model (``bpe.model``) are copied into the
experiment directory, so that decoding needs nothing else from the recipe.
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import torch

from sptok.data.uslm_dataset import USLMCollate, USLMDataset
from sptok.text.g2p import DEFAULT_WORD_SEP, g2p_inventory
from sptok.text.symbol_table import SymbolTable
from sptok.text.tokenizer import TOKEN_TYPES, CharTokenizer, TextTokenizer, build_tokenizer
from sptok.train.task_mixin import GANTrainTask
from sptok.uslm.ar_model import USLMARModel
from sptok.uslm.nar_model import USLMNARModel
from sptok.uslm.train_model import USLM, USLMTrainModel
from sptok.utils.config import ConfigError, Option, Override, load_yaml
from sptok.utils.fileio import atomic_path
from sptok.utils.registry import ClassChoices

__all__ = ["USLMTask", "USLMModels", "load_uslm", "TOKENS_FILE", "BPE_FILE"]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

#: Files written into the experiment directory for decoding.
TOKENS_FILE = "tokens.txt"
BPE_FILE = "bpe.model"

TOKENIZER_DEFAULTS: Dict[str, Any] = {"cleaner": "english", "punctuation": True, "stress": True,
                                      "word_sep": DEFAULT_WORD_SEP}

ar_choices = ClassChoices("ar", {"uslm": USLMARModel}, default="uslm", type_check=USLMARModel,
                          injected=("num_phonemes", "codebook_size"))
nar_choices = ClassChoices("nar", {"uslm": USLMNARModel}, default="uslm",
                           type_check=USLMNARModel,
                           injected=("num_phonemes", "codebook_size", "n_q"))

USLM_OPTIONS = [
    # ---- text
    Option("token_type", "phn", choices=TOKEN_TYPES,
           help="How the recipe tokenized the transcripts (sptok.bin.tokenize_text "
                "--token_type): phn (ARPAbet G2P), bpe or char. Decoding tokenizes new text the "
                "same way."),
    Option("token_list", None, type=str,
           help="Token list ('symbol id' lines, tokenize_text --write_token_list). null: the "
                "tokenizer's full inventory (phn; char with the english cleaner; bpe: the "
                "model's pieces), which is what tokenize_text writes by default."),
    Option("bpe_model", None, type=str,
           help="token_type bpe: the sentencepiece model the text was tokenized with."),
    Option("tokenizer_conf", dict(TOKENIZER_DEFAULTS), type=dict,
           help="Text front-end options, the same as given to tokenize_text: cleaner "
                "(english|none), punctuation, stress (phn), word_sep (phn: token between words, "
                "null for none; char: token for a space)."),
    # ---- tokens
    Option("codebook_size", 1024, help="Codes per RVQ level of the codec."),
    Option("n_q", 8, help="RVQ levels modelled: the AR predicts level 1, the NAR levels 2..n_q "
                          "(the codes on disk must have at least n_q levels)."),
    Option("train_ar", True, help="Build and train the AR model in this run."),
    Option("train_nar", True, help="Build and train the NAR model in this run."),
    # ---- data
    Option("train_text", None, type=str,
           help="Tokenized training transcripts (utt tok1 tok2 ...), e.g. "
                "dump/phn/train/text."),
    Option("train_codes", None, type=str,
           help="Codes of the training set (the codec's codes.scp, [T, n_q] per utterance)."),
    Option("valid_text", None, type=str, help="Tokenized validation transcripts."),
    Option("valid_codes", None, type=str, help="Codes of the validation set."),
    Option("min_frames", 10, help="Leave out utterances with fewer code frames than this."),
    Option("max_frames", None, type=int,
           help="Leave out utterances with more code frames than this (null: no limit); the "
                "paper trains on 3-14 s, i.e. 150..700 frames at 50 Hz."),
    Option("max_phonemes", None, type=int,
           help="Leave out utterances with more text tokens than this (null: no limit)."),
    # ---- the trainer's options with another meaning or default here
    Option("batch_seconds", None, type=float,
           help="Dynamic batching by length: for this task in CODE FRAMES, not seconds. Each "
                "process's batch holds items of similar length whose padded size (items x "
                "longest item) stays within this (e.g. 7500: the paper's tokens per GPU). "
                "null: batch_size items."),
    Option("best_criterion", ["valid", "loss", "min"], type=list,
           help="[phase, stat, min|max] ranking the models; valid loss = AR + NAR loss of the "
                "models trained (the NAR's prompts and levels drawn from a fixed seed)."),
]

# Dry-run batch: two items (tokens, frames), the second padded.
_DRY_RUN_ITEMS = ((12, 40), (7, 25))


def _text_inventory(token_type: str, tokenizer_conf: Mapping[str, Any],
                    bpe_model: Optional[PathLike]) -> Optional[List[str]]:
    """Every token the configured tokenizer can output, without loading a G2P dictionary."""
    conf = {**TOKENIZER_DEFAULTS, **tokenizer_conf}
    if token_type == "phn":
        return g2p_inventory(conf["stress"], conf["word_sep"], conf["punctuation"])
    if token_type == "char":
        return CharTokenizer(conf["cleaner"], conf["punctuation"],
                             conf["word_sep"] or DEFAULT_WORD_SEP).inventory()
    if bpe_model is None:
        raise ConfigError("token_type bpe needs bpe_model (or a token_list)")
    return build_tokenizer("bpe", conf["cleaner"], conf["punctuation"],
                           bpe_model=bpe_model).inventory()


class USLMTask(GANTrainTask):
    """USLM training (see the module docstring)."""

    class_choices_list = [ar_choices, nar_choices]
    options = USLM_OPTIONS

    # ------------------------------------------------------------------ config
    @classmethod
    def resolve_config(cls, file_config: Optional[Mapping[str, Any]] = None,
                       overrides: Sequence[Override] = (),
                       source: str = "<config>") -> Dict[str, Any]:
        config = super().resolve_config(file_config, overrides, source)
        try:
            unknown = sorted(set(config["tokenizer_conf"]) - set(TOKENIZER_DEFAULTS))
            if unknown:
                raise ConfigError(f"tokenizer_conf: unknown key(s) {unknown}; known: "
                                  f"{sorted(TOKENIZER_DEFAULTS)}")
            if not (config["train_ar"] or config["train_nar"]):
                raise ConfigError("train_ar and train_nar are both false: nothing to train")
            if config["train_nar"] and config["n_q"] < 2:
                raise ConfigError(f"n_q: the NAR predicts levels 2..n_q, so n_q must be >= 2 "
                                  f"(got {config['n_q']}); or set train_nar: false")
            if config["n_q"] < 1 or config["codebook_size"] < 1:
                raise ConfigError(f"n_q ({config['n_q']}) and codebook_size "
                                  f"({config['codebook_size']}) must be positive")
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from error
        return config

    # ------------------------------------------------------------------ text
    @classmethod
    def symbol_table(cls, config: Mapping[str, Any]) -> SymbolTable:
        """The token -> id table: ``token_list``, or the tokenizer's full inventory."""
        if config["token_list"]:
            return SymbolTable.load(config["token_list"])
        inventory = _text_inventory(config["token_type"], config["tokenizer_conf"],
                                    config["bpe_model"])
        if inventory is None:
            raise ConfigError(f"token_list: not set, and token_type {config['token_type']} with "
                              f"cleaner {config['tokenizer_conf'].get('cleaner')!r} has no fixed "
                              "inventory; give the list tokenize_text wrote")
        return SymbolTable.from_inventory(inventory)

    @classmethod
    def build_tokenizer(cls, config: Mapping[str, Any],
                        bpe_model: Optional[PathLike] = None) -> TextTokenizer:
        """The text -> tokens function the training text was made with (G2P for phn)."""
        conf = {**TOKENIZER_DEFAULTS, **config["tokenizer_conf"]}
        bpe_model = bpe_model or config["bpe_model"]
        if config["token_type"] == "bpe" and not bpe_model:
            raise ConfigError("token_type bpe needs bpe_model")
        return build_tokenizer(config["token_type"], cleaner=conf["cleaner"],
                               punctuation=conf["punctuation"], stress=conf["stress"],
                               word_sep=conf["word_sep"], bpe_model=bpe_model)

    # ------------------------------------------------------------------ model
    @classmethod
    def build_ar(cls, config: Mapping[str, Any], num_phonemes: int) -> USLMARModel:
        return ar_choices.build(config["ar"], config["ar_conf"], num_phonemes=num_phonemes,
                                codebook_size=config["codebook_size"])

    @classmethod
    def build_nar(cls, config: Mapping[str, Any], num_phonemes: int) -> USLMNARModel:
        return nar_choices.build(config["nar"], config["nar_conf"], num_phonemes=num_phonemes,
                                 codebook_size=config["codebook_size"], n_q=config["n_q"])

    @classmethod
    def build_generator(cls, config: Mapping[str, Any],
                        num_phonemes: Optional[int] = None) -> USLM:
        """The models this run trains (``train_ar`` / ``train_nar``); ``num_phonemes`` defaults
        to the size of the configured symbol table."""
        if num_phonemes is None:
            num_phonemes = len(cls.symbol_table(config))
        ar = cls.build_ar(config, num_phonemes) if config["train_ar"] else None
        nar = cls.build_nar(config, num_phonemes) if config["train_nar"] else None
        return USLM(ar, nar)

    @classmethod
    def build_model(cls, config: Mapping[str, Any]) -> USLMTrainModel:
        return USLMTrainModel(cls.build_generator(config))

    # ------------------------------------------------------------------ data
    @classmethod
    def levels_needed(cls, config: Mapping[str, Any]) -> int:
        """Code levels a batch must carry: all n_q for the NAR, level 1 for the AR alone."""
        return config["n_q"] if config["train_nar"] else 1

    @classmethod
    def build_dataset(cls, config: Mapping[str, Any], split: str) -> USLMDataset:
        if split not in ("train", "valid"):
            raise ValueError(f"split must be 'train' or 'valid', got {split!r}")
        text, codes = config[f"{split}_text"], config[f"{split}_codes"]
        example = "train" if split == "train" else "dev"
        if not text:
            raise ConfigError(f"{split}_text: not set (tokenized transcripts, e.g. "
                              f"dump/{config['token_type']}/{example}/text)")
        if not codes:
            raise ConfigError(f"{split}_codes: not set (the codec's codes of the set, e.g. "
                              f"exp/<codec>/codes/{example}/codes.scp)")
        return USLMDataset(text, codes, cls.symbol_table(config), n_q=cls.levels_needed(config),
                           codebook_size=config["codebook_size"],
                           min_frames=config["min_frames"], max_frames=config["max_frames"],
                           max_phonemes=config["max_phonemes"])

    @classmethod
    def collate_fn(cls, config: Mapping[str, Any]) -> Callable:
        pad_id = cls.symbol_table(config).pad_id
        return USLMCollate(pad_id if pad_id is not None else 0)

    @classmethod
    def item_length(cls, dataset: USLMDataset, index: int) -> float:
        """Code frames of item ``index`` (batch_seconds counts frames for this task)."""
        return float(dataset.item_frames(index))

    # ------------------------------------------------------------------ training
    @classmethod
    def save_text_files(cls, config: Mapping[str, Any], output_dir: PathLike) -> None:
        """Copy the symbol table (and the BPE model) into the experiment directory."""
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        cls.symbol_table(config).save(output_dir / TOKENS_FILE)
        if config["token_type"] == "bpe":
            if not config["bpe_model"]:
                raise ConfigError("token_type bpe needs bpe_model (the sentencepiece model "
                                  "the text was tokenized with)")
            with atomic_path(output_dir / BPE_FILE) as tmp:
                shutil.copyfile(config["bpe_model"], tmp)

    @classmethod
    def train(cls, config: Mapping[str, Any], output_dir: Path) -> None:
        if int(os.environ.get("RANK", "0")) == 0:
            cls.save_text_files(config, output_dir)
        super().train(config, output_dir)

    # ------------------------------------------------------------------ dry run
    @classmethod
    def dry_run_inputs(cls, config: Mapping[str, Any]) -> Dict[str, Any]:
        generator = torch.Generator().manual_seed(0)
        num_phonemes = len(cls.symbol_table(config))
        tokens = torch.tensor([t for t, _ in _DRY_RUN_ITEMS])
        frames = torch.tensor([f for _, f in _DRY_RUN_ITEMS])
        batch = {
            "phonemes": torch.randint(0, num_phonemes, (len(tokens), int(tokens.max())),
                                      generator=generator),
            "phoneme_lengths": tokens,
            "codes": torch.randint(0, config["codebook_size"],
                                   (len(tokens), cls.levels_needed(config), int(frames.max())),
                                   generator=generator),
            "code_lengths": frames,
        }
        return {"batch": batch}

    @classmethod
    def dry_run_forward(cls, model: USLMTrainModel, inputs: Mapping[str, Any]) -> Any:
        """The training step's forward and loss (eval mode: no dropout)."""
        batch = inputs["batch"]
        model.eval()
        out = model.forward_generator(model.generator, batch)
        loss, stats = model.generator_loss(None, batch, out)
        return {"loss": loss, **{k: v for k, v in stats.items() if k.endswith("loss")}}


# ---------------------------------------------------------------------------------------------
# Loading trained models for decoding


@dataclass
class USLMModels:
    """Trained USLM models ready for decoding (eval mode).

    Attributes:
        ar: the AR model; nar: the NAR model (either may be None when not found).
        symbols: the token table the models were trained with.
        config: the resolved config of the experiment holding the AR (else the NAR).
        bpe_model: the BPE model saved in the experiment dir (token_type bpe), else None.
        sources: where each model came from.
    """

    ar: Optional[USLMARModel]
    nar: Optional[USLMNARModel]
    symbols: SymbolTable
    config: Dict[str, Any]
    bpe_model: Optional[Path] = None
    sources: Dict[str, str] = field(default_factory=dict)

    def build_tokenizer(self) -> TextTokenizer:
        """The text front-end the training text was made with."""
        return USLMTask.build_tokenizer(self.config, self.bpe_model)


def _experiment_symbols(exp_dir: Path, config: Mapping[str, Any]) -> SymbolTable:
    saved = exp_dir / TOKENS_FILE
    if saved.is_file():
        return SymbolTable.load(saved)
    logger.warning("%s: no %s; using the config's token list / tokenizer inventory", exp_dir,
                   TOKENS_FILE)
    return USLMTask.symbol_table(config)


_TEXT_KEYS = ("token_type", "tokenizer_conf")


def load_uslm(exp_dirs: Union[PathLike, Sequence[PathLike]], checkpoint: Optional[PathLike] = None,
              device: Union[str, torch.device] = "cpu") -> USLMModels:
    """Load the AR and NAR models from one experiment (trained together) or two (trained in
    separate runs).

    Args:
        exp_dirs: one or two experiment directories (or weight files beside a config.yaml).
        checkpoint: a weight file in the (single) experiment dir; default: its best model.
        device: where the models go.

    Raises:
        ValueError: a model found in two experiments, experiments that do not fit together
            (token tables, text front-end, codebook), or weights that do not fit the config.
        FileNotFoundError: a missing directory or weight file.
    """
    from sptok.inference.pretrained import SPTOK, _generator_state, resolve_model_files

    if isinstance(exp_dirs, (str, os.PathLike)):
        exp_dirs = [exp_dirs]
    if not 1 <= len(exp_dirs) <= 2:
        raise ValueError(f"give one or two USLM experiments, got {len(exp_dirs)}")
    if checkpoint is not None and len(exp_dirs) > 1:
        raise ValueError("checkpoint= picks a file of a single experiment; with two, pass the "
                         "weight files themselves")
    models: Dict[str, torch.nn.Module] = {}
    sources: Dict[str, str] = {}
    configs: Dict[str, Dict[str, Any]] = {}
    first: Optional[Dict[str, Any]] = None
    for exp in exp_dirs:
        files = resolve_model_files(exp, checkpoint)
        if files.kind != SPTOK:
            raise ValueError(f"{exp}: not an sptok experiment (no config.yaml)")
        raw = load_yaml(files.config)
        if raw.get("task") != "uslm":
            raise ValueError(f"{files.config}: task is {raw.get('task')!r}, not 'uslm'")
        config = USLMTask.resolve_config(raw, source=str(files.config))
        exp_dir = files.config.parent
        symbols = _experiment_symbols(exp_dir, config)
        state = _generator_state(files.weights)
        bpe = exp_dir / BPE_FILE
        entry = {"config": config, "symbols": symbols, "dir": exp_dir,
                 "bpe": bpe if bpe.is_file() else None}
        if first is None:
            first = entry
        else:
            if symbols != first["symbols"]:
                raise ValueError(f"{exp_dir} and {first['dir']} use different token tables "
                                 f"({TOKENS_FILE}): their models cannot be combined")
            for key in (*_TEXT_KEYS, "codebook_size"):
                if config[key] != first["config"][key]:
                    raise ValueError(f"{exp_dir} and {first['dir']} differ in {key}: "
                                     f"{config[key]!r} vs {first['config'][key]!r}")
        for part, build in (("ar", USLMTask.build_ar), ("nar", USLMTask.build_nar)):
            prefix = f"{part}."
            part_state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if not part_state:
                continue
            if part in models:
                raise ValueError(f"both {sources[part]} and {files.weights} hold a {part.upper()} "
                                 "model; pass the experiments so that each model comes from one")
            model = build(config, len(symbols))
            try:
                model.load_state_dict(part_state)
            except RuntimeError as error:
                raise ValueError(f"{files.weights}: the {part.upper()} weights do not fit "
                                 f"{files.config} with {len(symbols)} tokens: {error}") from error
            models[part] = model.to(device).eval()
            sources[part] = str(files.weights)
            configs[part] = config
        if not any(k.startswith(("ar.", "nar.")) for k in state):
            raise ValueError(f"{files.weights}: no AR or NAR weights (keys ar.* / nar.*)")
    assert first is not None
    nar = models.get("nar")
    if nar is not None and "ar" in models and nar.codebook_size != models["ar"].codebook_size:
        raise ValueError("the AR and NAR models have different codebook sizes")
    logger.info("USLM: %s", ", ".join(f"{k.upper()} from {v}" for k, v in sources.items()))
    return USLMModels(ar=models.get("ar"), nar=nar, symbols=first["symbols"],
                      config=configs.get("ar", configs.get("nar", first["config"])),
                      bpe_model=first["bpe"], sources=sources)
