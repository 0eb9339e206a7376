"""Zero-shot TTS with USLM: speak a text in the voice of a short acoustic prompt.

Usage:
    # one sentence
    python -m sptok.bin.tts --uslm_exp exp/uslm --codec exp/codec \\
        --prompt_wav prompt.wav --prompt_text "what the prompt says" --text "Hello there." \\
        --out out.wav
    # a list: key<TAB>prompt_wav<TAB>prompt_text<TAB>text per line
    python -m sptok.bin.tts --uslm_exp exp/uslm --codec exp/codec --batch_file list.tsv \\
        --out_dir exp/uslm/decode
    # a test set: each utterance spoken with a 3 s prompt cut from ANOTHER utterance of the
    # same speaker (seeded choice); --list_only true writes the list and stops
    python -m sptok.bin.tts --uslm_exp exp/uslm --codec exp/codec \\
        --data_dir dump/raw/test_unseen --out_dir exp/uslm/decode_test_unseen

``--uslm_exp`` takes one experiment (AR and NAR trained together) or two (trained in separate
runs, ``train_nar: false`` / ``train_ar: false``). Pipeline per item: the text and the prompt's
transcript go through the text front-end the model was trained with (normalisation + G2P, the
symbol table saved in the experiment); the codec encodes the prompt (which must already be at the
codec's sample rate); the AR model continues the prompt's RVQ-1 codes (KV cache; sampling with
``--temperature`` / ``--top_k`` / ``--top_p``, or ``--greedy``) until EOS or the length guard
(16 frames per phoneme, ``--max_frames``); the NAR model fills in levels 2..n_q greedily; the
codec decodes the codes. Items are decoded in batches (``--batch_size``), and every item draws
its random numbers from its own generator seeded by ``--seed`` and its key, so an item's output
does not depend on the batch it lands in.

Outputs: ``--out`` (one file), or ``OUT_DIR/wav/<key>.wav`` plus ``OUT_DIR/wav.scp`` (or
``--out_scp``) written after every file is complete; all files atomically. The data-dir mode
also writes ``decode_list.tsv`` (the list above), ``prompts/<prompt utt>.wav``, ``text`` (the
target texts), ``utt2spk``, ``utt2prompt`` and ``prompt.scp`` (each target's prompt wav, for
speaker similarity).
"""
from __future__ import annotations

import argparse
import logging
import random
import sys
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm import tqdm

from sptok.data.audio import (audio_file_info, is_pipe, load_audio, mix_to_mono, read_audio,
                              save_audio)
from sptok.data.errors import DataError
from sptok.data.kaldi_dir import c_sort_key, read_kv_file, read_segments, write_kv_file
from sptok.utils.cli import ESPNET_LOG_FORMAT, run_cli, str2bool
from sptok.inference.speechtokenizer import SpeechTokenizer, resolve_device
from sptok.tasks.uslm import USLMModels, load_uslm
from sptok.text.symbol_table import SymbolTable
from sptok.text.tokenizer import TextTokenizer
from sptok.uslm.inference import FRAMES_PER_PHONEME, generate
from sptok.uslm.sampling import SamplingOptions
from sptok.utils.fileio import PathLike, atomic_open
from sptok.utils.progress import progress_mininterval

__all__ = ["TTSRequest", "TextFrontend", "Synthesizer", "read_batch_file", "write_batch_file",
           "load_prompt", "build_decode_list", "item_seed", "main"]

logger = logging.getLogger("tts")

DECODE_LIST = "decode_list.tsv"
#: Key of the one item of a --text call (its generator's seed depends on the key).
SINGLE_KEY = "utt"


@dataclass(frozen=True)
class TTSRequest:
    """One item to synthesise: ``text`` spoken in the voice of ``prompt_wav`` (whose transcript
    is ``prompt_text``), written under ``key``."""

    key: str
    prompt_wav: str
    prompt_text: str
    text: str


# ------------------------------------------------------------------------------------------------
# Text and prompts


class TextFrontend:
    """Text -> token ids as the model was trained: the tokenizer (normalisation + G2P for
    phonemes), then the symbol table.

    Args:
        tokenizer: the trained model's text tokenizer (:meth:`USLMModels.build_tokenizer`).
        symbols: the model's symbol table.
    """

    def __init__(self, tokenizer: TextTokenizer, symbols: SymbolTable):
        self.tokenizer = tokenizer
        self.symbols = symbols

    def __call__(self, text: str, what: str = "text") -> torch.Tensor:
        """[S] long token ids of ``text``.

        Raises:
            ValueError: empty text (after normalisation), or tokens the model does not know;
                ``what`` names the text in the message (e.g. ``"key 'u1': prompt_text"``).
        """
        if not text or not text.strip():
            raise ValueError(f"{what} is empty: nothing to say")
        tokens = self.tokenizer(text)
        if not tokens:
            raise ValueError(f"{what} {text!r} has no tokens after normalisation")
        unknown = self.symbols.unknown(tokens)
        if unknown:
            source = f" {self.symbols.source}" if self.symbols.source else ""
            raise ValueError(f"{what} {text!r}: symbol(s) {unknown} are not in the model's "
                             f"token table{source} ({len(self.symbols)} symbols)")
        return torch.tensor(self.symbols.encode(tokens), dtype=torch.long)


def load_prompt(spec: str, sample_rate: int, min_seconds: float = 1.0,
                key: Optional[str] = None) -> np.ndarray:
    """A prompt waveform [N] float32, mono, checked to be at ``sample_rate`` and long enough.

    Args:
        spec: an audio file (or a ``cmd |`` pipe).
        sample_rate: the codec's rate; the prompt must have it (no silent resampling).
        min_seconds: shortest accepted prompt.
        key: the item, named in errors.

    Raises:
        ValueError: another sample rate, or a prompt shorter than ``min_seconds``; DataError:
            a file that cannot be read.
    """
    wav, rate = read_audio(spec, key=key)
    where = f"key '{key}': " if key is not None else ""
    if rate != sample_rate:
        raise ValueError(f"{where}prompt '{spec}' is at {rate} Hz but the codec works at "
                         f"{sample_rate} Hz: resample it first (e.g. sox in.wav -r "
                         f"{sample_rate} out.wav)")
    wav = np.ascontiguousarray(mix_to_mono(wav), dtype=np.float32)
    seconds = wav.shape[0] / sample_rate
    if seconds < min_seconds:
        raise ValueError(f"{where}prompt '{spec}' is {seconds:.2f} s long, shorter than "
                         f"min_prompt_seconds {min_seconds}: too little to take the voice from")
    return wav


def item_seed(seed: int, key: str) -> int:
    """The seed of one item's generator: a function of the run's seed and the item's key only."""
    return zlib.crc32(f"{seed}:{key}".encode("utf-8"))


# ------------------------------------------------------------------------------------------------
# Lists


def read_batch_file(path: PathLike) -> List[TTSRequest]:
    """``key<TAB>prompt_wav<TAB>prompt_text<TAB>text`` lines (blank lines skipped).

    Raises:
        DataError: a line with another number of fields, an empty key or field, a key with
            whitespace, or a repeated key (file and line named).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("batch file not found", path=str(path))
    requests: List[TTSRequest] = []
    seen: Dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 4:
                raise DataError(f"expected 4 tab-separated fields (key, prompt_wav, prompt_text, "
                                f"text), got {len(fields)}", path=str(path), line=lineno)
            key, prompt_wav, prompt_text, text = (x.strip() for x in fields)
            if not key or any(c.isspace() for c in key):
                raise DataError(f"key {key!r} must be non-empty without whitespace",
                                path=str(path), line=lineno)
            if key in seen:
                raise DataError(f"key repeated (first on line {seen[key]})", path=str(path),
                                key=key, line=lineno)
            if not prompt_wav:
                raise DataError("empty prompt_wav", path=str(path), key=key, line=lineno)
            seen[key] = lineno
            requests.append(TTSRequest(key, prompt_wav, prompt_text, text))
    if not requests:
        raise DataError("no item in the batch file", path=str(path))
    return requests


def write_batch_file(path: PathLike, requests: Sequence[TTSRequest]) -> None:
    """Write requests as ``key<TAB>prompt_wav<TAB>prompt_text<TAB>text`` lines (atomically)."""
    with atomic_open(path) as f:
        for r in requests:
            fields = (r.key, r.prompt_wav, r.prompt_text, r.text)
            if any("\t" in x or "\n" in x for x in fields):
                raise ValueError(f"key '{r.key}': fields must not contain tabs or newlines")
            f.write("\t".join(fields) + "\n")


def _durations(wav_scp: Dict[str, str], segments, keys: Sequence[str], scp_path: Path
               ) -> Dict[str, float]:
    """Seconds per utterance: segment bounds, file headers, or (pipes) loading the audio."""
    out: Dict[str, float] = {}
    for key in keys:
        if segments is not None:
            segment = segments[key]
            out[key] = segment.end - segment.start
            continue
        spec = wav_scp[key]
        info = None if is_pipe(spec) else audio_file_info(spec)
        if info is not None:
            rate, frames, _ = info
            out[key] = frames / rate
        else:
            wav, rate = read_audio(spec, key=key, scp=scp_path)
            out[key] = wav.shape[0] / rate
    return out


def _cut_transcript(text: str, fraction: float) -> str:
    """The leading words of ``text`` spoken in ``fraction`` of its audio (proportional to the
    word count: an approximation, no aligner is available offline)."""
    words = text.split()
    keep = min(len(words), max(1, int(round(len(words) * fraction))))
    return " ".join(words[:keep])


def build_decode_list(data_dir: PathLike, out_dir: PathLike, sample_rate: int,
                      prompt_seconds: float = 3.0, min_prompt_seconds: float = 1.0,
                      seed: int = 0) -> List[TTSRequest]:
    """The zero-shot TTS test list of a data dir: every utterance's text, spoken with a prompt
    cut from another utterance of the same speaker.

    For each utterance (C-sorted), the prompt utterance is drawn uniformly among the speaker's
    OTHER utterances at least ``min_prompt_seconds`` long, by a generator seeded with ``seed``
    and the utterance key (so the choice does not depend on the rest of the set). Its first
    ``prompt_seconds`` seconds, at ``sample_rate``, are written to ``OUT_DIR/prompts/<prompt
    utt>.wav``; when the cut shortens it, the prompt transcript keeps the leading words in the
    same proportion (no forced aligner offline: an approximation). Utterances whose speaker has
    no other usable utterance are left out (logged).

    Writes (atomically) ``decode_list.tsv``, ``text``, ``utt2spk``, ``utt2prompt`` and
    ``prompt.scp`` into ``out_dir``.

    Args:
        data_dir: Kaldi data dir with ``wav.scp``, ``text``, ``utt2spk`` (``segments``
            optional).
        out_dir: output directory.
        sample_rate: the codec's rate (prompts are resampled to it).
        prompt_seconds: prompt length (the paper: 3 s).
        min_prompt_seconds: shortest utterance accepted as a prompt.
        seed: seed of the prompt choice.

    Returns:
        the requests, in C-sorted key order.

    Raises:
        DataError: missing files or keys, or no utterance with a usable prompt.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not 0 < min_prompt_seconds <= prompt_seconds:
        raise ValueError(f"need 0 < min_prompt_seconds ({min_prompt_seconds}) <= "
                         f"prompt_seconds ({prompt_seconds})")
    wav_scp_path = data_dir / "wav.scp"
    wav_scp = read_kv_file(wav_scp_path)
    texts = read_kv_file(data_dir / "text", allow_empty_value=True)
    utt2spk = read_kv_file(data_dir / "utt2spk")
    segments = read_segments(data_dir / "segments") if (data_dir / "segments").is_file() \
        else None
    keys = sorted(texts, key=c_sort_key)
    for name, table in (("utt2spk", utt2spk), ("segments" if segments else "wav.scp",
                                               segments if segments else wav_scp)):
        missing = [k for k in keys if k not in table]
        if missing:
            raise DataError(f"{len(missing)} utterance(s) of the text file are missing here, "
                            f"first '{missing[0]}'", path=str(data_dir / name))
    durations = _durations(wav_scp, segments, keys, wav_scp_path)
    by_speaker: Dict[str, List[str]] = defaultdict(list)
    for key in keys:
        if durations[key] >= min_prompt_seconds and texts[key].strip():
            by_speaker[utt2spk[key]].append(key)

    chosen: Dict[str, str] = {}
    skipped: List[str] = []
    for key in keys:
        candidates = [k for k in by_speaker[utt2spk[key]] if k != key]
        if not texts[key].strip() or not candidates:
            skipped.append(key)
            continue
        chosen[key] = random.Random(f"{seed}:{key}").choice(candidates)
    if skipped:
        logger.warning("%s: %d utterance(s) left out (empty text, or no other utterance of "
                       "the speaker of at least %.1f s), first '%s'", data_dir, len(skipped),
                       min_prompt_seconds, skipped[0])
    if not chosen:
        raise DataError(f"no utterance has another utterance of its speaker of at least "
                        f"{min_prompt_seconds} s to take a prompt from", path=str(data_dir))

    prompt_dir = out_dir / "prompts"
    prompt_dir.mkdir(parents=True, exist_ok=True)
    prompt_files: Dict[str, Tuple[str, str]] = {}
    for prompt in tqdm(sorted(set(chosen.values()), key=c_sort_key), desc="prompts",
                       unit="utt", file=sys.stderr, mininterval=progress_mininterval()):
        if segments is not None:
            segment = segments[prompt]
            wav = load_audio(wav_scp[segment.recording], sample_rate,
                             (segment.start, segment.end), key=prompt, scp=wav_scp_path)
        else:
            wav = load_audio(wav_scp[prompt], sample_rate, key=prompt, scp=wav_scp_path)
        limit = int(round(prompt_seconds * sample_rate))
        text = texts[prompt]
        if wav.shape[0] > limit:
            text = _cut_transcript(text, limit / wav.shape[0])
            wav = wav[:limit]
        path = prompt_dir / f"{prompt}.wav"
        save_audio(path, wav, sample_rate)
        prompt_files[prompt] = (str(path), text)

    requests = [TTSRequest(key, prompt_files[chosen[key]][0], prompt_files[chosen[key]][1],
                           texts[key]) for key in chosen]
    write_batch_file(out_dir / DECODE_LIST, requests)
    write_kv_file(out_dir / "text", {k: texts[k] for k in chosen})
    write_kv_file(out_dir / "utt2spk", {k: utt2spk[k] for k in chosen})
    write_kv_file(out_dir / "utt2prompt", chosen)
    write_kv_file(out_dir / "prompt.scp", {k: prompt_files[p][0] for k, p in chosen.items()})
    logger.info("%s: %d items with prompts of at most %.1f s from %d prompt utterances",
                out_dir / DECODE_LIST, len(requests), prompt_seconds, len(prompt_files))
    return requests


# ------------------------------------------------------------------------------------------------
# Synthesis


class Synthesizer:
    """USLM + codec: requests -> waveforms.

    Args:
        models: the trained AR and NAR models (:func:`sptok.tasks.uslm.load_uslm`).
        codec: the SpeechTokenizer whose codes the models were trained on.
        sampling: AR sampling settings.
        seed: run seed; each item's generator is seeded by (seed, key).
        max_frames: cap on generated frames per item (None: only the length guard).
        frames_per_phoneme: length guard of the AR decoding.
        min_prompt_seconds: shortest accepted prompt.
        tokenizer: text tokenizer (default: the one the models were trained with).

    Raises:
        ValueError: models and codec that do not fit together.
    """

    def __init__(self, models: USLMModels, codec: SpeechTokenizer,
                 sampling: SamplingOptions = SamplingOptions(), seed: int = 0,
                 max_frames: Optional[int] = None,
                 frames_per_phoneme: int = FRAMES_PER_PHONEME, min_prompt_seconds: float = 1.0,
                 tokenizer: Optional[TextTokenizer] = None):
        if models.ar is None or models.nar is None:
            missing = "AR" if models.ar is None else "NAR"
            raise ValueError(f"no {missing} model among {list(models.sources.values())}: pass "
                             "the experiment that trained it too (--uslm_exp AR_EXP NAR_EXP)")
        if codec.codebook_size != models.ar.codebook_size:
            raise ValueError(f"the USLM models predict {models.ar.codebook_size} codes per level "
                             f"but the codec has codebooks of {codec.codebook_size}: not the codec "
                             "they were trained on")
        if codec.n_q < models.nar.n_q:
            raise ValueError(f"the NAR model predicts {models.nar.n_q} levels but the codec has "
                             f"only {codec.n_q}")
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.models = models
        self.codec = codec
        self.sampling = sampling
        self.seed = int(seed)
        self.max_frames = max_frames
        self.frames_per_phoneme = frames_per_phoneme
        self.min_prompt_seconds = min_prompt_seconds
        self.frontend = TextFrontend(tokenizer or models.build_tokenizer(), models.symbols)
        self.device = next(models.ar.parameters()).device

    @property
    def sample_rate(self) -> int:
        return self.codec.sample_rate

    def prepare(self, request: TTSRequest) -> Tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """(text ids, prompt text ids, prompt waveform) of a request, every input checked."""
        where = f"key '{request.key}':"
        text = self.frontend(request.text, f"{where} text")
        prompt_text = self.frontend(request.prompt_text, f"{where} prompt_text")
        wav = load_prompt(request.prompt_wav, self.sample_rate, self.min_prompt_seconds,
                          request.key)
        return text, prompt_text, wav

    def synthesize(self, requests: Sequence[TTSRequest]) -> List[np.ndarray]:
        """Waveforms [N] float32 at the codec's rate, one per request, decoded as one batch."""
        if not requests:
            return []
        prepared = [self.prepare(r) for r in requests]
        n_q = self.models.nar.n_q
        prompt_codes, prompt_lengths = self.codec.encode([torch.from_numpy(w)
                                                          for _, _, w in prepared], n_q=n_q)
        prompts = [prompt_codes[b, :, :int(prompt_lengths[b])] for b in range(len(requests))]
        generators = []
        for request in requests:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(item_seed(self.seed, request.key))
            generators.append(generator)
        codes = generate(self.models.ar, self.models.nar, [t for t, _, _ in prepared],
                         [p for _, p, _ in prepared], prompts, sampling=self.sampling,
                         generator=generators, max_frames=self.max_frames,
                         frames_per_phoneme=self.frames_per_phoneme, min_prompt_frames=1)
        return self._decode(codes, [r.key for r in requests])

    def _decode(self, codes: Sequence[torch.Tensor], keys: Sequence[str]) -> List[np.ndarray]:
        hop = self.codec.hop_length
        out: List[Optional[np.ndarray]] = [None] * len(codes)
        filled = [i for i, c in enumerate(codes) if c.shape[1] > 0]
        for i in set(range(len(codes))) - set(filled):
            logger.warning("key '%s': the AR model stopped at once (no frame); writing one "
                           "frame of silence", keys[i])
            out[i] = np.zeros(hop, dtype=np.float32)
        if filled:
            lengths = torch.tensor([codes[i].shape[1] for i in filled])
            batch = torch.zeros(len(filled), codes[filled[0]].shape[0], int(lengths.max()),
                                dtype=torch.long, device=codes[filled[0]].device)
            for row, i in enumerate(filled):
                batch[row, :, :codes[i].shape[1]] = codes[i]
            wav, sample_lengths = self.codec.decode(batch, lengths)
            for row, i in enumerate(filled):
                out[i] = wav[row, 0, :int(sample_lengths[row])].float().cpu().numpy()
        return out  # type: ignore[return-value]


def synthesize_all(synthesizer: Synthesizer, requests: Sequence[TTSRequest], out_dir: PathLike,
                   batch_size: int = 8, out_scp: Optional[PathLike] = None) -> Dict[str, str]:
    """Synthesise every request in batches of similar length; writes ``OUT_DIR/wav/<key>.wav``
    and then the wav.scp. Returns key -> wav path."""
    out_dir = Path(out_dir)
    wav_dir = out_dir / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    # Similar lengths in a batch: less padding. Results do not depend on the order.
    order = sorted(requests, key=lambda r: (len(r.text) + len(r.prompt_text), r.key))
    written: Dict[str, str] = {}
    start = time.perf_counter()
    seconds = 0.0
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc="tts", unit="batch", file=sys.stderr,
                      mininterval=progress_mininterval()):
        for request, wav in zip(batch, synthesizer.synthesize(batch)):
            path = wav_dir / f"{request.key}.wav"
            save_audio(path, wav, synthesizer.sample_rate)
            written[request.key] = str(path)
            seconds += wav.shape[0] / synthesizer.sample_rate
    scp = Path(out_scp) if out_scp else out_dir / "wav.scp"
    write_kv_file(scp, written)
    elapsed = time.perf_counter() - start
    logger.info("wrote %d files (%.1f s of speech in %.1f s) and %s", len(written), seconds,
                elapsed, scp)
    return written


# ------------------------------------------------------------------------------------------------
# Command line


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tts", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    group = parser.add_argument_group("models")
    group.add_argument("--uslm_exp", nargs="+", default=None,
                       help="USLM experiment dir (AR + NAR), or two (AR run, NAR run)")
    group.add_argument("--uslm_checkpoint", default=None,
                       help="weight file in the (single) USLM experiment; None: its best model")
    group.add_argument("--codec", default=None,
                       help="codec experiment dir, weight file or official release dir")
    group.add_argument("--codec_checkpoint", default=None,
                       help="weight file in the codec experiment; None: its best model")
    group.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    group.add_argument("--num_threads", type=int, default=0,
                       help="CPU threads for torch (0: torch's default)")
    group = parser.add_argument_group("one item")
    group.add_argument("--prompt_wav", help="acoustic prompt, at the codec's sample rate")
    group.add_argument("--prompt_text", help="what the prompt says")
    group.add_argument("--text", help="what to say")
    group.add_argument("--out", help="output wav file")
    group = parser.add_argument_group("many items")
    group.add_argument("--batch_file",
                       help="list of key<TAB>prompt_wav<TAB>prompt_text<TAB>text lines")
    group.add_argument("--data_dir",
                       help="decode a data dir (wav.scp, text, utt2spk) with prompts cut from "
                            "other utterances of the same speaker")
    group.add_argument("--out_dir", help="writes OUT_DIR/wav/<key>.wav and OUT_DIR/wav.scp")
    group.add_argument("--out_scp", default=None, help="wav.scp to write; None: OUT_DIR/wav.scp")
    group.add_argument("--batch_size", type=int, default=8, help="items decoded together")
    group.add_argument("--prompt_seconds", type=float, default=3.0,
                       help="--data_dir: prompt length")
    group.add_argument("--list_only", type=str2bool, default=False,
                       help="--data_dir: write the decode list and prompts, then stop")
    group.add_argument("--sample_rate", type=int, default=None,
                       help="--data_dir: prompt rate, needed with --list_only when no --codec "
                            "is given (otherwise the codec's)")
    group = parser.add_argument_group("decoding")
    group.add_argument("--greedy", type=str2bool, default=False, help="AR argmax decoding")
    group.add_argument("--temperature", type=float, default=1.0)
    group.add_argument("--top_k", type=int, default=0, help="0: off")
    group.add_argument("--top_p", type=float, default=1.0, help="1.0: off")
    group.add_argument("--seed", type=int, default=0,
                       help="seed of the sampling (and of the prompt choice of --data_dir)")
    group.add_argument("--max_frames", type=int, default=None,
                       help="most frames generated per item; None: only the length guard")
    group.add_argument("--frames_per_phoneme", type=int, default=FRAMES_PER_PHONEME,
                       help="length guard: at most this many frames per text token")
    group.add_argument("--min_prompt_seconds", type=float, default=1.0,
                       help="shortest accepted prompt")
    return parser


def _check_mode(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    single = [args.prompt_wav, args.prompt_text, args.text, args.out]
    modes = [name for name, given in (("single", any(x is not None for x in single)),
                                      ("batch_file", args.batch_file is not None),
                                      ("data_dir", args.data_dir is not None)) if given]
    if len(modes) != 1:
        parser.error("give either --prompt_wav/--prompt_text/--text/--out (one item), "
                     "--batch_file or --data_dir (with --out_dir)")
    mode = modes[0]
    if mode == "single" and any(x is None for x in single):
        parser.error("one item needs --prompt_wav, --prompt_text, --text and --out")
    if mode != "single" and not args.out_dir:
        parser.error(f"--{mode} needs --out_dir")
    if args.list_only and mode != "data_dir":
        parser.error("--list_only goes with --data_dir")
    needs_models = not (mode == "data_dir" and args.list_only)
    if needs_models and (not args.uslm_exp or not args.codec):
        parser.error("--uslm_exp and --codec are required")
    if mode == "data_dir" and args.list_only and args.sample_rate is None and not args.codec:
        parser.error("--list_only needs --sample_rate (or --codec to take its rate)")
    if args.batch_size < 1:
        parser.error("--batch_size must be >= 1")
    return mode


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()

    def synthesize_requests(args: argparse.Namespace) -> None:
        mode = _check_mode(args, parser)
        if args.num_threads > 0:
            torch.set_num_threads(args.num_threads)
        sampling = SamplingOptions(greedy=args.greedy, temperature=args.temperature,
                                   top_k=args.top_k, top_p=args.top_p)
        codec = None
        if args.codec:
            codec = SpeechTokenizer.from_pretrained(args.codec, checkpoint=args.codec_checkpoint,
                                                    device=args.device)
        if mode == "data_dir":
            rate = codec.sample_rate if codec is not None else args.sample_rate
            if args.sample_rate is not None and args.sample_rate != rate:
                raise ValueError(f"--sample_rate {args.sample_rate} differs from the codec's "
                                 f"{rate} Hz (prompts must be at the codec's rate)")
            requests = build_decode_list(args.data_dir, args.out_dir, rate, args.prompt_seconds,
                                         args.min_prompt_seconds, args.seed)
            if args.list_only:
                return
        elif mode == "batch_file":
            requests = read_batch_file(args.batch_file)
        else:
            requests = [TTSRequest(SINGLE_KEY, args.prompt_wav, args.prompt_text, args.text)]
        device = resolve_device(args.device)
        models = load_uslm(args.uslm_exp, args.uslm_checkpoint, device=device)
        synthesizer = Synthesizer(models, codec, sampling, seed=args.seed,
                                  max_frames=args.max_frames,
                                  frames_per_phoneme=args.frames_per_phoneme,
                                  min_prompt_seconds=args.min_prompt_seconds)
        if mode == "single":
            wav = synthesizer.synthesize(requests)[0]
            save_audio(args.out, wav, synthesizer.sample_rate)
            logger.info("wrote %s (%.2f s)", args.out, wav.shape[0] / synthesizer.sample_rate)
        else:
            # every input is checked before the first (slow) decoding
            for request in requests:
                synthesizer.prepare(request)
            synthesize_all(synthesizer, requests, args.out_dir, args.batch_size, args.out_scp)

    return run_cli(parser, synthesize_requests, argv,
                   errors=(DataError, ValueError, FileNotFoundError), log_format=ESPNET_LOG_FORMAT)


if __name__ == "__main__":
    sys.exit(main())
