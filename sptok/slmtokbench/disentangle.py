"""Disentanglement: one-shot voice conversion by swapping RVQ levels, and a 2-D projection of
level embeddings coloured by speaker.

Voice conversion (paper section 4.3): a source utterance's RVQ-1 codes (content) are decoded
together with levels 2..k of a reference utterance of another speaker (timbre), k = 2, 4, 8 (the
paper's rows "RVQ-2", "RVQ-2:4", "RVQ-2:8"). The result is scored by the WER of its transcript
against the **source** text (content kept?) and by its speaker similarity to the **reference**
utterance (voice taken?) -- and, for contrast, to the source utterance. k = 1 is allowed and
decodes the source's RVQ-1 alone (no reference).

Frames: the reference's codes are fitted to the source's length ``T_s`` by

* ``tile`` (default): repeating the reference's frames cyclically, then cutting at ``T_s``; works
  for any pair and keeps every reference frame when the reference is shorter.
* ``crop``: the reference's first ``T_s`` frames; the pairing then only picks references at
  least as long as their source (a source without one is left out, with a warning).

Projection (paper figure 3, there a t-SNE): each utterance's codes become the sum of the chosen
levels' codebook vectors per frame, mean-pooled over frames; one panel for RVQ-1 and one for
RVQ-2:8, points coloured by speaker. PCA (``torch.pca_lowrank``, deterministic, no extra
package) is the default; ``method: tsne`` uses scikit-learn's t-SNE when it is installed (it is
not a pinned dependency). Beside the picture, a number: leave-one-out 1-nearest-neighbour
speaker accuracy (cosine) of the pooled vectors in their full dimension -- high when they
cluster by speaker.
"""
from __future__ import annotations

import logging
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from tqdm import tqdm

from sptok.data.audio import save_audio
from sptok.data.kaldi_dir import c_sort_key, write_kv_file
from sptok.eval.scoring import UttInput, summarize
from sptok.slmtokbench.preservation import (EvalSet, ScorerSet, batches, decode_batch,
                                            encode_batch, finish_run)
from sptok.slmtokbench.token_sources import (CodebookEmbedder, format_levels, load_codebooks,
                                             parse_levels)
from sptok.utils.config import dump_yaml
from sptok.utils.fileio import atomic_open, atomic_path
from sptok.utils.progress import progress_mininterval

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]
FRAME_POLICIES = ("tile", "crop")
PROJECTION_METHODS = ("pca", "tsne")
#: Per-utterance column of the similarity to the source speaker.
SOURCE_SIM = "spk_sim_source"


# ------------------------------------------------------------------------------------------------
# Level swapping


def fit_frames(codes: np.ndarray, frames: int, policy: str = "tile") -> np.ndarray:
    """Codes [k, T_r] fitted to ``frames`` frames by ``policy`` (see the module docstring)."""
    if policy not in FRAME_POLICIES:
        raise ValueError(f"frames policy must be one of {FRAME_POLICIES}, got {policy!r}")
    length = codes.shape[1]
    if length == 0 or frames < 1:
        raise ValueError(f"cannot fit {length} reference frames to {frames}")
    if policy == "crop":
        if length < frames:
            raise ValueError(f"crop: the reference has {length} frames, fewer than the "
                             f"source's {frames}; pick a longer reference or use 'tile'")
        return codes[:, :frames]
    repeats = -(-frames // length)
    return np.tile(codes, (1, repeats))[:, :frames]


def swap_levels(source: np.ndarray, reference: np.ndarray, k: int,
                policy: str = "tile") -> np.ndarray:
    """Voice-conversion codes [k, T_s]: row 0 is the source's RVQ-1, rows 1..k-1 the reference's
    levels 2..k fitted to the source's length.

    Args:
        source: source codes [n_q, T_s] (at least one level).
        reference: reference codes [n_q, T_r] (at least k levels when k > 1).
        k: last level taken (1-based); k = 1 gives the source's RVQ-1 alone.
        policy: ``tile`` or ``crop``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if source.ndim != 2 or reference.ndim != 2:
        raise ValueError(f"codes must be [n_q, T], got shapes {source.shape}, {reference.shape}")
    if k > 1 and reference.shape[0] < k:
        raise ValueError(f"k={k} needs {k} reference levels, got {reference.shape[0]}")
    first = source[:1]
    if k == 1:
        return first.copy()
    rest = fit_frames(reference[1:k], source.shape[1], policy)
    return np.concatenate([first, rest], axis=0)


@dataclass(frozen=True)
class VCPair:
    """A source utterance converted to the voice of a reference utterance."""

    source: str
    reference: str

    @property
    def key(self) -> str:
        """Key of the converted utterance."""
        return f"{self.source}-vc-{self.reference}"


def make_pairs(keys: Sequence[str], utt2spk: Mapping[str, str], num_pairs: Optional[int],
               seed: int = 0, lengths: Optional[Mapping[str, int]] = None,
               sources: Optional[Sequence[str]] = None) -> List[VCPair]:
    """Up to ``num_pairs`` (source, reference) pairs of different speakers, seeded.

    Sources (``sources``, default ``keys``) are drawn without repetition; each gets a random
    reference among ``keys`` of another speaker (with ``lengths``: one at least as long, for the
    ``crop`` policy).
    """
    rng = random.Random(seed)
    if len({utt2spk[k] for k in keys}) < 2:
        raise ValueError("voice conversion needs utterances of at least 2 speakers")
    sources = list(keys if sources is None else sources)
    rng.shuffle(sources)
    pairs = []
    for source in sources:
        if num_pairs is not None and len(pairs) >= num_pairs:
            break
        candidates = [k for k in keys if utt2spk[k] != utt2spk[source]
                      and (lengths is None or lengths[k] >= lengths[source])]
        if not candidates:
            logger.warning("voice conversion: no reference for source %s (another speaker%s)",
                           source, ", at least as long" if lengths is not None else "")
            continue
        pairs.append(VCPair(source, rng.choice(candidates)))
    if not pairs:
        raise ValueError("voice conversion: no (source, reference) pair could be formed")
    return sorted(pairs, key=lambda p: c_sort_key(p.key))


def vc_condition_name(k: int) -> str:
    """``RVQ-1 + ref RVQ-2:4`` for k = 4 (``RVQ-1 only`` for k = 1)."""
    return "RVQ-1 only" if k == 1 else f"RVQ-1 + ref RVQ-{format_levels((1, k))}"


def _codes_for(tokenizer, data: EvalSet, keys: Sequence[str], n_q: int,
               codes: Optional[Mapping[str, np.ndarray]], batch_size: int
               ) -> Dict[str, np.ndarray]:
    """key -> codes [n_q, T] from the stored tokens ([T, n_q]) or by encoding the audio."""
    out: Dict[str, np.ndarray] = {}
    if codes is not None:
        for key in keys:
            array = np.asarray(codes[key])
            if array.shape[1] < n_q:
                raise ValueError(f"key '{key}': {array.shape[1]} code levels, {n_q} needed")
            out[key] = array[:, :n_q].T
        return out
    rate = int(tokenizer.sample_rate)
    for chunk in batches(list(keys), batch_size):
        wavs = [data.load(k, rate) for k in chunk]
        out.update(zip(chunk, encode_batch(tokenizer, wavs, n_q=n_q)))
    return out


def run_voice_conversion(tokenizer, data: EvalSet, pairs: Sequence[VCPair], ks: Sequence[int],
                         scorers: ScorerSet, out_dir: PathLike, policy: str = "tile",
                         codes: Optional[Mapping[str, np.ndarray]] = None,
                         batch_size: int = 8, save_wavs: bool = True,
                         progress: bool = True) -> Dict[int, Dict[str, Any]]:
    """Convert every pair with reference levels 2..k for each k, decode and score.

    Args:
        tokenizer: the codec (:class:`sptok.inference.SpeechTokenizer`).
        data: the utterances the pairs refer to.
        pairs: from :func:`make_pairs`.
        ks: last reference level of each condition (2, 4, 8); each must be <= the codec's n_q.
        scorers: metrics ``wer`` (against the source text) and ``spk_sim`` (to the reference)
            are used when the scorer set has them; ``spk_sim_source`` comes with ``spk_sim``.
        out_dir: ``k<k>/`` per condition (wav/, wav.scp, results.tsv, summary.yaml) and
            ``pairs`` (converted key, source, reference).
        policy: frames policy, ``tile`` or ``crop``.
        codes: stored tokens key -> [T, n_q]; None encodes the audio.

    Returns:
        k -> summary (``metrics``: wer, spk_sim, spk_sim_source ...).
    """
    out_dir = Path(out_dir)
    n_q = int(tokenizer.n_q)
    bad = [k for k in ks if not 1 <= int(k) <= n_q]
    if bad:
        raise ValueError(f"voice conversion k {bad}: the codec has {n_q} levels")
    metrics = [m for m in scorers.metrics if m in ("wer", "cer", "spk_sim")]
    if not metrics:
        raise ValueError("voice conversion needs 'wer' or 'spk_sim' among the metrics")
    rate = int(tokenizer.sample_rate)
    scorer = scorers.scorer(metrics, sample_rate=rate)
    source_scorer = scorers.scorer(["spk_sim"], sample_rate=rate) if "spk_sim" in metrics \
        else None
    write_kv_file(out_dir / "pairs", {p.key: f"{p.source} {p.reference}" for p in pairs})
    needed = sorted({p.source for p in pairs} | {p.reference for p in pairs}, key=c_sort_key)
    logger.info("voice conversion: %d pairs, %d utterances, k in %s, frames %s", len(pairs),
                len(needed), list(ks), policy)
    all_codes = _codes_for(tokenizer, data, needed, max(ks), codes, batch_size)
    results: Dict[int, Dict[str, Any]] = {}
    for k in ks:
        k = int(k)
        run_dir = out_dir / f"k{k}"
        rows: List[Dict[str, Any]] = []
        wav_scp: Dict[str, str] = {}
        start = time.perf_counter()
        for chunk in tqdm(batches(list(pairs), batch_size), desc=f"VC k={k}",
                          disable=not progress,
                          mininterval=progress_mininterval(), file=sys.stderr):
            sources = [data.load(p.source, rate) for p in chunk]
            references = [data.load(p.reference, rate) for p in chunk]
            swapped = [swap_levels(all_codes[p.source], all_codes[p.reference], k, policy)
                       for p in chunk]
            with torch.inference_mode():
                hyps = decode_batch(tokenizer, swapped, 0, [w.shape[0] for w in sources])
            utts = [UttInput(p.key, hyp, text=data.texts[p.source], spk_ref=ref,
                             spk_ref_id=f"ref:{p.reference}")
                    for p, hyp, ref in zip(chunk, hyps, references)]
            batch_rows = scorer.score(utts)
            if source_scorer is not None:
                to_source = source_scorer.score(
                    [UttInput(p.key, hyp, spk_ref=src, spk_ref_id=f"src:{p.source}")
                     for p, hyp, src in zip(chunk, hyps, sources)])
                for row, extra in zip(batch_rows, to_source):
                    row[SOURCE_SIM] = extra["spk_sim"]
            for row, pair in zip(batch_rows, chunk):
                row["source"], row["reference"] = pair.source, pair.reference
            rows.extend(batch_rows)
            if save_wavs:
                for utt in utts:
                    path = run_dir / "wav" / f"{utt.key}.wav"
                    save_audio(path, utt.hyp, rate)
                    wav_scp[utt.key] = str(path)
        info = {"name": vc_condition_name(k),
                "k": k, "frames": policy, "n_pairs": len(pairs),
                "scorers": scorers.describe(), "seconds": round(time.perf_counter() - start, 1)}
        summary = finish_run(run_dir, rows, metrics, wav_scp, info)
        if source_scorer is not None:
            summary["metrics"][SOURCE_SIM] = summarize(
                [{"spk_sim": r[SOURCE_SIM]} for r in rows], ["spk_sim"])["spk_sim"]
            with atomic_open(run_dir / "summary.yaml") as f:
                f.write(dump_yaml(summary))
        shown = ", ".join(f"{m} {v['value']:.4g}" for m, v in summary["metrics"].items())
        logger.info("voice conversion k=%d: %s", k, shown)
        results[k] = summary
    return results


# ------------------------------------------------------------------------------------------------
# Projection


def pooled_embeddings(codes: Mapping[str, np.ndarray], keys: Sequence[str],
                      embedder: CodebookEmbedder) -> torch.Tensor:
    """Mean over frames of the chosen levels' summed codebook vectors: [N, D] for ``keys``
    (codes [T, n_q] per key, the tokens layout)."""
    rows = [embedder(np.asarray(codes[k])).mean(dim=0) for k in keys]
    return torch.stack(rows)


def project_2d(x: torch.Tensor, method: str = "pca", seed: int = 0) -> torch.Tensor:
    """[N, D] -> [N, 2] by PCA (``torch.pca_lowrank``, signs fixed so the result is
    deterministic) or scikit-learn's t-SNE."""
    if method not in PROJECTION_METHODS:
        raise ValueError(f"projection method must be one of {PROJECTION_METHODS}, got "
                         f"{method!r}")
    x = x.double()
    if x.shape[0] < 3:
        raise ValueError(f"a projection needs at least 3 utterances, got {x.shape[0]}")
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError as exc:
            raise ValueError("projection method 'tsne' needs scikit-learn (pip install "
                             "scikit-learn); or use 'pca'") from exc
        perplexity = float(min(30.0, (x.shape[0] - 1) / 3))
        points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed
                      ).fit_transform(x.numpy())
        return torch.from_numpy(np.asarray(points, dtype=np.float64))
    centred = x - x.mean(dim=0, keepdim=True)
    q = min(2, *centred.shape)
    torch.manual_seed(seed)  # pca_lowrank draws a random sketch
    _, _, v = torch.pca_lowrank(centred, q=q, center=False)
    points = centred @ v[:, :q]
    # An eigenvector's sign is arbitrary: make each axis's largest coordinate positive.
    signs = torch.sign(points.gather(0, points.abs().argmax(dim=0, keepdim=True)))
    points = points * torch.where(signs == 0, torch.ones_like(signs), signs)
    if q < 2:
        points = torch.cat([points, torch.zeros(points.shape[0], 2 - q, dtype=points.dtype)], 1)
    return points


def speaker_nn_accuracy(x: torch.Tensor, labels: Sequence[str]) -> float:
    """Leave-one-out 1-nearest-neighbour speaker accuracy of [N, D] vectors (cosine)."""
    if x.shape[0] < 2:
        raise ValueError("1-NN accuracy needs at least 2 vectors")
    unit = torch.nn.functional.normalize(x.double(), dim=1)
    similarity = unit @ unit.t()
    similarity.fill_diagonal_(-float("inf"))
    nearest = similarity.argmax(dim=1).tolist()
    return float(np.mean([labels[i] == labels[j] for i, j in enumerate(nearest)]))


def plot_projection(panels: Sequence[Tuple[str, torch.Tensor]], labels: Sequence[str],
                    out_png: PathLike, title: str = "") -> Path:
    """Scatter plots side by side, one per ``(panel title, points [N, 2])``, coloured by
    ``labels``; written atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    speakers = sorted(set(labels))
    cmap = plt.get_cmap("tab20" if len(speakers) > 10 else "tab10")
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    for ax, (panel_title, points) in zip(axes[0], panels):
        points = points.numpy()
        for index, speaker in enumerate(speakers):
            chosen = [i for i, s in enumerate(labels) if s == speaker]
            ax.scatter(points[chosen, 0], points[chosen, 1], s=16, alpha=0.8,
                       color=cmap(index % cmap.N), label=speaker)
        ax.set_title(panel_title)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, names = axes[0][0].get_legend_handles_labels()
    if len(speakers) <= 20:
        fig.legend(handles, names, loc="center right", fontsize="small", title="speaker")
        fig.subplots_adjust(right=0.84)
    if title:
        fig.suptitle(title)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return Path(out_png)


def choose_projection_keys(data: EvalSet, per_speaker: Optional[int], seed: int = 0
                           ) -> List[str]:
    """Up to ``per_speaker`` utterances of each speaker of ``data`` (seeded), C-sorted."""
    by_speaker: Dict[str, List[str]] = {}
    for key in data.keys:
        by_speaker.setdefault(data.utt2spk[key], []).append(key)
    rng = random.Random(seed)
    chosen = []
    for speaker in sorted(by_speaker):
        keys = by_speaker[speaker]
        if per_speaker is not None and len(keys) > per_speaker:
            keys = rng.sample(keys, per_speaker)
        chosen.extend(keys)
    return sorted(chosen, key=c_sort_key)


def run_projection(codes: Mapping[str, np.ndarray], codebooks, data: EvalSet,
                   out_dir: PathLike, groups: Sequence[str] = ("1", "2:8"),
                   method: str = "pca", per_speaker: Optional[int] = 20, seed: int = 0,
                   title: str = "", codebook_prefix: Optional[str] = None) -> Dict[str, Any]:
    """Project mean-pooled level embeddings to 2-D, one panel per level group, and write
    ``projection.png`` and ``summary.yaml`` (1-NN speaker accuracy per group) to ``out_dir``.

    Args:
        codes: key -> codes [T, n_q] (a CodesReader of the tokens).
        codebooks: [n_q, K, D] tensor, checkpoint file or codec module (see
            :class:`~sptok.slmtokbench.token_sources.CodebookEmbedder`).
        data: utterances and speakers (``data.keys`` restricted to those in ``codes``).
        groups: level specs, one panel each (paper: RVQ-1 vs RVQ-2:8); a group beyond the
            codebooks' levels is cut to the last level.
    """
    out_dir = Path(out_dir)
    keys = [k for k in choose_projection_keys(data, per_speaker, seed) if k in codes]
    labels = [data.utt2spk[k] for k in keys]
    if len(set(labels)) < 2:
        raise ValueError("the projection needs utterances of at least 2 speakers")
    books = load_codebooks(codebooks, codebook_prefix)
    n_q = books.shape[0]
    panels, accuracy = [], {}
    for spec in groups:
        start, end = parse_levels(spec)
        if start >= n_q:
            raise ValueError(f"projection group '{spec}': the codebooks have {n_q} levels")
        levels = (start, min(end, n_q))
        embedder = CodebookEmbedder(books, levels)
        name = f"RVQ-{format_levels(levels)}"
        pooled = pooled_embeddings(codes, keys, embedder)
        accuracy[name] = speaker_nn_accuracy(pooled, labels)
        panels.append((f"{name} (1-NN speaker acc. {accuracy[name]:.2f})",
                       project_2d(pooled, method, seed)))
    png = plot_projection(panels, labels, out_dir / "projection.png", title)
    summary = {"image": str(png), "method": method, "n_utts": len(keys),
               "n_speakers": len(set(labels)), "speaker_nn_accuracy": accuracy}
    with atomic_open(out_dir / "summary.yaml") as f:
        f.write(dump_yaml(summary))
    logger.info("projection: %d utterances of %d speakers -> %s; 1-NN speaker accuracy %s",
                len(keys), len(set(labels)), png,
                {k: round(v, 3) for k, v in accuracy.items()})
    return summary


__all__ = ["FRAME_POLICIES", "PROJECTION_METHODS", "SOURCE_SIM", "fit_frames", "swap_levels",
           "VCPair", "make_pairs", "vc_condition_name", "run_voice_conversion",
           "pooled_embeddings", "project_2d", "speaker_nn_accuracy", "plot_projection",
           "choose_projection_keys", "run_projection"]
