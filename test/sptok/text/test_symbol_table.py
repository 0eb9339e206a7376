import pytest

from sptok.data.errors import DataError
from sptok.text.g2p import g2p_inventory
from sptok.text.symbol_table import DEFAULT_SPECIALS, SymbolTable


def test_from_inventory_and_round_trip(tmp_path):
    table = SymbolTable.from_inventory(g2p_inventory())
    assert table.symbols[:4] == DEFAULT_SPECIALS
    assert (table.pad_id, table.bos_id, table.eos_id, table.unk_id) == (0, 1, 2, 3)
    assert len(table) == 4 + 69 + 1 + 4
    path = table.save(tmp_path / "tokens.txt")
    lines = path.read_text().splitlines()
    assert lines[0] == "<pad> 0" and lines[4] == "AA0 4"
    loaded = SymbolTable.load(path)
    assert loaded == table and loaded.source == str(path)
    ids = loaded.encode(["HH", "AH0", "L", "OW1", "_", "!"])
    assert loaded.decode(ids) == ["HH", "AH0", "L", "OW1", "_", "!"]


def test_unknown_symbol(tmp_path):
    table = SymbolTable.from_inventory(["a", "b"])
    with pytest.raises(ValueError, match=r"symbol 'zz' \(token 1\) is not in the symbol table"):
        table.encode(["a", "zz"])
    assert table.encode(["a", "zz"], allow_unk=True) == [4, table.unk_id]
    assert table.unknown(["a", "zz", "q", "zz"]) == ["zz", "q"]
    no_unk = SymbolTable(["<pad>", "a"])
    with pytest.raises(ValueError, match="allow_unk needs a <unk>"):
        no_unk.encode(["a"], allow_unk=True)
    path = table.save(tmp_path / "t.txt")
    with pytest.raises(ValueError, match=str(path)):
        SymbolTable.load(path).encode(["zz"])
    with pytest.raises(ValueError, match="out of range"):
        table.decode([99])


def test_build_from_data():
    table = SymbolTable.build([["b", "a", "b"], ["c"], ["b"]], specials=("<pad>",), min_count=2)
    assert table.symbols == ("<pad>", "b")
    table = SymbolTable.build([["b", "a"], ["\u00e9", "B"]])
    assert table.symbols[4:] == ("B", "a", "b", "\u00e9")  # byte order


def test_invalid_tables(tmp_path):
    with pytest.raises(ValueError, match="duplicate symbol 'a'"):
        SymbolTable(["a", "a"])
    with pytest.raises(ValueError, match="without whitespace"):
        SymbolTable(["a b"])
    bad = {
        "gap.txt": ("a 0\nb 2\n", "without gaps"),
        "dup.txt": ("a 0\na 1\n", "duplicate symbol 'a'"),
        "dupid.txt": ("a 0\nb 0\n", "used twice"),
        "fields.txt": ("a 0 x\n", "expected 'symbol id'"),
        "empty.txt": ("", "empty symbol table"),
    }
    for name, (content, message) in bad.items():
        (tmp_path / name).write_text(content)
        with pytest.raises(DataError, match=message):
            SymbolTable.load(tmp_path / name)
    with pytest.raises(DataError, match="not found"):
        SymbolTable.load(tmp_path / "missing.txt")


def test_load_accepts_any_line_order(tmp_path):
    (tmp_path / "t.txt").write_text("b 1\na 0\n")
    assert SymbolTable.load(tmp_path / "t.txt").symbols == ("a", "b")
