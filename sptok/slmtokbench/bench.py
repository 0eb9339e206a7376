"""SLMTokBench end to end: tokens -> text alignment -> information preservation -> voice
conversion -> projection -> report.

Usage::

    python -m sptok.bin.slmtokbench --data_dir dump/raw/test --train_data_dir dump/raw/train \\
        --sources conf/slmtokbench.yaml --out_dir exp/slmtokbench [--steps tokens,report] \\
        [--force preservation] [--max_utts 100 --text_alignment.hidden_size 256 ...]

The YAML (:mod:`sptok.slmtokbench.bench_config`) lists the token sources and the scorers;
``--key value`` overrides any of its options. Steps (``--steps``, default all, in this order):

==================  ============================================================================
tokens              codes of the train and test sets: codecs encode the audio; HuBERT units are
                    k-means ids of teacher features; user codes are checked. ``tokens/<source>/``
text_alignment      BiLSTM-CTC probe trained on the train set's tokens, WER and MI on the test
                    set, per row. ``text_alignment/<row>/results.yaml``
preservation        resynthesis from each row's levels (and the originals: ground truth), WER,
                    SIM, STOI, PESQ, mel. ``preservation/<row>/summary.yaml``
voice_conversion    source RVQ-1 + reference levels 2..k. ``voice_conversion/<source>/k<k>/``
projection          2-D projection of RVQ-1 vs RVQ-2:8 embeddings by speaker.
                    ``projection/<source>/projection.png``
report              ``results.yaml``, ``results.md`` and ``report/report.html``
==================  ============================================================================

Every unit of work writes its result file last and is skipped when that file exists, so an
interrupted run resumes where it stopped; ``--force STEP[,STEP]`` (or ``all``) recomputes.
``config.yaml`` in the output directory records the resolved configuration.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import torch

from sptok.data.ark import CodesReader, CodesWriter
from sptok.data.audio import audio_file_info, is_pipe
from sptok.data.errors import DataError
from sptok.data.kaldi_dir import c_sort_key, read_kv_file, read_utt2num_samples, write_kv_file
from sptok.slmtokbench import bench_config
from sptok.slmtokbench.bench_config import Row, Source, rows_of
from sptok.slmtokbench.disentangle import (VCPair, make_pairs, run_projection,
                                           run_voice_conversion, vc_condition_name)
from sptok.slmtokbench.preservation import (CodecResynthesis, EvalSet, GroundTruth, ScorerSet,
                                            batches, encode_batch, load_codec, read_summary,
                                            run_preservation)
from sptok.slmtokbench.report import (AudioSection, BenchRow, Clip, Example, Projection,
                                      ReportData, VCRow, write_html_report, write_markdown)
from sptok.slmtokbench.text_alignment import run_text_alignment
from sptok.slmtokbench.token_sources import TokenStream, load_codebooks, parse_levels
from sptok.slmtokbench.units import fit_units, load_kmeans, save_kmeans, write_units
from sptok.utils.config import ConfigError, dump_yaml, load_yaml, parse_overrides, save_config
from sptok.utils.fileio import atomic_open, atomic_path
from sptok.utils.progress import progress_mininterval

logger = logging.getLogger("slmtokbench")

STEPS = ("tokens", "text_alignment", "preservation", "voice_conversion", "projection", "report")
SETS = ("train", "test")
GROUND_TRUTH = "ground_truth"


def _complete(scp: Path, keys: Sequence[str]) -> bool:
    """An scp written by an earlier run holding exactly ``keys``."""
    if not scp.is_file():
        return False
    try:
        return set(read_kv_file(scp)) == set(keys)
    except DataError:
        return False


class Bench:
    """One benchmark run over the sources of a resolved config (see the module docstring).

    Args:
        config: from :func:`sptok.slmtokbench.bench_config.resolve`.
        out_dir: where every result goes.
        force: steps whose finished results are recomputed.
    """

    def __init__(self, config: Mapping[str, Any], out_dir: Path, force: Set[str] = frozenset()):
        self.config = dict(config)
        self.out = Path(out_dir)
        self.force = set(force)
        if config["num_threads"] is not None:
            torch.set_num_threads(int(config["num_threads"]))
        self.sources = bench_config.parsed_sources(config)
        self.test = EvalSet.from_data_dir(config["data_dir"], config["text"], name="test")
        self._train: Optional[EvalSet] = None
        self._models: Dict[Tuple[str, Optional[str]], Any] = {}
        self.scorers = ScorerSet(config["metrics"], config["asr"], config["asr_conf"],
                                 config["spk_model"], config["spk_model_conf"],
                                 config["scorer_device"], config["normalize_text"])
        self.batch_size = int(config["batch_size"])
        self.progress = bool(config["progress"])

    # ------------------------------------------------------------------ shared pieces
    @property
    def train(self) -> EvalSet:
        if self._train is None:
            if not self.config["train_data_dir"]:
                raise ConfigError("train_data_dir is not set (--train_data_dir): the tokens and "
                                  "text-alignment steps need the training set")
            self._train = EvalSet.from_data_dir(self.config["train_data_dir"],
                                                self.config["train_text"], name="train")
        return self._train

    def data(self, set_name: str) -> EvalSet:
        return self.train if set_name == "train" else self.test

    def model(self, path: str, checkpoint: Optional[str] = None):
        """A codec / vocoder, loaded once per run."""
        key = (path, checkpoint)
        if key not in self._models:
            self._models[key] = load_codec(path, checkpoint, device=self.config["device"])
        return self._models[key]

    def token_dir(self, source: Source) -> Path:
        return self.out / "tokens" / source.name

    def codes_scp(self, source: Source, set_name: str) -> Path:
        if source.kind == "codes":
            return Path(source.codes[set_name])
        return self.token_dir(source) / set_name / "codes.scp"

    def info(self, source: Source) -> Dict[str, Any]:
        path = self.token_dir(source) / "info.yaml"
        if not path.is_file():
            raise ValueError(f"source '{source.name}': {path} is missing; run the tokens step "
                             f"first (--steps tokens)")
        return load_yaml(path)

    def rows(self, source: Source) -> List[Row]:
        n_q = int(self.info(source)["n_q"])
        rows = rows_of(source, n_q)
        for row in rows:
            if row.levels is not None:
                try:
                    parse_levels(row.levels, n_q)
                except ValueError as exc:
                    raise ValueError(f"source '{source.name}': {exc}") from exc
        return rows

    def _forced(self, step: str) -> bool:
        return step in self.force

    # ------------------------------------------------------------------ step: tokens
    def step_tokens(self) -> None:
        for source in self.sources:
            if source.kind == "codec":
                self._codec_tokens(source)
            elif source.kind == "units":
                self._unit_tokens(source)
            else:
                self._user_tokens(source)

    def _write_info(self, source: Source, info: Mapping[str, Any]) -> None:
        with atomic_open(self.token_dir(source) / "info.yaml") as f:
            f.write(dump_yaml(dict(info)))

    @staticmethod
    def _model_stamp(source: Source) -> Dict[str, Any]:
        """Which weight file a codec source resolves to, and its size and time stamp."""
        from sptok.inference import resolve_model_files

        weights = resolve_model_files(source.model, source.checkpoint).weights.resolve()
        stat = weights.stat()
        return {"weights": str(weights), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}

    def _check_stamp(self, source: Source, stamp: Mapping[str, Any]) -> None:
        """Refuse to mix tokens of other weights with results cached in this out_dir."""
        path = self.token_dir(source) / "info.yaml"
        if not path.is_file() or self._forced("tokens"):
            return
        old = load_yaml(path).get("model_stamp")
        if old is not None and old != dict(stamp):
            raise ValueError(f"source '{source.name}': the model weights changed since the "
                             f"tokens in {self.out} were made ({old['weights']} -> "
                             f"{stamp['weights']}, size/time differ); use a new --out_dir, or "
                             f"--force all to recompute every step")

    def _codec_tokens(self, source: Source) -> None:
        folder = self.token_dir(source)
        stamp = self._model_stamp(source)
        self._check_stamp(source, stamp)
        tokenizer = None
        for set_name in SETS:
            data = self.data(set_name)
            scp = self.codes_scp(source, set_name)
            if _complete(scp, data.keys) and not self._forced("tokens"):
                logger.info("tokens %s/%s: cached (%s)", source.name, set_name, scp)
                continue
            tokenizer = tokenizer or self.model(source.model, source.checkpoint)
            logger.info("tokens %s/%s: encoding %d utterances", source.name, set_name,
                        len(data.keys))
            self._encode_set(tokenizer, data, scp)
        books = folder / "codebooks.pt"
        if not books.is_file() or not (folder / "info.yaml").is_file() \
                or self._forced("tokens"):
            tokenizer = tokenizer or self.model(source.model, source.checkpoint)
            with atomic_path(books) as tmp:
                torch.save(load_codebooks(tokenizer.model), tmp)
            info = dict(tokenizer.meta_info())
            info.update(kind="codec", model=source.model, codebooks=str(books),
                        model_stamp=stamp)
            self._write_info(source, info)

    def _encode_set(self, tokenizer, data: EvalSet, scp: Path) -> None:
        from tqdm import tqdm

        rate = int(tokenizer.sample_rate)
        ark = scp.with_suffix(".ark")
        with CodesWriter(ark, scp, int(tokenizer.codebook_size)) as writer:
            for keys in tqdm(batches(data.keys, self.batch_size), desc=f"encode {data.name}",
                             disable=not self.progress,
                             mininterval=progress_mininterval(), file=sys.stderr):
                wavs = [data.load(k, rate) for k in keys]
                for key, codes in zip(keys, encode_batch(tokenizer, wavs)):
                    writer[key] = codes.T

    def _teacher_feats(self, source: Source, set_name: str) -> Path:
        """The teacher features of a set: given, or dumped here with the teacher."""
        if source.feats:
            return Path(source.feats[set_name])
        from sptok.bin import dump_teacher_feats

        prefix = self.token_dir(source) / "feats" / set_name
        argv = ["--teacher", str(source.teacher), "--teacher_format", source.teacher_format,
                "--layer", str(source.layer), "--wav_scp", str(self.data(set_name).wav_scp),
                "--out_prefix", str(prefix), "--device", str(self.config["device"])]
        if self._forced("tokens"):
            argv += ["--overwrite", "true"]
        logger.info("tokens %s/%s: teacher features (layer %s) of %s", source.name, set_name,
                    source.layer, source.teacher)
        dump_teacher_feats.dump(dump_teacher_feats.get_parser().parse_args(argv))
        return Path(f"{prefix}.scp")

    def _unit_tokens(self, source: Source) -> None:
        folder = self.token_dir(source)
        feats = {set_name: self._teacher_feats(source, set_name) for set_name in SETS}
        kmeans_path = folder / "kmeans.pt"
        refit = not kmeans_path.is_file() or self._forced("tokens")
        if refit:
            kmeans = fit_units(feats["train"], source.num_units, source.kmeans_max_frames,
                               source.kmeans_iters, int(self.config["seed"]), self.progress)
            save_kmeans(kmeans_path, kmeans, {"teacher": source.teacher, "layer": source.layer,
                                              "train_feats": str(feats["train"]),
                                              "num_units": source.num_units})
        else:
            kmeans, _ = load_kmeans(kmeans_path)
            if kmeans.num_clusters != source.num_units:
                raise ValueError(f"source '{source.name}': {kmeans_path} has "
                                 f"{kmeans.num_clusters} units, the config asks for "
                                 f"{source.num_units}; rerun with --force tokens")
        for set_name in SETS:
            scp = self.codes_scp(source, set_name)
            feat_keys = list(read_kv_file(feats[set_name]))
            if not refit and _complete(scp, feat_keys):
                logger.info("tokens %s/%s: cached (%s)", source.name, set_name, scp)
                continue
            write_units(feats[set_name], kmeans, scp.with_suffix(""), self.progress)
        # HuBERT-family teachers: 20 ms frames.
        self._write_info(source, {"kind": "units", "n_q": 1, "codebook_size": source.num_units,
                                  "frame_rate": 50.0, "kmeans": str(kmeans_path),
                                  "teacher": source.teacher, "layer": source.layer,
                                  "feats": {k: str(v) for k, v in feats.items()}})

    def _user_tokens(self, source: Source) -> None:
        n_q = int(source.info["n_q"])
        for set_name in SETS:
            scp = self.codes_scp(source, set_name)
            with CodesReader(scp) as reader:
                if len(reader) == 0:
                    raise DataError("empty codes scp", path=str(scp))
                first = next(iter(reader))
                codes = reader[first]
            if codes.shape[1] != n_q:
                raise DataError(f"codes have {codes.shape[1]} levels, info says n_q={n_q}",
                                path=str(scp), key=first)
            if codes.max() >= source.info["codebook_size"]:
                raise DataError(f"code {codes.max()} >= info codebook_size "
                                f"{source.info['codebook_size']}", path=str(scp), key=first)
        info = dict(source.info, kind="codes", codes=dict(source.codes), decoder=source.model)
        self._write_info(source, info)

    # ------------------------------------------------------------------ step: text alignment
    def stream(self, row: Row, set_name: str) -> TokenStream:
        """The token stream the probe reads for ``row`` on ``set_name``."""
        source = row.source
        scp = self.codes_scp(source, set_name)
        info = self.info(source)
        if source.kind == "units":
            return TokenStream(scp, "units", None, vocab_size=int(info["codebook_size"]))
        if source.learned_embedding:
            return TokenStream(scp, "units", row.levels, vocab_size=int(info["codebook_size"]))
        return TokenStream(scp, "codes", row.levels, codebooks=str(info["codebooks"]),
                           codebook_prefix=info.get("codebook_prefix"))

    def step_text_alignment(self) -> None:
        conf = dict(self.config["text_alignment"])
        conf.setdefault("progress", self.progress)
        train_text = self.train.texts
        for source in self.sources:
            for row in self.rows(source):
                out = self.out / "text_alignment" / row.id
                if (out / "results.yaml").is_file() and not self._forced("text_alignment"):
                    logger.info("text alignment %s: cached", row.label)
                    continue
                logger.info("text alignment %s: training the probe", row.label)
                stream = self.stream(row, "train")
                run_text_alignment(stream, train_text,
                                   {"test": (self.stream(row, "test"), self.test.texts)},
                                   conf, out)

    # ------------------------------------------------------------------ step: preservation
    def preservation_set(self) -> EvalSet:
        return EvalSet.from_data_dir(self.config["data_dir"], self.config["text"],
                                     self.config["max_utts"], int(self.config["seed"]), "test")

    def _resynthesizer(self, row: Row) -> Optional[CodecResynthesis]:
        source = row.source
        if source.decoder is None:
            return None
        tokenizer = self.model(source.decoder, source.checkpoint)
        info = self.info(source)
        if source.kind == "units":
            self._check_vocoder(source, tokenizer, info)
        levels = row.levels or "1"
        codes = CodesReader(self.codes_scp(source, "test"))
        return CodecResynthesis(tokenizer, levels, codes, name=row.label)

    @staticmethod
    def _check_vocoder(source: Source, vocoder, info: Mapping[str, Any]) -> None:
        if int(vocoder.n_q) != 1 or int(vocoder.codebook_size) != int(info["codebook_size"]):
            raise ValueError(f"source '{source.name}': vocoder {source.model} decodes "
                             f"{vocoder.n_q} level(s) of {vocoder.codebook_size} codes, the "
                             f"units are 1 level of {info['codebook_size']}")
        centroids = getattr(getattr(vocoder.model, "quantizer", None), "centroids", None)
        if centroids is not None:
            kmeans, _ = load_kmeans(info["kmeans"])
            if centroids.shape != kmeans.centroids.shape or not torch.allclose(
                    centroids.cpu(), kmeans.centroids, atol=1e-5):
                raise ValueError(f"source '{source.name}': the vocoder {source.model} was "
                                 f"trained on other units than {info['kmeans']} (k-means "
                                 f"centroids differ)")

    def step_preservation(self) -> None:
        data = self.preservation_set()
        jobs: List[Tuple[str, str, Any, Dict[str, Any]]] = [
            (GROUND_TRUTH, "ground truth", None, {"row": GROUND_TRUTH})]
        for source in self.sources:
            for row in self.rows(source):
                jobs.append((row.id, row.label, row, {"row": row.id, "source": source.name,
                                                      "levels": row.levels}))
        for row_id, label, row, info in jobs:
            out = self.out / "preservation" / row_id
            if read_summary(out) is not None and not self._forced("preservation"):
                logger.info("preservation %s: cached", label)
                continue
            if row is None:
                resynth = GroundTruth(int(self.config["sample_rate"]))
            else:
                resynth = self._resynthesizer(row)
                if resynth is None:
                    logger.info("preservation %s: no decoder/vocoder configured, skipped", label)
                    continue
            logger.info("preservation %s: %d utterances", label, len(data.keys))
            try:
                run_preservation(resynth, data, self.scorers, out, self.batch_size,
                                 info=dict(info, name=label), progress=self.progress)
            finally:
                if getattr(resynth, "codes", None) is not None:
                    resynth.codes.close()

    # ------------------------------------------------------------------ step: voice conversion
    def _num_samples(self) -> Dict[str, int]:
        path = Path(self.config["data_dir"]) / "utt2num_samples"
        if path.is_file():
            return read_utt2num_samples(path)
        lengths = {}
        for key in self.test.keys:
            spec = self.test.wavs[key]
            info = None if is_pipe(spec) else audio_file_info(spec)
            lengths[key] = info[1] if info else len(self.test.load(key, None))
        return lengths

    def vc_pairs(self) -> List[VCPair]:
        """The conversion pairs, chosen once and kept in ``voice_conversion/pairs``."""
        path = self.out / "voice_conversion" / "pairs"
        if path.is_file() and not self._forced("voice_conversion"):
            pairs = []
            for key, value in read_kv_file(path).items():
                source, reference = value.split()
                pairs.append(VCPair(source, reference))
            return pairs
        conf = self.config["voice_conversion"]
        lengths = self._num_samples() if conf["frames"] == "crop" else None
        # Sources among the scored utterances (their resyntheses sit beside the conversions in
        # the report); references from the whole test set.
        pairs = make_pairs(self.test.keys, self.test.utt2spk, conf["pairs"],
                           int(self.config["seed"]), lengths, self.preservation_set().keys)
        write_kv_file(path, {p.key: f"{p.source} {p.reference}" for p in pairs})
        return pairs

    def vc_sources(self) -> List[Source]:
        if not self.config["voice_conversion"]["enabled"]:
            return []
        return [s for s in self.sources if s.voice_conversion and s.decoder is not None]

    def vc_ks(self, source: Source) -> List[int]:
        n_q = int(self.info(source)["n_q"])
        ks = [int(k) for k in self.config["voice_conversion"]["k"]]
        dropped = [k for k in ks if k > n_q]
        if dropped:
            logger.info("voice conversion %s: k %s exceed its %d levels, left out", source.name,
                        dropped, n_q)
        return [k for k in ks if k <= n_q]

    def step_voice_conversion(self) -> None:
        sources = self.vc_sources()
        if not sources:
            logger.info("voice conversion: no source (voice_conversion disabled or no codec)")
            return
        pairs = self.vc_pairs()
        for source in sources:
            ks = self.vc_ks(source)
            out = self.out / "voice_conversion" / source.name
            todo = [k for k in ks if read_summary(out / f"k{k}") is None
                    or self._forced("voice_conversion")]
            if not todo:
                logger.info("voice conversion %s: cached", source.label)
                continue
            tokenizer = self.model(source.decoder, source.checkpoint)
            with CodesReader(self.codes_scp(source, "test")) as codes:
                run_voice_conversion(tokenizer, self.test, pairs, todo, self.scorers, out,
                                     self.config["voice_conversion"]["frames"], codes,
                                     self.batch_size, progress=self.progress)

    # ------------------------------------------------------------------ step: projection
    def projection_sources(self) -> List[Source]:
        if not self.config["projection"]["enabled"]:
            return []
        return [s for s in self.sources if s.projection and s.kind in ("codec", "codes")]

    def step_projection(self) -> None:
        conf = self.config["projection"]
        for source in self.projection_sources():
            out = self.out / "projection" / source.name
            if read_summary(out) is not None and not self._forced("projection"):
                logger.info("projection %s: cached", source.label)
                continue
            info = self.info(source)
            n_q = int(info["n_q"])
            groups = [g for g in conf["groups"] if parse_levels(g)[0] < n_q]
            if len(groups) < 1:
                logger.info("projection %s: no group within its %d level(s)", source.label, n_q)
                continue
            with CodesReader(self.codes_scp(source, "test")) as codes:
                run_projection(codes, info["codebooks"], self.test, out, groups,
                               conf["method"], conf["per_speaker"], int(self.config["seed"]),
                               title=source.label, codebook_prefix=info.get("codebook_prefix"))

    # ------------------------------------------------------------------ step: report
    def collect(self) -> Dict[str, Any]:
        """Every finished result, as plain data (results.yaml)."""
        rows = []
        ground = read_summary(self.out / "preservation" / GROUND_TRUTH)
        rows.append({"id": GROUND_TRUTH, "label": "ground truth", "text_alignment": None,
                     "preservation": ground["metrics"] if ground else None})
        for source in self.sources:
            for row in self.rows(source):
                ta_path = self.out / "text_alignment" / row.id / "results.yaml"
                ta = load_yaml(ta_path)["results"]["test"] if ta_path.is_file() else None
                pres = read_summary(self.out / "preservation" / row.id)
                rows.append({"id": row.id, "label": row.label, "source": source.name,
                             "levels": row.levels, "text_alignment": ta,
                             "preservation": pres["metrics"] if pres else None})
        vc = {}
        for source in self.vc_sources():
            out = self.out / "voice_conversion" / source.name
            done = {k: read_summary(out / f"k{k}") for k in self.vc_ks(source)}
            vc[source.name] = {k: s for k, s in done.items() if s is not None}
        projection = {}
        for source in self.projection_sources():
            summary = read_summary(self.out / "projection" / source.name)
            if summary is not None:
                projection[source.name] = summary
        return {"rows": rows, "voice_conversion": vc, "projection": projection,
                "scorers": self.scorers.describe(), "data_dir": self.config["data_dir"],
                "train_data_dir": self.config["train_data_dir"]}

    def report_data(self, results: Mapping[str, Any]) -> ReportData:
        def value(metrics: Optional[Mapping[str, Any]], name: str) -> Optional[float]:
            if not metrics or name not in metrics:
                return None
            return float(metrics[name]["value"])

        data = ReportData(title=self.config["report"]["title"],
                          sample_rate=int(self.config["sample_rate"]))
        for row in results["rows"]:
            ta, pres = row["text_alignment"], row["preservation"]
            data.rows.append(BenchRow(
                row["label"],
                mi=None if not ta or ta.get("mi_mean") is None else float(ta["mi_mean"]),
                wer_text=None if not ta else 100.0 * float(ta["wer"]),
                wer_resynth=value(pres, "wer"), sim=value(pres, "spk_sim"),
                stoi=value(pres, "stoi"), pesq=value(pres, "pesq"),
                reference=row["id"] == GROUND_TRUTH))
        labels = {s.name: s.label for s in self.sources}
        for name, by_k in results["voice_conversion"].items():
            for k, summary in sorted(by_k.items()):
                metrics = summary["metrics"]
                data.vc_rows.append(VCRow(labels[name], vc_condition_name(int(k)),
                                          value(metrics, "wer"), value(metrics, "spk_sim"),
                                          value(metrics, "spk_sim_source"),
                                          summary.get("n_pairs")))
        for name, summary in results["projection"].items():
            data.projections.append(Projection(labels[name], Path(summary["image"]),
                                               summary["speaker_nn_accuracy"],
                                               summary["method"]))
        data.examples = self.examples()
        data.sections = self.extra_sections()
        data.notes = self.notes()
        scorers = results["scorers"]
        data.settings = {"test set": f"{self.config['data_dir']} ({len(self.test.keys)} "
                                     f"utterances; {self.config['max_utts']} resynthesised)",
                         "train set": self.config["train_data_dir"],
                         "ASR": f"{scorers['asr']} {scorers['asr_conf'] or ''}".strip(),
                         "speaker model": scorers["spk_model"],
                         "metrics": ", ".join(scorers["metrics"])}
        return data

    def notes(self) -> List[str]:
        notes = [f"WER by the offline ASR '{self.scorers.asr_name}', SIM by "
                 f"'{self.scorers.spk_name}' (paper: Whisper medium.en and a WavLM speaker "
                 f"verifier): absolute numbers differ from the paper's; compare rows."]
        for source in self.sources:
            if source.kind == "units" and source.decoder is None:
                notes.append(f"{source.label}: no unit vocoder configured (vocoder:), so no "
                             f"resynthesis numbers; train one with the codec task and "
                             f"sptok.slmtokbench.unit_vocoder.")
            if source.kind == "codes" and source.decoder is None:
                notes.append(f"{source.label}: user codes without a decoder: text alignment "
                             f"only.")
        vc = self.config["voice_conversion"]
        if self.vc_sources():
            notes.append(f"Voice conversion: reference frames fitted to the source by "
                         f"'{vc['frames']}' (tile: repeated cyclically; crop: first frames of a "
                         f"reference at least as long).")
        if self.projection_sources():
            notes.append(f"Projection: {self.config['projection']['method'].upper()} of "
                         f"mean-pooled codebook vectors (paper: t-SNE).")
        return notes

    def examples(self) -> List[Example]:
        count = int(self.config["report"]["examples"])
        if count <= 0:
            return []
        data = self.preservation_set()
        pairs = self.vc_pairs() if self.vc_sources() and (
            self.out / "voice_conversion" / "pairs").is_file() else []
        vc_keys = [p.source for p in pairs if p.source in set(data.keys)]
        keys = list(dict.fromkeys(vc_keys + data.keys))[:count]
        order = {"main": 0, "baseline": 1, "": 2}
        rows = [row for source in sorted(self.sources, key=lambda s: order[s.role])
                for row in self.rows(source)]
        examples = []
        for key in keys:
            example = Example(key, self.test.texts[key], self.test.utt2spk[key],
                              [Clip("original", self.test.wavs[key])])
            for row in rows:
                scp = self.out / "preservation" / row.id / "wav.scp"
                if scp.is_file():
                    table = read_kv_file(scp)
                    if key in table:
                        example.clips.append(Clip(row.label, table[key]))
            for pair in (p for p in pairs if p.source == key):
                example.clips.append(Clip(f"VC reference ({self.test.utt2spk[pair.reference]})",
                                          self.test.wavs[pair.reference]))
                for source in self.vc_sources():
                    for k in self.vc_ks(source):
                        scp = self.out / "voice_conversion" / source.name / f"k{k}" / "wav.scp"
                        if scp.is_file() and pair.key in (table := read_kv_file(scp)):
                            example.clips.append(Clip(f"{source.label} VC {vc_condition_name(k)}",
                                                      table[pair.key]))
            examples.append(example)
        return examples

    def extra_sections(self) -> List[AudioSection]:
        """The audio sections of ``report.extra``: per utterance the prompt, the original and
        each system's clip, for the first keys (C-sorted) that every system has."""
        sections = []
        for spec in self.config["report"]["extra"]:
            tables = [read_kv_file(system["wav_scp"]) for system in spec["systems"]]
            keys = set(tables[0]).intersection(*tables[1:])
            texts = read_kv_file(spec["text"], allow_empty_value=True) if spec["text"] else {}
            prompts = read_kv_file(spec["prompt_scp"]) if spec["prompt_scp"] else {}
            references = read_kv_file(spec["reference_scp"]) if spec["reference_scp"] else {}
            examples = []
            for key in sorted(keys, key=c_sort_key)[:spec["examples"]]:
                example = Example(key, texts.get(key, ""))
                if key in prompts:
                    example.clips.append(Clip("prompt", prompts[key]))
                if key in references:
                    example.clips.append(Clip("original", references[key]))
                example.clips += [Clip(system["label"], table[key])
                                  for system, table in zip(spec["systems"], tables)]
                examples.append(example)
            sections.append(AudioSection(spec["title"], examples, spec["note"]))
        return sections

    def step_report(self) -> None:
        results = self.collect()
        with atomic_open(self.out / "results.yaml") as f:
            f.write(dump_yaml(results))
        data = self.report_data(results)
        md = write_markdown(data, self.out / "results.md")
        page = write_html_report(data, self.out / "report")
        logger.info("report: %s and %s", md, page)

    # ------------------------------------------------------------------ driver
    def run(self, steps: Sequence[str] = STEPS) -> None:
        for index, step in enumerate([s for s in STEPS if s in steps], 1):
            start = time.perf_counter()
            logger.info("=== step %s (%d/%d) ===", step, index, len(steps))
            getattr(self, f"step_{step}")()
            logger.info("=== step %s done in %.1f s ===", step, time.perf_counter() - start)


# ------------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sptok.bin.slmtokbench", allow_abbrev=False,
        description="SLMTokBench: text alignment, information preservation and "
                    "disentanglement of speech tokenizers; writes tables and an HTML report. "
                    "Options of the YAML can be overridden with --key value "
                    "(--text_alignment.hidden_size 256).")
    parser.add_argument("--sources", "--config", dest="sources", required=True,
                        help="benchmark YAML: token sources, scorers, options")
    parser.add_argument("--out_dir", required=True, help="output directory")
    parser.add_argument("--data_dir", default=None, help="test data dir (overrides the YAML)")
    parser.add_argument("--text", default=None, help="test transcripts (default "
                                                     "<data_dir>/text)")
    parser.add_argument("--train_data_dir", default=None, help="text-alignment training set")
    parser.add_argument("--train_text", default=None, help="training transcripts")
    parser.add_argument("--steps", default="all",
                        help=f"comma list of steps to run, or 'all': {', '.join(STEPS)}")
    parser.add_argument("--force", default="",
                        help="comma list of steps whose finished results are recomputed, or "
                             "'all'")
    parser.add_argument("--print_config", action="store_true",
                        help="print the resolved configuration and exit")
    return parser


def parse_steps(value: str, option: str) -> List[str]:
    if value.strip() in ("", "none"):
        return []
    if value.strip() == "all":
        return list(STEPS)
    steps = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ConfigError(f"{option}: unknown step(s) {unknown}; steps: {', '.join(STEPS)}")
    return steps


def _check_previous_config(out_dir: Path, config: Mapping[str, Any]) -> None:
    previous = out_dir / "config.yaml"
    if previous.is_file() and load_yaml(previous) != dict(config):
        logger.warning("%s differs from this run's configuration: cached results of earlier "
                       "steps are reused as they are; pass --force STEP to recompute", previous)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s "
                                                   "%(message)s")
    try:
        overrides = parse_overrides(rest)
        for option in ("data_dir", "text", "train_data_dir", "train_text"):
            if getattr(args, option) is not None:
                overrides.append(([option], getattr(args, option)))
        config = bench_config.resolve(load_yaml(args.sources), overrides, args.sources)
        if args.print_config:
            sys.stdout.write(dump_yaml(config))
            return 0
        steps = parse_steps(args.steps, "--steps")
        force = set(parse_steps(args.force, "--force"))
        out_dir = Path(args.out_dir)
        _check_previous_config(out_dir, config)
        save_config(config, out_dir / "config.yaml")
        Bench(config, out_dir, force).run(steps)
    except (ValueError, FileNotFoundError, ImportError) as exc:  # ConfigError, DataError too
        print(f"slmtokbench: error: {exc}", file=sys.stderr)
        return 1
    print(f"slmtokbench: results in {args.out_dir}/results.md and "
          f"{args.out_dir}/report/report.html", file=sys.stderr)
    return 0


__all__ = ["STEPS", "Bench", "build_parser", "main", "parse_steps"]
