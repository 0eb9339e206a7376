"""Score synthesised or resynthesised speech with offline models: WER/CER by ASR, speaker
similarity, STOI/ESTOI, wideband PESQ, log-mel distance.

Usage:
  python -m sptok.bin.score_audio --hyp_scp exp/codec/decode_test/wav.scp \\
      --ref_scp dump/raw/test/wav.scp --text dump/raw/test/text \\
      --metrics wer,spk_sim,stoi,pesq,mel --asr whisper_tiny --out_dir exp/codec/decode_test/score

The keys of --hyp_scp are the utterances scored; every other table must hold each of them (extra
keys there are ignored with a warning). Needed inputs: wer/cer --text; stoi/estoi/pesq/mel
--ref_scp; spk_sim --ref_scp or --spk_ref_scp (key -> speaker prompt, for TTS and voice
conversion). The WER of the ground truth is the same command with the reference wav.scp as
--hyp_scp and --metrics wer.

Writes to --out_dir (each file atomically): results.tsv (one row per utterance: metric values,
edit counts, normalised reference and ASR transcripts), text_asr (raw ASR transcripts, Kaldi
text format), summary.yaml (corpus values, scorers and their options, timings), summary.md (a
Markdown table row). WER and CER are percentages.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from tqdm import tqdm

from sptok.data.audio import load_audio
from sptok.data.errors import DataError
from sptok.data.kaldi_dir import c_sort_key, read_kv_file
from sptok.eval.asr import asr_choices
from sptok.eval.scoring import (ALL_METRICS, SIGNAL_METRICS, TEXT_COLUMNS, TEXT_METRICS,
                                AudioScorer, UttInput, markdown_table, parse_metrics, summarize)
from sptok.eval.speaker import speaker_choices
from sptok.utils.config import dump_yaml, loads_yaml
from sptok.utils.fileio import atomic_open
from sptok.utils.registry import ConfigError
from sptok.utils.progress import progress_mininterval
from sptok.utils.cli import run_cli, str2bool

logger = logging.getLogger("score_audio")

RESULTS_TSV = "results.tsv"
TEXT_ASR = "text_asr"
SUMMARY_YAML = "summary.yaml"
SUMMARY_MD = "summary.md"
#: Missing keys listed in an error message before the rest is counted.
_MAX_LISTED = 10



def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="score_audio", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--hyp_scp", required=True, help="wav.scp of the speech to score")
    parser.add_argument("--ref_scp", help="wav.scp of the reference (original) speech")
    parser.add_argument("--text", help="reference transcripts (Kaldi text: key words...)")
    parser.add_argument("--spk_ref_scp",
                        help="key -> speaker-reference audio for spk_sim (default: --ref_scp)")
    parser.add_argument("--metrics", default="wer,spk_sim,stoi,pesq,mel",
                        help=f"comma list of: {', '.join(ALL_METRICS)} (default: %(default)s)")
    parser.add_argument("--out_dir", required=True, help="output directory")
    parser.add_argument("--asr", default=asr_choices.default, help=asr_choices.describe())
    parser.add_argument("--asr_conf", default="{}",
                        help="YAML mapping of the ASR scorer's options, e.g. '{beam_size: 1}'")
    parser.add_argument("--spk_model", default=speaker_choices.default,
                        help=speaker_choices.describe())
    parser.add_argument("--spk_model_conf", default="{}",
                        help="YAML mapping of the speaker model's options")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--sample_rate", type=int, default=16000,
                        help="every waveform is loaded at this rate (default: %(default)s)")
    parser.add_argument("--batch_size", type=int, default=16,
                        help="utterances loaded and scored together (default: %(default)s)")
    parser.add_argument("--max_length_diff", type=float, default=0.25,
                        help="signal metrics: largest reference/hypothesis length difference "
                             "in seconds; both are cut to the shorter (default: %(default)s)")
    parser.add_argument("--normalize_text", type=str2bool, default=True,
                        help="normalise transcripts before WER/CER (default: true)")
    parser.add_argument("--allow_missing", type=str2bool, default=False,
                        help="skip hypothesis keys missing from another table instead of "
                             "failing (default: false)")
    parser.add_argument("--tag", help="row name in summary.md (default: the --out_dir path)")
    return parser


def _parse_conf(text: str, option: str) -> Dict[str, Any]:
    conf = loads_yaml(text, option)
    if conf is None:
        return {}
    if not isinstance(conf, dict):
        raise ConfigError(f"{option}: expected a YAML mapping such as '{{key: value}}', got "
                          f"{text!r}")
    return conf


def _check_keys(hyp_keys: List[str], tables: Mapping[str, Mapping[str, str]], hyp_scp: str,
                allow_missing: bool) -> List[str]:
    """The hypothesis keys present in every table; DataError listing those missing unless
    ``allow_missing``."""
    keep = list(hyp_keys)
    for option, table in tables.items():
        missing = [k for k in keep if k not in table]
        if missing:
            listed = ", ".join(missing[:_MAX_LISTED])
            more = f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
            message = (f"{len(missing)} of the {len(hyp_keys)} keys of {hyp_scp} are missing "
                       f"from {option}: {listed}{more}")
            if not allow_missing:
                raise DataError(message + " (pass --allow_missing true to score only the keys "
                                "present everywhere)")
            logger.warning("%s; skipping them (--allow_missing true)", message)
            missing_set = set(missing)
            keep = [k for k in keep if k not in missing_set]
        extra = len(set(table) - set(hyp_keys))
        if extra:
            logger.warning("%s has %d keys that are not in %s; they are not scored", option,
                           extra, hyp_scp)
    if not keep:
        raise DataError("no utterance left to score", path=hyp_scp)
    return keep


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return " ".join(str(value).split())  # no tab or newline inside a TSV field


def write_results(rows: Sequence[Mapping[str, Any]], out_dir: Path) -> None:
    """results.tsv (header + one line per row; columns in first-seen order) and, when there are
    ASR transcripts, text_asr."""
    columns: List[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    # Transcripts last: the numbers line up in a terminal, the free text trails.
    columns.sort(key=lambda c: c in TEXT_COLUMNS)
    with atomic_open(out_dir / RESULTS_TSV) as f:
        f.write("\t".join(columns) + "\n")
        for row in rows:
            f.write("\t".join(_format_value(row.get(c, "")) for c in columns) + "\n")
    if rows and "asr_raw" in rows[0]:
        with atomic_open(out_dir / TEXT_ASR) as f:
            for row in rows:
                f.write(f"{row['key']} {_format_value(row['asr_raw'])}".rstrip() + "\n")


def score_audio(args: argparse.Namespace) -> Dict[str, Any]:
    """Run the scoring described by parsed command-line ``args``; returns the summary."""
    metrics = parse_metrics(args.metrics)
    text_needed = any(m in TEXT_METRICS for m in metrics)
    signal_needed = any(m in SIGNAL_METRICS for m in metrics)
    spk_needed = "spk_sim" in metrics
    if args.batch_size < 1:
        raise ValueError(f"--batch_size must be >= 1, got {args.batch_size}")
    if text_needed and not args.text:
        raise ValueError("--metrics wer/cer need --text (reference transcripts)")
    if signal_needed and not args.ref_scp:
        raise ValueError("--metrics stoi/estoi/pesq/mel need --ref_scp (reference audio)")
    if spk_needed and not (args.ref_scp or args.spk_ref_scp):
        raise ValueError("--metrics spk_sim needs --ref_scp or --spk_ref_scp")
    use_spk_ref = spk_needed and args.spk_ref_scp is not None
    load_ref = signal_needed or (spk_needed and not use_spk_ref)

    hyp = read_kv_file(args.hyp_scp)
    tables: Dict[str, Dict[str, str]] = {}
    if load_ref:
        tables[f"--ref_scp {args.ref_scp}"] = ref = read_kv_file(args.ref_scp)
    if text_needed:
        tables[f"--text {args.text}"] = text = read_kv_file(args.text, allow_empty_value=True)
    if use_spk_ref:
        tables[f"--spk_ref_scp {args.spk_ref_scp}"] = spk_ref = read_kv_file(args.spk_ref_scp)
    keys = sorted(_check_keys(list(hyp), tables, args.hyp_scp, args.allow_missing),
                  key=c_sort_key)

    asr = speaker = None
    asr_conf = _parse_conf(args.asr_conf, "--asr_conf")
    spk_conf = _parse_conf(args.spk_model_conf, "--spk_model_conf")
    load_seconds = {}
    if text_needed:
        start = time.perf_counter()
        asr = asr_choices.build(args.asr, asr_conf, device=args.device)
        load_seconds["asr"] = time.perf_counter() - start
        logger.info("ASR %s loaded in %.2f s", args.asr, load_seconds["asr"])
    if spk_needed:
        start = time.perf_counter()
        speaker = speaker_choices.build(args.spk_model, spk_conf, device=args.device)
        load_seconds["spk"] = time.perf_counter() - start
        logger.info("speaker model %s loaded in %.2f s", args.spk_model, load_seconds["spk"])
    scorer = AudioScorer(metrics, asr=asr, speaker=speaker, sample_rate=args.sample_rate,
                         normalize=args.normalize_text)
    for name, seconds in load_seconds.items():
        scorer.timers[name].load_seconds = seconds

    sr = args.sample_rate
    rows: List[Dict[str, Any]] = []
    start_all = time.perf_counter()
    with tqdm(total=len(keys), unit="utt", desc="score_audio", file=sys.stderr,
              mininterval=progress_mininterval()) as bar:
        for first in range(0, len(keys), args.batch_size):
            batch = []
            for key in keys[first:first + args.batch_size]:
                utt = UttInput(key, load_audio(hyp[key], sr, key=key, scp=args.hyp_scp))
                if load_ref:
                    utt.ref = load_audio(ref[key], sr, key=key, scp=args.ref_scp)
                    diff = abs(utt.ref.shape[0] - utt.hyp.shape[0]) / sr
                    if signal_needed and diff > args.max_length_diff:
                        raise DataError(
                            f"reference ({utt.ref.shape[0] / sr:.3f} s, {args.ref_scp}) and "
                            f"hypothesis ({utt.hyp.shape[0] / sr:.3f} s) differ by {diff:.3f} s "
                            f"> --max_length_diff {args.max_length_diff}",
                            path=args.hyp_scp, key=key)
                if text_needed:
                    utt.text = text[key]
                if use_spk_ref:
                    utt.spk_ref_id = spk_ref[key]
                    utt.spk_ref = load_audio(spk_ref[key], sr, key=key, scp=args.spk_ref_scp)
                batch.append(utt)
            rows.extend(scorer.score(batch))
            bar.update(len(batch))

    summary_metrics = summarize(rows, metrics)
    out_dir = Path(args.out_dir)
    tag = args.tag or str(out_dir)
    summary = {
        "tag": tag,
        "n_utt": len(rows),
        "metrics": summary_metrics,
        "scorers": {},
        "inputs": {"hyp_scp": args.hyp_scp, "ref_scp": args.ref_scp if load_ref else None,
                   "text": args.text if text_needed else None,
                   "spk_ref_scp": args.spk_ref_scp if use_spk_ref else None},
        "options": {"sample_rate": sr, "device": args.device,
                    "normalize_text": args.normalize_text,
                    "max_length_diff": args.max_length_diff},
        "timing": {"total_s": round(time.perf_counter() - start_all, 3)},
    }
    if asr is not None:
        summary["scorers"]["asr"] = args.asr
        summary["scorers"]["asr_conf"] = asr_choices.complete_conf(args.asr, asr_conf)
        summary["timing"]["asr"] = scorer.timers["asr"].as_dict()
    if speaker is not None:
        summary["scorers"]["spk_model"] = args.spk_model
        summary["scorers"]["spk_model_conf"] = speaker_choices.complete_conf(args.spk_model,
                                                                             spk_conf)
        summary["timing"]["spk"] = scorer.timers["spk"].as_dict()
    if signal_needed:
        summary["timing"]["signal"] = scorer.timers["signal"].as_dict()

    write_results(rows, out_dir)
    with atomic_open(out_dir / SUMMARY_YAML) as f:
        f.write(dump_yaml(summary))
    with atomic_open(out_dir / SUMMARY_MD) as f:
        f.write(markdown_table(tag, summary_metrics, len(rows)))
    return summary


def _score(args: argparse.Namespace) -> None:
    summary = score_audio(args)
    values = ", ".join(f"{m} {v['value']:.4g}" for m, v in summary["metrics"].items())
    print(f"score_audio: {summary['n_utt']} utterances: {values} -> {args.out_dir}",
          file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(get_parser(), _score, argv, errors=(DataError, ValueError, ImportError),
                   log_format="%(asctime)s %(name)s %(levelname)s %(message)s")


if __name__ == "__main__":
    sys.exit(main())
