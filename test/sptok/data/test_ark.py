"""kaldiio ark/scp writers and readers: round trips, the int-code layout, atomicity, bad input."""
from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch

from sptok.data.ark import (CodesReader, CodesWriter, FeatsReader, FeatsWriter, iter_codes,
                            iter_feats)
from sptok.data.errors import DataError
from sptok.data.scp import concat_scps


def names(d: Path) -> list:
    return sorted(p.name for p in d.iterdir())


def test_feats_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    feats = {"u1": rng.standard_normal((7, 5)).astype(np.float32),
             "u2": rng.standard_normal((1, 5)).astype(np.float64),
             "u3": torch.randn(4, 5)}
    with FeatsWriter(tmp_path / "feats.ark", tmp_path / "feats.scp") as writer:
        for key, value in feats.items():
            writer[key] = value
        assert len(writer) == 3
    assert names(tmp_path) == ["feats.ark", "feats.scp"]
    back = dict(iter_feats(tmp_path / "feats.scp"))
    assert list(back) == ["u1", "u2", "u3"]
    for key, value in feats.items():
        expected = value.numpy() if isinstance(value, torch.Tensor) else value
        assert back[key].dtype == np.float32
        np.testing.assert_array_equal(back[key], expected.astype(np.float32))
    # Plain Kaldi matrices: other tools read them too.
    np.testing.assert_array_equal(kaldiio.load_scp(str(tmp_path / "feats.scp"))["u1"], feats["u1"])


def test_scp_points_at_final_ark_name(tmp_path):
    with FeatsWriter(tmp_path / "f.ark", tmp_path / "f.scp") as writer:
        writer["k"] = np.ones((2, 2))
    assert (tmp_path / "f.scp").read_text().startswith(f"k {tmp_path}/f.ark:")


def test_codes_round_trip_with_edge_values(tmp_path):
    codes = {"a": np.array([[0, 1023], [1023, 0], [5, 6]], dtype=np.int64),
             "b": torch.tensor([[17, 0, 1023]], dtype=torch.int32)}
    with CodesWriter(tmp_path / "codes.ark", tmp_path / "codes.scp", codebook_size=1024) as w:
        for key, value in codes.items():
            w[key] = value
    with CodesReader(tmp_path / "codes.scp") as reader:
        assert len(reader) == 2 and "b" in reader
        assert reader["a"].dtype == np.int64 and reader["a"].shape == (3, 2)
        np.testing.assert_array_equal(reader["a"], codes["a"])
        np.testing.assert_array_equal(reader["b"], codes["b"].numpy())


def test_codes_largest_exact_id(tmp_path):
    big = np.array([[2 ** 24 - 1, 0]], dtype=np.int64)
    with CodesWriter(tmp_path / "c.ark", tmp_path / "c.scp") as writer:
        writer["k"] = big
    np.testing.assert_array_equal(dict(iter_codes(tmp_path / "c.scp"))["k"], big)


@pytest.mark.parametrize("bad,limit", [(1024, 1024), (-1, 1024), (2 ** 24, None)])
def test_out_of_range_code_refused_and_nothing_written(tmp_path, bad, limit):
    with pytest.raises(ValueError, match=rf"key 'u2': code {bad} is outside \[0, "):
        with CodesWriter(tmp_path / "c.ark", tmp_path / "c.scp", codebook_size=limit) as writer:
            writer["u1"] = np.zeros((2, 2), dtype=np.int64)
            writer["u2"] = np.array([[0, bad]], dtype=np.int64)
    assert names(tmp_path) == []


def test_codebook_size_beyond_float32_range_refused(tmp_path):
    with pytest.raises(ValueError, match="codebook_size must be in"):
        CodesWriter(tmp_path / "c.ark", tmp_path / "c.scp", codebook_size=2 ** 24 + 1)
    assert names(tmp_path) == []


@pytest.mark.parametrize("value,match", [
    (np.zeros((2, 2), dtype=np.float32), "integer dtype"),
    (np.zeros(3, dtype=np.int64), r"\[T, n_q\] matrix, got shape \(3,\)"),
    (np.zeros((0, 2), dtype=np.int64), "non-empty"),
])
def test_codes_shape_and_dtype_checked(tmp_path, value, match):
    with pytest.raises(ValueError, match=match):
        with CodesWriter(tmp_path / "c.ark", tmp_path / "c.scp") as writer:
            writer["k"] = value
    assert names(tmp_path) == []


def test_exception_inside_block_leaves_nothing_and_keeps_old_pair(tmp_path):
    with FeatsWriter(tmp_path / "f.ark", tmp_path / "f.scp") as writer:
        writer["old"] = np.ones((1, 1))
    before = {name: (tmp_path / name).read_bytes() for name in names(tmp_path)}
    with pytest.raises(RuntimeError, match="job died"):
        with FeatsWriter(tmp_path / "f.ark", tmp_path / "f.scp") as writer:
            writer["new"] = np.zeros((3, 1))
            raise RuntimeError("job died")
    assert {name: (tmp_path / name).read_bytes() for name in names(tmp_path)} == before


def test_feats_checks(tmp_path):
    with FeatsWriter(tmp_path / "f.ark", tmp_path / "f.scp") as writer:
        with pytest.raises(ValueError, match="key 'n': features hold NaN or Inf"):
            writer["n"] = np.array([[np.nan]])
        with pytest.raises(ValueError, match="non-empty"):
            writer["e"] = np.zeros((0, 3))
        with pytest.raises(ValueError, match="without whitespace"):
            writer["a b"] = np.zeros((1, 3))
        writer["ok"] = np.zeros((1, 3))
        with pytest.raises(ValueError, match="key 'ok' written twice"):
            writer["ok"] = np.zeros((1, 3))
    assert list(dict(iter_feats(tmp_path / "f.scp"))) == ["ok"]


def test_reader_is_lazy_and_names_missing_ark(tmp_path):
    with FeatsWriter(tmp_path / "f.ark", tmp_path / "f.scp") as writer:
        writer["u1"] = np.ones((2, 3))
    (tmp_path / "f.ark").rename(tmp_path / "moved.ark")
    reader = FeatsReader(tmp_path / "f.scp")  # opening reads only the index
    assert list(reader) == ["u1"]
    with pytest.raises(DataError, match=rf"f.scp: key 'u1': ark file '{tmp_path}/f.ark' not found"):
        reader["u1"]


def test_reader_names_corrupt_ark(tmp_path):
    with FeatsWriter(tmp_path / "f.ark", tmp_path / "f.scp") as writer:
        writer["u1"] = np.ones((2, 3))
    (tmp_path / "f.ark").write_bytes(b"u1 garbage")
    with pytest.raises(DataError, match=r"f.scp: key 'u1': cannot read"):
        dict(iter_feats(tmp_path / "f.scp"))


def test_codes_reader_refuses_real_features(tmp_path):
    with FeatsWriter(tmp_path / "f.ark", tmp_path / "f.scp") as writer:
        writer["u1"] = np.array([[0.5, 1.0]])
    with pytest.raises(DataError, match=r"f.scp: key 'u1': not a code matrix: holds 0.5"):
        dict(iter_codes(tmp_path / "f.scp"))


def test_per_job_pairs_concatenated(tmp_path):
    for job, keys in ((1, ["a", "b"]), (2, ["c"])):
        with CodesWriter(tmp_path / f"codes.{job}.ark", tmp_path / f"codes.{job}.scp") as w:
            for i, key in enumerate(keys):
                w[key] = np.full((2, 2), i + job, dtype=np.int64)
    concat_scps([tmp_path / "codes.2.scp", tmp_path / "codes.1.scp"], tmp_path / "codes.scp")
    back = dict(iter_codes(tmp_path / "codes.scp"))
    assert list(back) == ["a", "b", "c"]
    np.testing.assert_array_equal(back["c"], np.full((2, 2), 2))
