"""The SLMTokBench benchmark YAML: options, scorers and token sources, validated.

Example (``conf/slmtokbench.yaml``; paths are relative to the recipe directory)::

    train_data_dir: dump/raw/train      # text-alignment training set (paper: train-clean-100)
    max_utts: 300                       # test utterances resynthesised and scored
    metrics: [wer, spk_sim, stoi, pesq, mel]
    asr: whisper_tiny                   # any sptok.eval ASR (name or import path)
    spk_model: resemblyzer              # any sptok.eval speaker model
    text_alignment: {hidden_size: 256, max_epochs: 10}
    voice_conversion: {pairs: 50, k: [2, 4, 8], frames: tile}
    projection: {method: pca, groups: ["1", "2:8"], per_speaker: 20}
    report: {title: SLMTokBench (mini_synth), examples: 3}
    sources:
      - {name: speechtokenizer, label: SpeechTokenizer, kind: codec,
         model: exp/codec_speechtokenizer, levels: ["1", "1:8"], role: main}
      - {name: baseline, label: Baseline codec, kind: codec, model: exp/codec_baseline,
         levels: ["1", "1:8"], role: baseline}
      - {name: hubert_km, label: HuBERT k-means 100, kind: units, teacher: exp/mini_hubert,
         layer: 2, num_units: 100, vocoder: exp/unit_vocoder}
      - {name: mycodec, kind: codes, codes: {train: x/train/codes.scp, test: x/test/codes.scp},
         info: x/codes_info.yaml, levels: ["1", "1:4"], decoder: x/exp}

Source kinds and their keys:

* ``codec``: ``model`` (experiment dir, weight file or official release; ``checkpoint``
  optional), ``levels`` (rows; default RVQ-1 and all levels), ``voice_conversion`` and
  ``projection`` (default true), ``role`` (``main`` / ``baseline``: whose clips the report's
  examples show first; informational).
* ``units``: HuBERT k-means units. Features from ``feats: {train: scp, test: scp}`` (dumped by
  ``sptok.bin.dump_teacher_feats``) or computed from ``teacher`` (+ ``layer``,
  ``teacher_format``); ``num_units`` (500), ``kmeans_iters``, ``kmeans_max_frames``;
  ``vocoder``: a unit-vocoder experiment (:mod:`sptok.slmtokbench.unit_vocoder`) for the
  resynthesis columns (without one the row has text-alignment numbers only).
* ``codes``: codes a user brings: ``codes: {train: scp, test: scp}`` ([T, n_q] code matrices,
  :class:`sptok.data.ark.CodesWriter` layout) and ``info``, a YAML file or mapping with
  ``n_q``, ``codebook_size``, ``frame_rate`` and ``codebooks`` (a ``[n_q, K, D]`` tensor file /
  ``.npy`` / checkpoint holding RVQ codebooks, or ``learned``: the probe learns an embedding per
  id instead), optional ``codebook_prefix``; ``levels``; ``decoder`` (a codec that decodes them,
  for resynthesis and voice conversion; optional).

``report.extra`` adds audio sections to the HTML report (:func:`parse_extra_sections`), e.g.
the recipe's zero-shot TTS samples::

    report:
      extra:
        - {title: Zero-shot TTS, text: exp/tts/test/text, prompt_scp: exp/tts/test/prompt.scp,
           systems: [{label: USLM, wav_scp: exp/uslm_st/decode_test/wav.scp}], examples: 2}
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from sptok.eval.asr import asr_choices
from sptok.eval.scoring import parse_metrics
from sptok.eval.speaker import speaker_choices
from sptok.slmtokbench.disentangle import FRAME_POLICIES, PROJECTION_METHODS
from sptok.slmtokbench.preservation import DEFAULT_METRICS
from sptok.slmtokbench.text_alignment import resolve_config as resolve_text_alignment
from sptok.slmtokbench.token_sources import format_levels, parse_levels
from sptok.utils.config import ConfigError, ConfigSchema, Option, load_yaml

SOURCE_KINDS = ("codec", "units", "codes")
ROLES = ("", "main", "baseline")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

OPTIONS = [
    Option("data_dir", None, "test data dir (wav.scp, text, utt2spk), e.g. dump/raw/test",
           type=str),
    Option("text", None, "test transcripts (default: <data_dir>/text)", type=str),
    Option("train_data_dir", None, "text-alignment training set (default: none, which is an "
                                   "error when a source needs it)", type=str),
    Option("train_text", None, "training transcripts (default: <train_data_dir>/text)",
           type=str),
    Option("max_utts", 300, "test utterances resynthesised and scored (paper: 300; null: all)",
           type=int, nullable=True),
    Option("metrics", list(DEFAULT_METRICS), "preservation metrics: wer, cer, spk_sim, stoi, "
                                             "estoi, pesq, mel", type=list),
    Option("sample_rate", 16000, "rate of the ground-truth row and of the scorers' input"),
    Option("scorer_device", "cpu", "device of the ASR and speaker models"),
    Option("normalize_text", True, "normalise transcripts before WER"),
    Option("device", "auto", "device of the codecs and the teacher: auto, cpu, cuda, cuda:N"),
    Option("batch_size", 8, "utterances encoded / decoded / scored together"),
    Option("num_threads", None, "CPU threads of torch (null: torch's default; on a shared CPU "
                                "1 is often much faster for small models)", type=int),
    Option("seed", 0, "seed of the utterance subsets, pairs and k-means"),
    Option("progress", True, "tqdm progress bars"),
    Option("text_alignment", {}, "options of the text-alignment probe "
                                 "(python -m sptok.slmtokbench.cli --print_config)", type=dict),
    Option("voice_conversion", {}, "enabled, pairs, k, frames (tile | crop)", type=dict),
    Option("projection", {}, "enabled, method (pca | tsne), groups, per_speaker", type=dict),
    Option("report", {}, "title, examples (utterances with audio players)", type=dict),
    Option("sources", [], "token sources (see the module docstring)", type=list),
]
SCHEMA = ConfigSchema(OPTIONS, [asr_choices, speaker_choices])

VC_SCHEMA = ConfigSchema([
    Option("enabled", True, "run voice conversion for codecs with voice_conversion: true"),
    Option("pairs", 50, "(source, reference) pairs of different speakers", type=int,
           nullable=True),
    Option("k", [2, 4, 8], "reference levels 2..k per condition", type=list),
    Option("frames", "tile", "fit the reference's frames to the source: tile or crop",
           choices=FRAME_POLICIES),
])
PROJECTION_SCHEMA = ConfigSchema([
    Option("enabled", True, "draw the projection for codecs with projection: true"),
    Option("method", "pca", "pca or tsne (scikit-learn)", choices=PROJECTION_METHODS),
    Option("groups", ["1", "2:8"], "level groups, one panel each", type=list),
    Option("per_speaker", 20, "utterances per speaker", type=int, nullable=True),
])
REPORT_SCHEMA = ConfigSchema([
    Option("title", "SLMTokBench", "page and table title"),
    Option("examples", 3, "utterances played in the HTML report"),
    Option("extra", [], "more audio sections of the HTML report, e.g. zero-shot TTS samples: "
                        "[{title, systems: [{label, wav_scp}], text, prompt_scp, reference_scp, "
                        "examples, note}] (see parse_extra_sections)", type=list),
])
EXTRA_SECTION_KEYS = ("title", "note", "examples", "text", "prompt_scp", "reference_scp",
                      "systems")

_COMMON_KEYS = ("name", "label", "kind")
_KIND_KEYS = {
    "codec": ("model", "checkpoint", "levels", "voice_conversion", "projection", "role"),
    "units": ("feats", "teacher", "layer", "teacher_format", "num_units", "kmeans_iters",
              "kmeans_max_frames", "vocoder", "vocoder_checkpoint", "role"),
    "codes": ("codes", "info", "levels", "decoder", "decoder_checkpoint", "voice_conversion",
              "projection", "role"),
}
_INFO_KEYS = ("n_q", "codebook_size", "frame_rate", "codebooks", "codebook_prefix",
              "sample_rate")


@dataclass
class Source:
    """One token source of the benchmark (see the module docstring)."""

    name: str
    kind: str
    label: str
    levels: List[str] = field(default_factory=list)
    model: Optional[str] = None
    checkpoint: Optional[str] = None
    role: str = ""
    voice_conversion: bool = False
    projection: bool = False
    feats: Dict[str, str] = field(default_factory=dict)
    teacher: Optional[str] = None
    layer: Any = 9
    teacher_format: str = "auto"
    num_units: int = 500
    kmeans_iters: int = 30
    kmeans_max_frames: Optional[int] = 200_000
    codes: Dict[str, str] = field(default_factory=dict)
    info: Dict[str, Any] = field(default_factory=dict)

    @property
    def decoder(self) -> Optional[str]:
        """The model that turns this source's tokens into speech (codec, vocoder, decoder)."""
        return self.model

    @property
    def learned_embedding(self) -> bool:
        """The probe learns an embedding per id (units, or codes without codebooks)."""
        return self.kind == "units" or self.info.get("codebooks") == "learned"

    def as_dict(self) -> Dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class Row:
    """One row of the table: a source and the levels its tokens are taken at."""

    source: Source
    levels: Optional[str]

    @property
    def id(self) -> str:
        """Directory name of the row's results."""
        if self.levels is None:
            return self.source.name
        return f"{self.source.name}_rvq{self.levels.replace(':', '-')}"

    @property
    def label(self) -> str:
        if self.levels is None:
            return self.source.label
        return f"{self.source.label} RVQ-{self.levels}"


def _where(index: int, spec: Mapping[str, Any]) -> str:
    return f"sources[{index}]" + (f" ({spec['name']})" if isinstance(spec.get("name"), str)
                                  else "")


def _set_paths(value: Any, where: str, key: str) -> Dict[str, str]:
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f"{where}: {key} must map set names to scp files, e.g. "
                          f"{{train: dump/train/{key}.scp, test: dump/test/{key}.scp}}")
    for name in ("train", "test"):
        if not isinstance(value.get(name), str):
            raise ConfigError(f"{where}: {key}.{name}: missing (an scp path)")
    extra = sorted(set(value) - {"train", "test"})
    if extra:
        raise ConfigError(f"{where}: {key}: unknown set(s) {extra}; give train and test")
    return {name: str(value[name]) for name in ("train", "test")}


def read_codes_info(info: Any, where: str) -> Dict[str, Any]:
    """The description of a user's codes (YAML file path or mapping), checked."""
    if isinstance(info, str):
        path = Path(info)
        if not path.is_file():
            raise ConfigError(f"{where}: info file '{info}' not found")
        info = load_yaml(path)
        where = f"{where}: {path}"
    if not isinstance(info, Mapping):
        raise ConfigError(f"{where}: info must be a mapping or a YAML file with n_q, "
                          f"codebook_size, frame_rate and codebooks")
    unknown = sorted(set(info) - set(_INFO_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown info key(s) {unknown}; known: {list(_INFO_KEYS)}")
    for key in ("n_q", "codebook_size"):
        if not isinstance(info.get(key), int) or isinstance(info.get(key), bool) \
                or info[key] < 1:
            raise ConfigError(f"{where}: info.{key} must be a positive integer, got "
                              f"{info.get(key)!r}")
    if not isinstance(info.get("frame_rate"), (int, float)) or info["frame_rate"] <= 0:
        raise ConfigError(f"{where}: info.frame_rate (frames per second) must be positive, got "
                          f"{info.get('frame_rate')!r}")
    books = info.get("codebooks")
    if not isinstance(books, str):
        raise ConfigError(f"{where}: info.codebooks must be a codebook file ([n_q, K, D] tensor, "
                          f".npy or checkpoint) or 'learned', got {books!r}")
    if books != "learned" and not Path(books).is_file():
        raise ConfigError(f"{where}: info.codebooks file '{books}' not found")
    return dict(info)


def _levels(value: Any, where: str, n_q: Optional[int]) -> List[str]:
    if value is None:
        if n_q is None:
            return ["1"]
        return ["1"] if n_q == 1 else ["1", f"1:{n_q}"]
    if isinstance(value, (str, int)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: levels must be a list of level specs such as ['1', '1:8']")
    specs = []
    for item in value:
        try:
            specs.append(format_levels(parse_levels(item, n_q)))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
    if len(set(specs)) != len(specs):
        raise ConfigError(f"{where}: repeated levels in {value}")
    return specs


def parse_source(spec: Any, index: int) -> Source:
    """One entry of ``sources``, checked (files of codes sources must exist)."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"sources[{index}]: expected a mapping with name and kind, got "
                          f"{spec!r}")
    where = _where(index, spec)
    name, kind = spec.get("name"), spec.get("kind")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}: name must be a word of letters, digits, '_', '.', '-' "
                          f"(it names the result folders), got {name!r}")
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"{where}: kind must be one of {SOURCE_KINDS}, got {kind!r}")
    allowed = _COMMON_KEYS + _KIND_KEYS[kind]
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} for kind '{kind}'; known: "
                          f"{list(allowed)}")
    role = spec.get("role", "") or ""
    if role not in ROLES:
        raise ConfigError(f"{where}: role must be main or baseline, got {role!r}")
    source = Source(name=name, kind=kind, label=str(spec.get("label") or name), role=role)
    if kind == "codec":
        if not isinstance(spec.get("model"), str):
            raise ConfigError(f"{where}: model (experiment dir or release) is required")
        source.model, source.checkpoint = spec["model"], spec.get("checkpoint")
        source.levels = _levels(spec.get("levels"), where, None) if "levels" in spec else []
        source.voice_conversion = bool(spec.get("voice_conversion", True))
        source.projection = bool(spec.get("projection", True))
    elif kind == "units":
        if "feats" in spec:
            source.feats = _set_paths(spec["feats"], where, "feats")
        elif not isinstance(spec.get("teacher"), str):
            raise ConfigError(f"{where}: give feats: {{train: scp, test: scp}} (dumped teacher "
                              f"features) or teacher: <checkpoint> (features computed here)")
        source.teacher = spec.get("teacher")
        source.layer = spec.get("layer", 9)
        source.teacher_format = str(spec.get("teacher_format", "auto"))
        source.num_units = int(spec.get("num_units", 500))
        source.kmeans_iters = int(spec.get("kmeans_iters", 30))
        source.kmeans_max_frames = spec.get("kmeans_max_frames", 200_000)
        if source.num_units < 2:
            raise ConfigError(f"{where}: num_units must be >= 2")
        source.model, source.checkpoint = spec.get("vocoder"), spec.get("vocoder_checkpoint")
    else:
        source.codes = _set_paths(spec.get("codes"), where, "codes")
        for set_name, scp in source.codes.items():
            if not Path(scp).is_file():
                raise ConfigError(f"{where}: codes.{set_name}: '{scp}' not found")
        if "info" not in spec:
            raise ConfigError(f"{where}: info (n_q, codebook_size, frame_rate, codebooks) is "
                              f"required for kind codes")
        source.info = read_codes_info(spec["info"], where)
        source.levels = _levels(spec.get("levels"), where, source.info["n_q"])
        source.model, source.checkpoint = spec.get("decoder"), spec.get("decoder_checkpoint")
        has_books = source.info["codebooks"] != "learned"
        source.voice_conversion = bool(spec.get("voice_conversion", source.model is not None))
        source.projection = bool(spec.get("projection", has_books))
        if source.voice_conversion and source.model is None:
            raise ConfigError(f"{where}: voice_conversion needs a decoder")
        if source.projection and not has_books:
            raise ConfigError(f"{where}: projection needs codebooks (info.codebooks is "
                              f"'learned')")
    return source


def parse_extra_sections(value: Any) -> List[Dict[str, Any]]:
    """``report.extra``, checked: audio sections the HTML report adds after its examples.

    Each section is a mapping with ``title``, ``systems`` (a list of ``{label, wav_scp}``: the
    clips compared, one wav.scp each) and optionally ``text`` (key -> transcript), ``prompt_scp``
    (key -> the prompt the system was given, played first), ``reference_scp`` (key -> the
    original recording), ``examples`` (utterances shown, default 3: the first keys, C-sorted,
    that every system has) and ``note``. Every file must exist.

    Raises:
        ConfigError: naming ``report.extra[i]`` and the key at fault.
    """
    if not isinstance(value, list):
        raise ConfigError(f"report.extra: a list of sections, got {value!r}")
    sections = []
    for index, spec in enumerate(value):
        where = f"report.extra[{index}]"
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}: a mapping with title and systems, got {spec!r}")
        unknown = sorted(set(spec) - set(EXTRA_SECTION_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}; known: "
                              f"{list(EXTRA_SECTION_KEYS)}")
        if not isinstance(spec.get("title"), str) or not spec["title"].strip():
            raise ConfigError(f"{where}: title (the section heading) is required")
        examples = spec.get("examples", 3)
        if not isinstance(examples, int) or isinstance(examples, bool) or examples < 1:
            raise ConfigError(f"{where}: examples must be a positive integer, got {examples!r}")
        section: Dict[str, Any] = {"title": spec["title"], "note": str(spec.get("note") or ""),
                                   "examples": examples}
        for key in ("text", "prompt_scp", "reference_scp"):
            path = spec.get(key)
            if path is not None and not (isinstance(path, str) and Path(path).is_file()):
                raise ConfigError(f"{where}: {key} '{path}' not found")
            section[key] = path
        systems = spec.get("systems")
        if not isinstance(systems, list) or not systems:
            raise ConfigError(f"{where}: systems must be a non-empty list of {{label, wav_scp}}")
        section["systems"] = []
        for number, system in enumerate(systems):
            if not isinstance(system, Mapping) or set(system) != {"label", "wav_scp"}:
                raise ConfigError(f"{where}.systems[{number}]: a mapping with exactly label and "
                                  f"wav_scp, got {system!r}")
            if not Path(str(system["wav_scp"])).is_file():
                raise ConfigError(f"{where}.systems[{number}]: wav_scp '{system['wav_scp']}' "
                                  f"not found")
            section["systems"].append({"label": str(system["label"]),
                                       "wav_scp": str(system["wav_scp"])})
        sections.append(section)
    return sections


def resolve(file_config: Optional[Mapping[str, Any]], overrides=(),
            source: str = "<config>") -> Dict[str, Any]:
    """The whole benchmark config: defaults <- file <- overrides, every section checked."""
    config = SCHEMA.resolve(file_config or {}, overrides, source)
    try:
        parse_metrics(config["metrics"])
        config["text_alignment"] = resolve_text_alignment(config["text_alignment"])
        config["voice_conversion"] = VC_SCHEMA.resolve(config["voice_conversion"],
                                                       source="voice_conversion")
        config["projection"] = PROJECTION_SCHEMA.resolve(config["projection"],
                                                         source="projection")
        config["report"] = REPORT_SCHEMA.resolve(config["report"], source="report")
        config["report"]["extra"] = parse_extra_sections(config["report"]["extra"])
        ks = config["voice_conversion"]["k"]
        if not ks or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1
                             for k in ks):
            raise ConfigError(f"voice_conversion.k: a list of levels >= 1, got {ks!r}")
        for spec in config["projection"]["groups"]:
            try:
                parse_levels(spec)
            except ValueError as exc:
                raise ConfigError(f"projection.groups: {exc}") from exc
        sources = [parse_source(spec, i) for i, spec in enumerate(config["sources"])]
        names = [s.name for s in sources]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(f"sources: repeated name(s) {repeated}")
        if not sources:
            raise ConfigError("sources: no token source given")
        if sum(s.role == "main" for s in sources) > 1:
            raise ConfigError("sources: at most one source has role: main")
    except (ConfigError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    if not config["data_dir"]:
        raise ConfigError(f"{source}: data_dir (the test data dir) is not set (--data_dir)")
    return config


def parsed_sources(config: Mapping[str, Any]) -> List[Source]:
    return [parse_source(spec, i) for i, spec in enumerate(config["sources"])]


def rows_of(source: Source, n_q: Optional[int] = None) -> List[Row]:
    """The table rows of a source; a codec without ``levels`` gets RVQ-1 and RVQ-1:n_q."""
    if source.kind == "units":
        return [Row(source, None)]
    levels = source.levels or _levels(None, source.name, n_q)
    return [Row(source, spec) for spec in levels]


__all__ = ["SOURCE_KINDS", "OPTIONS", "SCHEMA", "Source", "Row", "parse_source",
           "parse_extra_sections", "read_codes_info", "resolve", "parsed_sources", "rows_of"]
