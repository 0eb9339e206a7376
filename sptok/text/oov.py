"""Pronunciations of out-of-vocabulary words: g2p_en's neural model, run by our own numpy code.

g2p_en (Park & Kim) ships a small GRU encoder-decoder (graphemes -> ARPAbet, greedy decoding) as
``g2p_en/checkpoint20.npz``. Importing ``g2p_en`` itself runs ``nltk.download`` calls (network) and
its ``G2p()`` needs nltk corpora, so we only locate the package directory (``find_spec`` does not
execute it) and read the checkpoint and ``homographs.en`` from there.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from sptok.text.lexicon import VOWELS

_GRAPHEMES = ["<pad>", "<unk>", "</s>"] + list("abcdefghijklmnopqrstuvwxyz")
#: Output classes of the checkpoint, in its order (g2p_en 2.1; note the bare "UW" class).
_PHONEMES = ["<pad>", "<unk>", "<s>", "</s>"] + [
    "AA0", "AA1", "AA2", "AE0", "AE1", "AE2", "AH0", "AH1", "AH2", "AO0", "AO1", "AO2", "AW0",
    "AW1", "AW2", "AY0", "AY1", "AY2", "B", "CH", "D", "DH", "EH0", "EH1", "EH2", "ER0", "ER1",
    "ER2", "EY0", "EY1", "EY2", "F", "G", "HH", "IH0", "IH1", "IH2", "IY0", "IY1", "IY2", "JH",
    "K", "L", "M", "N", "NG", "OW0", "OW1", "OW2", "OY0", "OY1", "OY2", "P", "R", "S", "SH", "T",
    "TH", "UH0", "UH1", "UH2", "UW", "UW0", "UW1", "UW2", "V", "W", "Y", "Z", "ZH"]
_UNK, _EOS_IN, _BOS_OUT, _EOS_OUT = 1, 2, 2, 3


def g2p_en_dir() -> Path:
    """Directory of the installed g2p_en package, found without importing it."""
    spec = importlib.util.find_spec("g2p_en")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("g2p_en is not installed; it ships the OOV pronunciation model: "
                          "pip install g2p_en==2.1.0")
    return Path(list(spec.submodule_search_locations)[0])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class _GRUCell:
    """A PyTorch-layout GRU cell: weights [3H, I] and [3H, H] with gates (reset, update, new)."""

    def __init__(self, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray):
        self.w_ih_t, self.w_hh_t = w_ih.T.copy(), w_hh.T.copy()
        self.b_ih, self.b_hh = b_ih, b_hh
        self.hidden = w_hh.shape[1]

    def __call__(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        """x: [B, I], h: [B, H] -> new h: [B, H]."""
        gi = x @ self.w_ih_t + self.b_ih
        gh = h @ self.w_hh_t + self.b_hh
        size = self.hidden
        r = _sigmoid(gi[:, :size] + gh[:, :size])
        z = _sigmoid(gi[:, size:2 * size] + gh[:, size:2 * size])
        n = np.tanh(gi[:, 2 * size:] + r * gh[:, 2 * size:])
        return (1.0 - z) * n + z * h


class NeuralG2P:
    """Greedy grapheme-to-phoneme prediction with g2p_en's checkpoint (CPU, numpy, ~1 ms/word).

    Args:
        checkpoint: the ``.npz`` file; defaults to the one inside the installed g2p_en.
        cache_size: words remembered (OOV words repeat within a corpus).
    """

    def __init__(self, checkpoint: Path | None = None, cache_size: int = 100_000):
        path = Path(checkpoint) if checkpoint is not None else g2p_en_dir() / "checkpoint20.npz"
        if not path.is_file():
            raise FileNotFoundError(f"g2p_en checkpoint not found: {path}")
        with np.load(path) as weights:
            w: Dict[str, np.ndarray] = {k: weights[k].astype(np.float32) for k in weights.files}
        self.enc_emb, self.dec_emb = w["enc_emb"], w["dec_emb"]
        self.encoder = _GRUCell(w["enc_w_ih"], w["enc_w_hh"], w["enc_b_ih"], w["enc_b_hh"])
        self.decoder = _GRUCell(w["dec_w_ih"], w["dec_w_hh"], w["dec_b_ih"], w["dec_b_hh"])
        self.fc_w_t, self.fc_b = w["fc_w"].T.copy(), w["fc_b"]
        if self.enc_emb.shape[0] != len(_GRAPHEMES) or self.fc_b.shape[0] != len(_PHONEMES):
            raise ValueError(f"{path}: unexpected vocabulary sizes {self.enc_emb.shape[0]} "
                             f"graphemes / {self.fc_b.shape[0]} phonemes (g2p_en 2.1 expected)")
        self._g2idx = {g: i for i, g in enumerate(_GRAPHEMES)}
        # A plain dict (not lru_cache) keeps the object picklable for data-loader workers.
        self._cache: Dict[str, Tuple[str, ...]] = {}
        self.cache_size = cache_size

    def predict(self, word: str) -> List[str]:
        """Phonemes of one word (case ignored; letters other than a-z are ignored)."""
        letters = "".join(c for c in word.lower() if "a" <= c <= "z")
        if letters not in self._cache:
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[letters] = tuple(self._decode(letters))
        return list(self._cache[letters])

    def _decode(self, letters: str) -> List[str]:
        if not letters:
            return []
        ids = [self._g2idx[c] for c in letters] + [_EOS_IN]
        h = np.zeros((1, self.encoder.hidden), np.float32)
        for i in ids:
            h = self.encoder(self.enc_emb[i][None], h)
        out: List[str] = []
        prev = _BOS_OUT
        # Words rarely have more phonemes than letters; the bound only stops a runaway decode.
        for _ in range(max(20, 2 * len(letters))):
            h = self.decoder(self.dec_emb[prev][None], h)
            prev = int(np.argmax(h @ self.fc_w_t + self.fc_b))
            if prev == _EOS_OUT:
                break
            if prev > _EOS_OUT:
                out.append(_PHONEMES[prev])
        # The bare "UW" class never occurs in CMU-style output; give it a stress digit.
        return [p + "1" if p in VOWELS else p for p in out]
