import importlib
import pickle
import random
import string
import sys
import types

import pytest

from sptok.text.lexicon import phoneme_inventory
from sptok.text.oov import NeuralG2P, g2p_en_dir


@pytest.fixture(scope="module")
def model() -> NeuralG2P:
    return NeuralG2P()


def test_predicts_plausible_phonemes(model):
    assert model.predict("activationist") == ["AE2", "K", "T", "IH0", "V", "EY1", "SH", "AH0", "N",
                                              "IH0", "S", "T"]
    assert model.predict("Zorblax") == model.predict("zorblax")
    assert model.predict("'''") == []
    inventory = set(phoneme_inventory())
    assert all(p in inventory for w in ("qxzv", "aaaaaaaa", "pneumono") for p in model.predict(w))


def test_picklable(model):
    clone = pickle.loads(pickle.dumps(model))
    assert clone.predict("blorfy") == model.predict("blorfy")


def _import_g2p_en_without_nltk(monkeypatch):
    """g2p_en's own module, with nltk and inflect replaced by inert stubs (importing them takes
    seconds and nltk's import-time downloads need the network; predict() uses neither)."""
    nltk = types.ModuleType("nltk")
    nltk.pos_tag = lambda words: [(w, "NN") for w in words]
    nltk.download = lambda *args, **kwargs: True
    nltk.data = types.SimpleNamespace(find=lambda name: name)
    corpus = types.ModuleType("nltk.corpus")
    corpus.cmudict = types.SimpleNamespace(dict=dict)
    tokenize = types.ModuleType("nltk.tokenize")
    tokenize.TweetTokenizer = lambda: types.SimpleNamespace(tokenize=str.split)
    inflect = types.ModuleType("inflect")  # imported by g2p_en.expand; slow, not needed here
    inflect.engine = lambda: None
    for name, module in (("nltk", nltk), ("nltk.corpus", corpus), ("nltk.tokenize", tokenize),
                         ("inflect", inflect)):
        monkeypatch.setitem(sys.modules, name, module)
    for name in ("g2p_en", "g2p_en.g2p", "g2p_en.expand"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    try:
        return importlib.import_module("g2p_en.g2p")
    finally:
        # Do not leave a g2p_en bound to the stubs for later imports.
        for name in ("g2p_en", "g2p_en.g2p", "g2p_en.expand"):
            sys.modules.pop(name, None)


def test_matches_g2p_en_reference(model, monkeypatch):
    """Our numpy decoder gives exactly g2p_en's predictions (its own code)."""
    reference = _import_g2p_en_without_nltk(monkeypatch).G2p()
    rng = random.Random(0)
    words = ["activationist", "zorblax", "tolkien"] + [
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 8)))
        for _ in range(100)]
    for word in words:
        assert model.predict(word) == reference.predict(word), word


def test_g2p_en_files_found_without_import():
    assert (g2p_en_dir() / "checkpoint20.npz").is_file()
    assert (g2p_en_dir() / "homographs.en").is_file()
