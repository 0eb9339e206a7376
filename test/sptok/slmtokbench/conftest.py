"""Shared test data for the SLMTokBench tests, handed to test modules as fixtures (pytest runs in
importlib mode, where test modules cannot import each other or this file):

* ``toy``: unit-id streams that spell their transcript (text-alignment tests);
* ``bench_kit``: tiny data dirs, codecs, teachers, unit vocoders and offline scorers (the
  benchmark steps end to end).
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest
import soundfile as sf
import torch

from sptok.data.ark import CodesWriter
from sptok.data.kaldi_dir import write_kv_file
from sptok.eval.asr import AbsASR, asr_choices
from sptok.eval.speaker import AbsSpeakerEmbedder, speaker_choices
from sptok.tasks.codec import CodecTask
from sptok.teachers import save_wav2vec2
from sptok.teachers.wav2vec2_params import STANDARD_CONV_LAYERS, build_model
from sptok.utils.config import save_config

# ------------------------------------------------------------------------------------------------
# Toy token streams (text alignment)


TOY_LETTERS = "abcde"
#: unit ids: 0 filler, 1..5 the letters, 6 the word break
TOY_VOCAB = len(TOY_LETTERS) + 2


def random_transcript(rng: np.random.Generator) -> str:
    words = ["".join(rng.choice(list(TOY_LETTERS), size=rng.integers(1, 5)))
             for _ in range(rng.integers(1, 4))]
    return " ".join(words)


def spell(text: str, rng: np.random.Generator) -> np.ndarray:
    """Unit ids [T] spelling ``text``: each symbol 1-2 frames, filler frames in between (always
    between equal neighbours, as CTC needs)."""
    ids = []
    previous = None
    for char in text:
        unit = TOY_VOCAB - 1 if char == " " else TOY_LETTERS.index(char) + 1
        if previous == unit or rng.random() < 0.3:
            ids.append(0)
        ids.extend([unit] * int(rng.integers(1, 3)))
        previous = unit
    return np.array(ids + [0], dtype=np.int64)


def make_toy_set(root: Path, name: str, n: int, seed: int, dependent: bool = True
                 ) -> Tuple[Path, Path, Dict[str, str]]:
    """Write ``root/name/units.{ark,scp}`` ([T, 1] code matrices) and ``root/name/text``.

    dependent=False: the units spell another random transcript than the one in ``text``
    (tokens and text independent)."""
    rng = np.random.default_rng(seed)
    texts = {}
    folder = root / name
    with CodesWriter(folder / "units.ark", folder / "units.scp", TOY_VOCAB) as writer:
        for k in range(n):
            key = f"{name}_{k:04d}"
            text = random_transcript(rng)
            spelled = text if dependent else random_transcript(rng)
            units = spell(spelled, rng)
            if not dependent:  # long enough for any transcript of the other utterances
                units = np.concatenate([units, np.zeros(16, dtype=np.int64)])
            writer[key] = units[:, None]
            texts[key] = text.upper()  # LibriSpeech-style upper case; the vocab lower-cases
    write_kv_file(folder / "text", texts)
    return folder / "units.scp", folder / "text", texts


# ------------------------------------------------------------------------------------------------
# Benchmark setups

RATE = 16000
WORDS = ["red", "green", "blue", "cat", "dog", "sun", "moon", "tree"]
TEACHER_DIM = 12


# ------------------------------------------------------------------------------------------------
# Benchmark setups: scorers


class FakeASR(AbsASR):
    """Deterministic stand-in for an ASR model: louder audio 'hears' more words, so the WER
    depends on the input."""

    def __init__(self, device: str = "cpu"):
        self.device = device

    def recognize(self, wavs: List[np.ndarray]) -> List[str]:
        out = []
        for wav in wavs:
            count = 1 + int(np.sqrt(np.mean(wav ** 2)) * 40) % len(WORDS)
            out.append(" ".join(WORDS[:count]))
        return out


class FakeSpeaker(AbsSpeakerEmbedder):
    """Speaker 'embedding' from simple signal statistics (RMS, zero crossings, a low/high band
    energy ratio): identical audio gives similarity 1."""

    def __init__(self, device: str = "cpu"):
        self.device = device

    def embed_waveforms(self, wavs: List[np.ndarray]) -> np.ndarray:
        rows = []
        for wav in wavs:
            spectrum = np.abs(np.fft.rfft(wav))
            half = len(spectrum) // 8
            rows.append([np.sqrt(np.mean(wav ** 2)) + 1e-3,
                         np.mean(np.abs(np.diff(np.sign(wav)))) + 1e-3,
                         spectrum[:half].sum() / (spectrum.sum() + 1e-9), 0.1])
        return np.asarray(rows, dtype=np.float32)


def register_fakes() -> None:
    """``asr: fake_asr`` and ``spk_model: fake_spk`` (registering twice is harmless)."""
    asr_choices.register("fake_asr", FakeASR)
    speaker_choices.register("fake_spk", FakeSpeaker)


# ------------------------------------------------------------------------------------------------
# Benchmark setups: data


def write_data_dir(root: Path, speakers: Dict[str, int], seconds: float = 1.0,
                   seed: int = 0) -> Path:
    """A formatted Kaldi data dir of harmonic tones: each speaker its own pitch and timbre,
    each utterance its own length and words."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    wav_scp, text, utt2spk, num_samples = {}, {}, {}, {}
    for s_index, (speaker, count) in enumerate(sorted(speakers.items())):
        pitch = 110.0 * (1 + s_index)
        for u in range(count):
            key = f"{speaker}_{u:03d}"
            n = int(RATE * seconds * rng.uniform(0.8, 1.2))
            t = np.arange(n) / RATE
            wav = sum(np.sin(2 * np.pi * pitch * h * t) / h ** (1 + 0.5 * s_index)
                      for h in range(1, 5))
            envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 3) * t) ** 2
            wav = 0.2 * envelope * wav + 0.005 * rng.standard_normal(n)
            path = root / "wav" / f"{key}.wav"
            path.parent.mkdir(exist_ok=True)
            sf.write(path, wav.astype(np.float32), RATE, subtype="PCM_16")
            wav_scp[key] = str(path)
            text[key] = " ".join(rng.choice(WORDS, size=rng.integers(2, 4))).upper()
            utt2spk[key] = speaker
            num_samples[key] = str(n)
    write_kv_file(root / "wav.scp", wav_scp)
    write_kv_file(root / "text", text)
    write_kv_file(root / "utt2spk", utt2spk)
    write_kv_file(root / "utt2num_samples", num_samples)
    spk2utt: Dict[str, List[str]] = {}
    for key, speaker in utt2spk.items():
        spk2utt.setdefault(speaker, []).append(key)
    write_kv_file(root / "spk2utt", {s: " ".join(k) for s, k in spk2utt.items()})
    return root


# ------------------------------------------------------------------------------------------------
# Benchmark setups: models


def tiny_codec_config(n_q: int = 3, codebook_size: int = 4) -> dict:
    return CodecTask.resolve_config({
        "task": "codec",
        "encoder_conf": {"n_filters": 2, "dimension": 8, "lstm_layers": 1},
        "decoder_conf": {"n_filters": 2, "lstm_layers": 1},
        "quantizer_conf": {"n_q": n_q, "codebook_size": codebook_size, "kmeans_iters": 2},
        "teacher": "none", "distill_loss": "none", "discriminators": "none"})


def tiny_codec_exp(exp_dir: Path, n_q: int = 3, codebook_size: int = 4, seed: int = 0) -> Path:
    """An experiment dir (config.yaml + best weights) of a tiny random codec whose codebooks
    were initialised by one training forward."""
    config = tiny_codec_config(n_q, codebook_size)
    torch.manual_seed(seed)
    generator = CodecTask.build_generator(config, semantic_dim=0)
    generator.train()
    with torch.no_grad():
        generator(0.1 * torch.randn(2, 1, 6400))
    generator.eval()
    exp_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, exp_dir / "config.yaml")
    torch.save(generator.state_dict(), exp_dir / "valid.mel_distance.best.pth")
    return exp_dir


def tiny_teacher(path: Path, seed: int = 0) -> Path:
    """A random 2-layer HuBERT-shaped encoder (hop 320, receptive field 400) of dim 12."""
    params = {
        "extractor_mode": "group_norm",
        "extractor_conv_layer_config": [(8, k, s) for _, k, s in STANDARD_CONV_LAYERS],
        "extractor_conv_bias": False, "encoder_embed_dim": TEACHER_DIM,
        "encoder_projection_dropout": 0.0, "encoder_pos_conv_kernel": 8,
        "encoder_pos_conv_groups": 2, "encoder_num_layers": 2, "encoder_num_heads": 2,
        "encoder_attention_dropout": 0.0, "encoder_ff_interm_features": 16,
        "encoder_ff_interm_dropout": 0.0, "encoder_dropout": 0.0,
        "encoder_layer_norm_first": False, "encoder_layer_drop": 0.0,
    }
    torch.manual_seed(seed)
    save_wav2vec2(build_model(params), params, path, fmt="torchaudio")
    return path


def unit_vocoder_config(teacher: Path, kmeans: Path, layer: int = 1) -> dict:
    return CodecTask.resolve_config({
        "task": "codec",
        "encoder": "sptok.slmtokbench.unit_vocoder:TeacherUnitEncoder",
        "encoder_conf": {"teacher": str(teacher), "layer": layer},
        "quantizer": "sptok.slmtokbench.unit_vocoder:UnitQuantizer",
        "quantizer_conf": {"kmeans": str(kmeans)},
        "decoder_conf": {"n_filters": 2, "lstm_layers": 1},
        "teacher": "none", "distill_loss": "none", "discriminators": "none",
        "model_conf": {"valid_n_q": [1]}})


def unit_vocoder_exp(exp_dir: Path, teacher: Path, kmeans: Path, layer: int = 1,
                     seed: int = 0) -> Path:
    """An experiment dir of an untrained unit vocoder (random decoder)."""
    config = unit_vocoder_config(teacher, kmeans, layer)
    torch.manual_seed(seed)
    generator = CodecTask.build_generator(config, semantic_dim=0).eval()
    exp_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, exp_dir / "config.yaml")
    torch.save(generator.state_dict(), exp_dir / "valid.mel_distance.best.pth")
    return exp_dir


def fake_scorers_conf(metrics: Optional[List[str]] = None) -> dict:
    register_fakes()
    return {"metrics": metrics or ["wer", "spk_sim", "stoi", "mel"], "asr": "fake_asr",
            "spk_model": "fake_spk"}


# ------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def toy():
    """The toy-data helpers above."""
    return SimpleNamespace(make=make_toy_set, vocab_size=TOY_VOCAB, spell=spell)


@pytest.fixture
def bench_kit():
    """The benchmark-setup helpers above (data dirs, tiny models, fake scorers)."""
    return SimpleNamespace(
        write_data_dir=write_data_dir, tiny_codec_exp=tiny_codec_exp, tiny_teacher=tiny_teacher,
        unit_vocoder_config=unit_vocoder_config, unit_vocoder_exp=unit_vocoder_exp,
        fake_scorers_conf=fake_scorers_conf)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny LSTMs run fastest on one thread (and the test machines are shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
