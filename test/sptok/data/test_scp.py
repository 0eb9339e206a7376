"""split / filter / concatenate Kaldi tables."""
from __future__ import annotations

from pathlib import Path

import pytest

from sptok.data.errors import DataError
from sptok.data.scp import concat_scps, filter_scp, read_key_list, split_scp


def write_lines(path: Path, lines) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def read_lines(path: Path) -> list:
    return path.read_text(encoding="utf-8").splitlines()


def test_split_contiguous_with_remainder_first(tmp_path):
    scp = write_lines(tmp_path / "wav.scp", [f"u{i:02d} /a/{i}.wav" for i in range(10)])
    outs = [tmp_path / f"wav.{j}.scp" for j in range(1, 4)]
    assert split_scp(scp, outs) == [4, 3, 3]
    parts = [read_lines(p) for p in outs]
    assert sum(parts, []) == read_lines(scp)  # contiguous, order kept, lines verbatim


def test_split_too_many_parts_writes_nothing(tmp_path):
    scp = write_lines(tmp_path / "wav.scp", ["u1 a", "u2 b"])
    outs = [tmp_path / f"o.{j}" for j in range(3)]
    with pytest.raises(DataError, match=r"wav.scp: cannot split 2 lines into 3 parts"):
        split_scp(scp, outs)
    assert not any(p.exists() for p in outs)


def test_split_empty_line(tmp_path):
    scp = write_lines(tmp_path / "wav.scp", ["u1 a", "", "u2 b"])
    with pytest.raises(DataError, match=r"wav.scp:2: empty line"):
        split_scp(scp, [tmp_path / "o.1"])


def test_split_never_splits_a_speaker(tmp_path):
    counts = {"s1": 5, "s2": 1, "s3": 1, "s4": 4, "s5": 2}
    utts = [f"{spk}-{i}" for spk, n in counts.items() for i in range(n)]
    utt2spk = write_lines(tmp_path / "utt2spk", [f"{u} {u.split('-')[0]}" for u in utts])
    scp = write_lines(tmp_path / "wav.scp", [f"{u} /{u}.wav" for u in utts])
    outs = [tmp_path / f"wav.{j}.scp" for j in range(1, 4)]
    sizes = split_scp(scp, outs, utt2spk=utt2spk)
    assert sum(sizes) == len(utts) and all(sizes)
    seen = {}
    for j, out in enumerate(outs):
        for line in read_lines(out):
            spk = line.split("-")[0]
            assert seen.setdefault(spk, j) == j, f"speaker {spk} split across parts"
    assert sum((read_lines(p) for p in outs), []) == read_lines(scp)
    # As Kaldi's split_scp.pl: speakers spread evenly ([s1 s2] [s3 s4] [s5] = 6, 5, 2
    # utterances); moving a border speaker to a neighbour would not shrink any difference.
    assert sizes == [6, 5, 2]


def test_split_utt2spk_groups_interleaved_speakers(tmp_path):
    utt2spk = write_lines(tmp_path / "utt2spk", ["a1 A", "a2 A", "b1 B", "b2 B"])
    scp = write_lines(tmp_path / "x.scp", ["a1 1", "b1 2", "a2 3", "b2 4"])
    split_scp(scp, [tmp_path / "o1", tmp_path / "o2"], utt2spk=utt2spk)
    assert read_lines(tmp_path / "o1") == ["a1 1", "a2 3"]
    assert read_lines(tmp_path / "o2") == ["b1 2", "b2 4"]


def test_split_utt2spk_errors(tmp_path):
    utt2spk = write_lines(tmp_path / "utt2spk", ["a1 A", "a2 A"])
    scp = write_lines(tmp_path / "x.scp", ["a1 1", "a2 2"])
    with pytest.raises(DataError, match=r"x.scp: cannot split 1 speakers into 2 parts"):
        split_scp(scp, [tmp_path / "o1", tmp_path / "o2"], utt2spk=utt2spk)
    scp = write_lines(tmp_path / "y.scp", ["a1 1", "zz 2"])
    with pytest.raises(DataError, match=r"y.scp:2: key 'zz': key is not in .*utt2spk"):
        split_scp(scp, [tmp_path / "o1"], utt2spk=utt2spk)
    assert not (tmp_path / "o1").exists()


def test_filter_include_exclude_keeps_order(tmp_path):
    scp = write_lines(tmp_path / "text", ["c 3", "a 1 one", "b 2"])
    keys = read_key_list(write_lines(tmp_path / "keys", ["b whatever", "c", "nope"]))
    assert filter_scp(scp, tmp_path / "inc", keys) == 2
    assert read_lines(tmp_path / "inc") == ["c 3", "b 2"]
    assert filter_scp(scp, tmp_path / "exc", keys, exclude=True) == 1
    assert read_lines(tmp_path / "exc") == ["a 1 one"]


def test_filter_missing_input(tmp_path):
    with pytest.raises(DataError, match=rf"{tmp_path}/none: file not found"):
        filter_scp(tmp_path / "none", tmp_path / "out", {"a"})
    assert not (tmp_path / "out").exists()


def test_concat_sorts_and_refuses_duplicates(tmp_path):
    p1 = write_lines(tmp_path / "a.1", ["a 1", "b 2"])
    p2 = write_lines(tmp_path / "a.2", ["c 3"])
    p10 = write_lines(tmp_path / "a.10", ["B 0"])
    assert concat_scps([p1, p10, p2], tmp_path / "all") == 4
    assert read_lines(tmp_path / "all") == ["B 0", "a 1", "b 2", "c 3"]
    dup = write_lines(tmp_path / "a.3", ["b 9"])
    with pytest.raises(DataError, match=rf"a.3:1: key 'b': duplicate key \(also in {tmp_path}/a.1"):
        concat_scps([p1, dup], tmp_path / "all2")
    assert not (tmp_path / "all2").exists()
