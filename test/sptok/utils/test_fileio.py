import pytest

from sptok.utils.fileio import atomic_open, atomic_path


def test_atomic_open_replaces_only_on_success(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_open(target) as f:
        f.write("first\n")
    assert target.read_text() == "first\n"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_open(target) as f:
            f.write("half")
            raise RuntimeError("boom")
    assert target.read_text() == "first\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_atomic_path_cleans_up_on_error(tmp_path):
    target = tmp_path / "a.wav"
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"xx")
            raise ValueError
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".wav"
        tmp.write_bytes(b"ok")
    assert target.read_bytes() == b"ok"


def test_atomic_open_rejects_append():
    with pytest.raises(ValueError, match="mode"):
        with atomic_open("x", mode="a"):
            pass


def test_atomic_outputs_get_umask_permissions(tmp_path):
    import os
    old = os.umask(0o022)
    try:
        with atomic_open(tmp_path / "t.txt") as f:
            f.write("x")
        with atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "t.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o644
