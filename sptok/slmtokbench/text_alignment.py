"""SLMTokBench text alignment: how readable is the text in a tokenizer's tokens?

A BiLSTM-CTC probe (:class:`~sptok.slmtokbench.downstream.CTCDownstream`) is trained on the
token embeddings of a training set (paper: LibriSpeech train-clean-100) to output characters;
on each evaluation set it reports the WER/CER of its greedy transcripts and the mutual
information between tokens and text estimated with its likelihoods
(:mod:`sptok.slmtokbench.mutual_info`).

Python::

    stream = TokenStream("dump/train/codes.scp", kind="codes", levels="1",
                         codebooks="exp/tokenizer/model.pt")
    results = run_text_alignment(stream, "data/train/text",
                                 {"test": (stream.with_scp("dump/test/codes.scp"),
                                           "data/test/text")},
                                 {"hidden_size": 256, "max_epochs": 5},
                                 out_dir="exp/slmtokbench/rvq1")
    results["test"]["wer"], results["test"]["mi_mean"]

Command line (:mod:`sptok.slmtokbench.cli`, ``python -m sptok.slmtokbench.cli -h``)::

    python -m sptok.slmtokbench.cli --kind codes --levels 1:8 \\
        --codebooks exp/tokenizer/model.pt \\
        --train dump/train/codes.scp data/train/text \\
        --eval dev dump/dev/codes.scp data/dev/text \\
        --eval test dump/test/codes.scp data/test/text \\
        --config conf/text_alignment.yaml --out_dir exp/slmtokbench/rvq1_8 --hidden_size 256

Outputs in ``out_dir``: ``model.pt`` (probe weights, its arguments, vocabulary, stream and config),
``results.yaml`` (config, training summary, per-set results), ``<set>/hyp`` and ``<set>/ref``
(normalised transcripts, Kaldi text format), ``config.yaml`` (the resolved config).
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from tqdm import tqdm

from sptok.data.kaldi_dir import write_kv_file
from sptok.slmtokbench.data import (KEY_MISMATCH_POLICIES, AlignedSet, TextSource,
                                    length_batches, read_transcripts)
from sptok.slmtokbench.downstream import CTCDownstream, greedy_decode
from sptok.slmtokbench.metrics import ErrorCounts
from sptok.slmtokbench.mutual_info import (NORMALIZATIONS, estimate_batch, mi_batches,
                                           pairwise_log_likelihood, summarize)
from sptok.slmtokbench.token_sources import StreamReader, TokenStream
from sptok.slmtokbench.vocab import CharVocab, PhonemeVocab, build_vocab
from sptok.utils.config import ConfigSchema, Option, dump_yaml, save_config
from sptok.utils.fileio import atomic_open, atomic_path

logger = logging.getLogger(__name__)

OPTIONS = [
    Option("unit", "char", "CTC output unit: char (paper) or phone (needs sptok.text's G2P)",
           choices=("char", "phone")),
    Option("keep_stress", False, "phone unit: keep CMU stress digits (AH0/AH1)"),
    Option("hidden_size", 1024, "LSTM units per direction (paper 1024; CPU mini e.g. 256)"),
    Option("num_layers", 2, "BiLSTM layers (paper 2)"),
    Option("dropout", 0.1, "dropout between LSTM layers and before the output layer"),
    Option("input_norm", True, "LayerNorm on the input vectors (not in the paper)"),
    Option("embed_dim", 256, "units streams: size of the learned unit embedding"),
    Option("lr", 1e-3, "Adam learning rate"),
    Option("max_epochs", 10, "training epochs over the training set"),
    Option("max_steps", None, "stop after this many updates (null: no limit)", type=int),
    Option("batch_size", 32, "most utterances per batch"),
    Option("batch_frames", 16000, "most padded frames per batch (longest x count)"),
    Option("grad_clip", 5.0, "gradient norm clipping (0: off)"),
    Option("valid_set", None, "name of an eval set used for early stopping and model selection "
           "(null: none)", type=str),
    Option("valid_fraction", 0.0, "without valid_set: fraction of the training set held out for "
           "early stopping (0: none; then the last epoch's model is kept)"),
    Option("patience", None, "stop after this many epochs without a better valid loss "
           "(null: never)", type=int),
    Option("mi_batch_size", 32, "N of the N x N contrastive MI estimate"),
    Option("mi_normalize", "none", "none: nats per utterance; target_length: nats per output "
           "symbol", choices=NORMALIZATIONS),
    Option("key_mismatch", "error", "scp and text with different keys: error, or intersect "
           "(use the common keys)", choices=KEY_MISMATCH_POLICIES),
    Option("cache_limit_mb", 2048.0, "keep a set's inputs in memory up to this size"),
    Option("seed", 0, "random seed (initialisation, batch order, MI batches)"),
    Option("device", "auto", "auto (cuda if available), cpu, cuda, cuda:N"),
    Option("num_threads", None, "CPU threads of torch (null: leave torch's default; 1 is "
           "fastest for small probes on a shared machine)", type=int),
    Option("progress", True, "tqdm progress bars"),
]
SCHEMA = ConfigSchema(OPTIONS)

EvalSpec = Tuple[Union[TokenStream, str, Path], TextSource]


def resolve_config(conf: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Defaults completed by ``conf`` and validated (unknown keys are errors)."""
    return SCHEMA.resolve(dict(conf or {}), source="text alignment config")


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _move(inputs: torch.Tensor, lengths: torch.Tensor, device: torch.device
          ) -> Tuple[torch.Tensor, torch.Tensor]:
    return inputs.to(device, non_blocking=True), lengths


def _ctc_loss(log_probs: torch.Tensor, lengths: torch.Tensor, targets: List[List[int]]
              ) -> Tuple[torch.Tensor, int]:
    """Summed CTC loss of a batch and its number of target symbols."""
    device = log_probs.device
    target_lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
    flat = torch.tensor([i for t in targets for i in t], dtype=torch.long)
    loss = F.ctc_loss(log_probs.transpose(0, 1), flat.to(device), lengths.to(device),
                      target_lengths.to(device), blank=0, reduction="sum", zero_infinity=True)
    return loss, int(target_lengths.sum())


# ------------------------------------------------------------------------------------------------
# Training


@torch.no_grad()
def validation_loss(model: CTCDownstream, data: AlignedSet, conf: Mapping[str, Any],
                    device: torch.device, indices: Optional[Sequence[int]] = None) -> float:
    """CTC loss per target symbol (nats) over ``indices`` (default all feasible utterances)."""
    model.eval()
    if indices is None:
        indices = [i for i in range(len(data)) if data.feasible(i)]
    total, symbols = 0.0, 0
    for batch in length_batches(data.lengths, indices, conf["batch_frames"], conf["batch_size"]):
        inputs, lengths, targets = data.batch(batch)
        log_probs = model(*_move(inputs, lengths, device))
        loss, count = _ctc_loss(log_probs, lengths, targets)
        total += loss.item()
        symbols += count
    return total / max(symbols, 1)


def train_probe(model: CTCDownstream, train: AlignedSet, conf: Mapping[str, Any],
                device: torch.device, valid: Optional[AlignedSet] = None,
                train_indices: Optional[Sequence[int]] = None,
                valid_indices: Optional[Sequence[int]] = None) -> Dict[str, Any]:
    """Train the probe with Adam on length-bucketed batches; with validation data keep the
    model of the best validation loss and stop after ``patience`` epochs without improvement.

    Returns a summary: epochs, steps, final train loss, best valid loss, seconds, skipped.
    """
    indices = list(range(len(train))) if train_indices is None else list(train_indices)
    usable = [i for i in indices if train.feasible(i)]
    skipped = len(indices) - len(usable)
    if skipped:
        logger.warning("set '%s': %d utterance(s) have fewer frames than their transcript needs "
                       "for CTC; left out of training", train.name, skipped)
    if not usable:
        raise ValueError(f"set '{train.name}': no utterance can be aligned to its transcript "
                         f"(token sequences shorter than transcripts?)")
    optimizer = torch.optim.Adam(model.parameters(), lr=conf["lr"])
    generator = torch.Generator().manual_seed(conf["seed"])
    best_loss, best_state, bad_epochs = math.inf, None, 0
    step, epoch, last_loss = 0, 0, math.nan
    max_steps = conf["max_steps"]
    start = time.time()
    for epoch in range(1, conf["max_epochs"] + 1):
        model.train()
        batches = length_batches(train.lengths, usable, conf["batch_frames"],
                                 conf["batch_size"], generator)
        bar = tqdm(batches, desc=f"epoch {epoch}", disable=not conf["progress"], leave=False,
                   dynamic_ncols=True)
        total, symbols = 0.0, 0
        for batch in bar:
            inputs, lengths, targets = train.batch(batch)
            log_probs = model(*_move(inputs, lengths, device))
            loss, count = _ctc_loss(log_probs, lengths, targets)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite CTC loss {loss.item()} at step {step + 1} "
                                         f"(epoch {epoch}); lower lr or check the inputs of "
                                         f"{[train.keys[i] for i in batch[:5]]}")
            optimizer.zero_grad(set_to_none=True)
            (loss / max(count, 1)).backward()
            if conf["grad_clip"] > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), conf["grad_clip"])
            optimizer.step()
            step += 1
            total += loss.item()
            symbols += count
            bar.set_postfix(loss=f"{total / max(symbols, 1):.3f}", refresh=False)
            if max_steps is not None and step >= max_steps:
                break
        last_loss = total / max(symbols, 1)
        message = f"epoch {epoch}: step {step}, train loss {last_loss:.4f} nats/symbol"
        if valid is not None:
            loss = validation_loss(model, valid, conf, device, valid_indices)
            message += f", valid loss {loss:.4f}"
            if loss < best_loss:
                best_loss, bad_epochs = loss, 0
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            else:
                bad_epochs += 1
        logger.info(message)
        if conf["progress"]:
            tqdm.write(message)
        if max_steps is not None and step >= max_steps:
            break
        if conf["patience"] is not None and bad_epochs >= conf["patience"]:
            logger.info("early stop: %d epoch(s) without a better valid loss", bad_epochs)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return {"epochs": epoch, "steps": step, "train_loss": last_loss,
            "best_valid_loss": None if best_state is None else best_loss,
            "train_utts": len(usable), "skipped_utts": skipped,
            "seconds": round(time.time() - start, 1)}


# ------------------------------------------------------------------------------------------------
# Evaluation


@torch.no_grad()
def evaluate_set(model: CTCDownstream, data: AlignedSet, vocab, conf: Mapping[str, Any],
                 device: torch.device) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Greedy-decode every utterance and estimate MI on random batches.

    Returns ``(results, hypotheses)``: results hold n_utts, wer, cer (char) or per (phone), the
    MI summary (:func:`~sptok.slmtokbench.mutual_info.summarize`); hypotheses map key -> text.
    """
    model.eval()
    hyps: Dict[str, str] = {}
    word_counts, token_counts = ErrorCounts(), ErrorCounts()
    for batch in length_batches(data.lengths, None, conf["batch_frames"], conf["batch_size"]):
        inputs, lengths, _ = data.batch(batch)
        log_probs = model(*_move(inputs, lengths, device))
        for index, ids in zip(batch, greedy_decode(log_probs, lengths)):
            hyp = vocab.decode(ids)
            hyps[data.keys[index]] = hyp
            ref_words, ref_tokens = vocab.scored_units(data.refs[index])
            hyp_words, hyp_tokens = vocab.scored_units(hyp)
            word_counts.add(ref_words, hyp_words)
            token_counts.add(ref_tokens, hyp_tokens)
    results: Dict[str, Any] = {"n_utts": len(data), "wer": word_counts.rate,
                               vocab.token_metric: token_counts.rate,
                               "ref_words": word_counts.ref_units}

    generator = torch.Generator().manual_seed(conf["seed"])
    estimates = []
    batches = mi_batches(len(data), conf["mi_batch_size"], generator)
    for batch in tqdm(batches, desc=f"MI {data.name}", disable=not conf["progress"],
                      leave=False, dynamic_ncols=True):
        inputs, lengths, targets = data.batch(batch)
        log_probs = model(*_move(inputs, lengths, device))
        loglik = pairwise_log_likelihood(log_probs, lengths, targets)
        estimates.append(estimate_batch(loglik, [len(t) for t in targets],
                                        conf["mi_normalize"]))
    if estimates:
        results.update(summarize(estimates))
        if conf["mi_normalize"] == "target_length":
            results["mi_unit"] = "nats/symbol"
    else:
        logger.warning("set '%s': fewer than 2 utterances, no MI estimate", data.name)
    return results, hyps


# ------------------------------------------------------------------------------------------------
# Probe files


def save_probe(path: Union[str, Path], model: CTCDownstream, model_args: Mapping[str, Any],
               vocab, stream: TokenStream, conf: Mapping[str, Any]) -> None:
    """Write the probe (weights on CPU, constructor arguments, vocabulary, stream, config)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"model": state, "model_args": dict(model_args), "vocab": vocab.state(),
                    "stream": stream.describe(), "config": dict(conf)}, tmp)


def load_probe(path: Union[str, Path], g2p=None) -> Tuple[CTCDownstream, Any, Dict[str, Any]]:
    """``(model, vocab, checkpoint)`` from :func:`save_probe`'s file (model on CPU, eval mode).
    A phoneme probe needs a G2P (``g2p`` or sptok.text's)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model = CTCDownstream(**ckpt["model_args"])
    model.load_state_dict(ckpt["model"])
    model.eval()
    vocab_state = ckpt["vocab"]
    if vocab_state["unit"] == "char":
        vocab = CharVocab()
        if vocab.symbols != vocab_state["symbols"]:
            raise ValueError(f"{path}: character vocabulary differs from this version's")
    else:
        vocab = PhonemeVocab(vocab_state["symbols"][2:], g2p, vocab_state["keep_stress"])
    return model, vocab, ckpt


# ------------------------------------------------------------------------------------------------
# Entry point


def _eval_stream(name: str, spec: EvalSpec, train_stream: TokenStream
                 ) -> Tuple[TokenStream, TextSource]:
    if not isinstance(spec, (tuple, list)) or len(spec) != 2:
        raise ValueError(f"eval set '{name}': expected (stream or scp path, text), got {spec!r}")
    stream, text = spec
    if not isinstance(stream, TokenStream):
        stream = train_stream.with_scp(stream)
    same = ("kind", "levels", "vocab_size", "codebook_prefix")
    differ = [f for f in same if getattr(stream, f) != getattr(train_stream, f)]
    if differ:
        raise ValueError(f"eval set '{name}': stream differs from the training stream in "
                         f"{differ} (the probe reads one kind of token)")
    return stream, text


def _split_valid(n: int, fraction: float, seed: int) -> Tuple[List[int], List[int]]:
    if not 0 <= fraction < 1:
        raise ValueError(f"valid_fraction must be in [0, 1), got {fraction}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1)).tolist()
    n_valid = int(round(n * fraction))
    if fraction > 0 and (n_valid < 1 or n_valid >= n):
        raise ValueError(f"valid_fraction {fraction} of {n} utterances leaves no train or no "
                         f"valid utterance")
    return sorted(order[n_valid:]), sorted(order[:n_valid])


def run_text_alignment(train_stream: TokenStream, train_text: TextSource,
                       eval_streams: Mapping[str, EvalSpec],
                       conf: Optional[Mapping[str, Any]] = None,
                       out_dir: Optional[Union[str, Path]] = None,
                       g2p=None) -> Dict[str, Dict[str, Any]]:
    """Train the BiLSTM-CTC probe on ``train_stream`` and evaluate it on each eval set.

    Args:
        train_stream: training tokens (kind, levels, codebooks).
        train_text: Kaldi ``text`` of the training set (or a key -> transcript mapping).
        eval_streams: set name -> (stream or scp path, text); a path reuses the training
            stream's settings (kind, levels, codebooks).
        conf: options of :data:`OPTIONS` (defaults for the rest).
        out_dir: where to write model.pt, results.yaml, config.yaml and <set>/{hyp,ref}; None
            writes nothing.
        g2p: ``transcript -> phonemes`` ("|" between words) for ``unit: phone``; default
            sptok.text's G2P.

    Returns:
        set name -> {n_utts, wer, cer | per, mi_mean, mi_std, mi_min, mi_max, mi_infonce_mean,
        mi_batches, mi_batch_size, mi_infeasible_frac, mi_unit, ref_words}.
    """
    conf = resolve_config(conf)
    if conf["num_threads"] is not None:
        torch.set_num_threads(conf["num_threads"])
    torch.manual_seed(conf["seed"])
    device = _device(conf["device"])
    streams = {name: _eval_stream(name, spec, train_stream)
               for name, spec in eval_streams.items()}
    if conf["valid_set"] is not None and conf["valid_set"] not in streams:
        raise ValueError(f"valid_set '{conf['valid_set']}' is not an eval set "
                         f"({', '.join(streams) or 'none given'})")

    train_reader = StreamReader(train_stream)
    train_transcripts, _ = read_transcripts(train_text)
    vocab = build_vocab(conf["unit"], train_transcripts.values(), g2p, conf["keep_stress"])
    logger.info("reading training tokens from %s", train_stream.scp)
    train = AlignedSet("train", train_stream, train_transcripts, vocab, conf["key_mismatch"],
                       conf["cache_limit_mb"], reader=train_reader)
    sets = {}
    for name, (stream, text) in streams.items():
        reader = StreamReader(stream, embedder=train_reader.embedder
                              if stream.codebooks is train_stream.codebooks else None)
        sets[name] = AlignedSet(name, stream, text, vocab, conf["key_mismatch"],
                                conf["cache_limit_mb"], reader=reader)
        if reader.input_spec() != train_reader.input_spec():
            raise ValueError(f"eval set '{name}': inputs {reader.input_spec()} differ from the "
                             f"training inputs {train_reader.input_spec()} ({stream.scp})")
    if vocab.dropped:
        logger.warning("symbols outside the %s vocabulary were dropped from transcripts: %s",
                       conf["unit"], dict(sorted(vocab.dropped.items())))

    model_args: Dict[str, Any] = dict(vocab_size=len(vocab), hidden_size=conf["hidden_size"],
                                      num_layers=conf["num_layers"], dropout=conf["dropout"],
                                      input_norm=conf["input_norm"])
    spec = train_reader.input_spec()
    if train_stream.kind == "units":
        model_args.update(num_ids=spec["num_ids"], embed_dim=conf["embed_dim"])
    else:
        model_args.update(feat_dim=spec["feat_dim"])
    model = CTCDownstream(**model_args).to(device)
    logger.info("probe: %.2f M parameters, %d outputs, %d training utterances, device %s",
                sum(p.numel() for p in model.parameters()) / 1e6, len(vocab), len(train),
                device)

    train_indices, valid, valid_indices = None, None, None
    if conf["valid_set"] is not None:
        valid = sets[conf["valid_set"]]
    elif conf["valid_fraction"] > 0:
        train_indices, valid_indices = _split_valid(len(train), conf["valid_fraction"],
                                                    conf["seed"])
        valid_indices = [i for i in valid_indices if train.feasible(i)]
        valid = train
    summary = train_probe(model, train, conf, device, valid, train_indices, valid_indices)

    results: Dict[str, Dict[str, Any]] = {}
    hypotheses: Dict[str, Dict[str, str]] = {}
    for name, data in sets.items():
        results[name], hypotheses[name] = evaluate_set(model, data, vocab, conf, device)
        shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in results[name].items()}
        logger.info("%s: %s", name, shown)

    if out_dir is not None:
        out = Path(out_dir)
        save_config(conf, out / "config.yaml")
        save_probe(out / "model.pt", model, model_args, vocab, train_stream, conf)
        for name, data in sets.items():
            write_kv_file(out / name / "hyp", hypotheses[name])
            write_kv_file(out / name / "ref", dict(zip(data.keys, data.refs)))
        report = {"train_stream": train_stream.describe(), "unit": conf["unit"],
                  "train": summary, "results": results, "config": conf}
        with atomic_open(out / "results.yaml") as f:
            f.write(dump_yaml(report))
    for reader in [train_reader] + [data.reader for data in sets.values()]:
        reader.close()
    return results
