from sptok.text.homographs import load_homographs


def test_corrections_of_g2p_en_table():
    table = load_homographs()
    assert len(table) > 370
    assert table["read"].pronounce("VBD") == ("R", "EH1", "D")
    assert table["read"].pronounce("VBN") == ("R", "EH1", "D")
    assert table["read"].pronounce("VBP") == ("R", "IY1", "D")
    assert table["used"].pronounce("VBD") == ("Y", "UW1", "Z", "D")
    assert table["used"].pronounce("JJ") == ("Y", "UW1", "S", "T")
    assert table["object"].pronounce("VB") == ("AH0", "B", "JH", "EH1", "K", "T")
    assert table["object"].pronounce("NN") == ("AA1", "B", "JH", "EH0", "K", "T")
    assert table["rebel"].pronounce("VBP") == ("R", "IH0", "B", "EH1", "L")


def test_tag_matching():
    table = load_homographs()
    assert table["record"].pronounce("VBZ") == table["record"].pronounce("VB")
    assert table["record"].pronounce("NN") == ("R", "EH1", "K", "ER0", "D")
    assert table["content"].pronounce("NN") == ("K", "AA1", "N", "T", "EH0", "N", "T")
    assert table["content"].pronounce("JJ") == ("K", "AH0", "N", "T", "EH1", "N", "T")
    # g2p_en writes ADJ, which no Penn tag matches; we read it as JJ.
    assert table["complex"].pronounce("JJ") != table["complex"].pronounce("NN")
    assert table["live"].pronounce("VBP") == ("L", "IH1", "V")
    assert table["live"].pronounce("JJ") == ("L", "AY1", "V")
