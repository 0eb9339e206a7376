import json
import socket
import subprocess
import sys
import textwrap

import pytest

from sptok.text.g2p import G2P, g2p_inventory
from sptok.text.lexicon import phoneme_inventory


def words(g2p: G2P, text: str):
    """Phonemes per word, as strings: 'HH AH0 L OW1'."""
    return [" ".join(p) for token, p in g2p.pronounce(text) if token not in ",.!?"]


def test_known_word(g2p):
    assert g2p("hello") == ["HH", "AH0", "L", "OW1"]
    assert g2p("Hello") == ["HH", "AH0", "L", "OW1"]


def test_sentence_layout(g2p):
    assert g2p("Hello, world!") == ["HH", "AH0", "L", "OW1", ",", "_", "W", "ER1", "L", "D", "!"]
    assert g2p("...?") == []
    assert g2p("") == []


def test_options():
    plain = G2P(stress=False, word_sep=None, punctuation=False)
    assert plain("Hello, world!") == ["HH", "AH", "L", "OW", "W", "ER", "L", "D"]
    spaced = G2P(word_sep="|")
    assert spaced("a cat")[1] == "|"


@pytest.mark.parametrize("word_sep", ["", " ", "a b", "AH0", ",", "AH"])
def test_bad_word_sep(word_sep):
    with pytest.raises(ValueError, match="word_sep"):
        G2P(word_sep=word_sep)


def test_numbers_and_abbreviations_are_spoken(g2p):
    assert words(g2p, "Dr. Who: $3, 21st") == ["D AA1 K T ER0", "HH UW1", "TH R IY1",
                                              "D AA1 L ER0 Z", "T W EH1 N T IY0", "F ER1 S T"]


@pytest.mark.parametrize("sentence, word, pron", [
    ("I read books every day.", 1, "R IY1 D"),
    ("She read the letter yesterday.", 1, "R EH1 D"),
    ("I have read it.", 2, "R EH1 D"),
    ("You should read more.", 2, "R IY1 D"),
    ("I live here.", 1, "L IH1 V"),
    ("A live show.", 1, "L AY1 V"),
    ("I want to record a record.", 3, "R IH0 K AO1 R D"),
    ("I want to record a record.", 5, "R EH1 K ER0 D"),
    ("I object to this object.", 1, "AH0 B JH EH1 K T"),
    ("I object to this object.", 4, "AA1 B JH EH0 K T"),
    ("Close the door.", 0, "K L OW1 Z"),
    ("It is close.", 2, "K L OW1 S"),
    ("I refuse to collect the refuse.", 1, "R IH0 F Y UW1 Z"),
    ("I refuse to collect the refuse.", 5, "R EH1 F Y UW2 Z"),
    ("Wind the clock.", 0, "W AY1 N D"),
    ("The wind is strong.", 1, "W IH1 N D"),
    ("They lead the way.", 1, "L IY1 D"),
    ("A lead pipe.", 1, "L EH1 D"),
])
def test_homographs(g2p, sentence, word, pron):
    assert words(g2p, sentence)[word] == pron


def test_spelled_letters_and_possessives(g2p):
    assert words(g2p, "the U.S.A.") == ["DH AH0", "Y UW1", "EH1 S", "EY1"]
    # all capitals, not in the dictionary (in text that has lower case too)
    assert words(g2p, "XQZ rules")[0] == "EH1 K S K Y UW1 Z IY1"
    assert words(g2p, "NASA")[0] == "N AE1 S AH0"  # in the dictionary: read as a word
    assert words(g2p, "A dog")[0] == "AH0"
    assert words(g2p, "plan A.")[1] == "EY1"
    assert words(g2p, "Zorblax's")[0] == " ".join(g2p.oov_model.predict("zorblax") + ["IH0", "Z"])
    assert words(g2p, "Zorblat's")[0] == " ".join(g2p.oov_model.predict("zorblat") + ["S"])
    assert words(g2p, "Bush's")[0].endswith("SH IH0 Z")


def test_all_capital_transcripts(g2p):
    assert g2p("HELLO, WORLD!") == g2p("hello, world!")
    assert g2p("ZORBLAX IS HERE") == g2p("zorblax is here")  # no spelling, the neural model
    assert g2p("ZORBLAX is here")[:4] == ["Z", "IY1", "OW1", "AA1"]  # spelled: Z O R ...


def test_oov_word_gets_phonemes(g2p):
    phonemes = g2p("zorblaxian")
    assert phonemes and set(phonemes) <= set(phoneme_inventory())


def test_no_network_during_calls(g2p, monkeypatch):
    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            raise AssertionError("G2P tried to open a socket")

    monkeypatch.setattr(socket, "socket", NoSocket)
    assert G2P()("The quibblewort zorbled.")


def test_offline_import_and_use_in_fresh_process():
    """Import and use with sockets disabled: nothing tries the network, nltk is never loaded."""
    script = textwrap.dedent("""
        import json, socket, sys
        class NoSocket(socket.socket):
            def __init__(self, *args, **kwargs):
                raise RuntimeError("network access attempted")
        socket.socket = NoSocket
        socket.create_connection = NoSocket
        from sptok.text import G2P
        phonemes = G2P()("The zorblaxian quibbled over 3 apples.")
        print(json.dumps({"phonemes": phonemes,
                          "modules": sorted(m for m in sys.modules
                                            if m.split(".")[0] in ("nltk", "g2p_en"))}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no download attempts, no nltk chatter
    out = json.loads(result.stdout)
    assert out["modules"] == []
    assert "TH R IY1" in " ".join(out["phonemes"])


def test_inventory_covers_output(g2p):
    text = ("Dr. Smith's zorblaxian colleague didn't read 1,234 books; why? "
            "Because the U.S.A. quibbled!")
    assert set(g2p(text)) <= set(g2p.inventory())
    assert g2p.inventory() == g2p_inventory()
    assert len(g2p_inventory(stress=False, word_sep=None, punctuation=False)) == 39
