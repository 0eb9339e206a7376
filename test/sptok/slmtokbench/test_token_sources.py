"""Token streams: level specs, codebook sums, codebook loading, stream readers."""
from __future__ import annotations

import kaldiio
import numpy as np
import pytest
import torch

from sptok.data.ark import CodesWriter, FeatsWriter
from sptok.data.errors import DataError
from sptok.quantization import ResidualVQ
from sptok.slmtokbench.token_sources import (CodebookEmbedder, StreamReader, TokenStream,
                                             UnitEmbedding, format_levels, load_codebooks,
                                             parse_levels)


@pytest.mark.parametrize("spec, expected", [("1", (0, 1)), ("1:8", (0, 8)), ("2:8", (1, 8)),
                                            (" 3 ", (2, 3)), (4, (3, 4)), ("5:5", (4, 5)),
                                            (None, None)])
def test_parse_levels(spec, expected):
    assert parse_levels(spec, 8) == expected
    if expected is not None:
        assert parse_levels(format_levels(expected)) == expected


@pytest.mark.parametrize("spec, message", [("0", "counted from 1"), ("0:3", "counted from 1"),
                                           ("3:2", "comes before"), ("a", "not a level spec"),
                                           ("1-8", "not a level spec"), ("", "not a level spec"),
                                           ("1:2:3", "not a level spec"), ("1:9", "only 8"),
                                           (True, "expected a string"), (1.5, "expected")])
def test_bad_level_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_levels(spec, 8)


def test_codebook_sum_equals_manual_sum():
    torch.manual_seed(0)
    books = torch.randn(4, 8, 5)
    codes = torch.randint(0, 8, (11, 4))
    for spec, levels in (("1", [0]), ("1:3", [0, 1, 2]), ("2:4", [1, 2, 3]), ("4", [3])):
        manual = sum(books[level][codes[:, level]] for level in levels)
        torch.testing.assert_close(CodebookEmbedder(books, spec)(codes), manual)
    # default: every level
    torch.testing.assert_close(CodebookEmbedder(books, None)(codes.numpy()),
                               sum(books[k][codes[:, k]] for k in range(4)))


def test_codebook_sum_equals_rvq_decode():
    """The RVQ-1:k representation is the quantized latent of the first k levels."""
    torch.manual_seed(0)
    rvq = ResidualVQ(dimension=6, n_q=3, codebook_size=8, kmeans_iters=2).train()
    rvq(torch.randn(2, 6, 20))
    rvq.eval()
    codes = rvq.encode(torch.randn(1, 6, 9))  # [1, 3, 9]
    embed = CodebookEmbedder(rvq, "1:2")
    torch.testing.assert_close(embed(codes[0].T), rvq.decode(codes[:, :2])[0].T)
    torch.testing.assert_close(load_codebooks(rvq)[1], rvq.layers[1].codebook.embed)


def test_codebook_embedder_errors():
    books = torch.randn(2, 4, 3)
    with pytest.raises(ValueError, match="level 3 but only 2"):
        CodebookEmbedder(books, "1:3")
    with pytest.raises(ValueError, match=r"at least 2 levels"):
        CodebookEmbedder(books, "1:2")(torch.zeros(5, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        CodebookEmbedder(books, "2")(torch.tensor([[0, 4]]))
    with pytest.raises(ValueError, match=r"\[n_q, K, D\]"):
        CodebookEmbedder(torch.randn(4, 3), "1")
    with pytest.raises(ValueError, match="needs codebooks"):
        CodebookEmbedder(None, "1")


def test_codebook_callable_gets_chosen_levels():
    seen = {}

    def lookup(codes, start):
        seen["codes"], seen["start"] = codes.clone(), start
        return codes.float().sum(dim=1, keepdim=True).repeat(1, 3)

    codes = torch.tensor([[1, 2, 3], [4, 5, 6]])
    out = CodebookEmbedder(lookup, "2:3")(codes)
    assert seen["start"] == 1 and seen["codes"].tolist() == [[2, 3], [5, 6]]
    assert out.tolist() == [[5.0] * 3, [11.0] * 3]
    with pytest.raises(ValueError, match="levels must be given"):
        CodebookEmbedder(lookup, None)


def test_load_codebooks_from_files(tmp_path):
    books = torch.randn(3, 4, 2)
    torch.save(books, tmp_path / "books.pt")
    np.save(tmp_path / "books.npy", books.numpy())
    official = {f"quantizer.vq.layers.{i}._codebook.embed": books[i] for i in range(3)}
    official["encoder.model.0.conv.conv.weight"] = torch.randn(2, 1, 7)
    torch.save({"model": official, "step": 10}, tmp_path / "ckpt.pt")
    for name in ("books.pt", "books.npy", "ckpt.pt"):
        torch.testing.assert_close(load_codebooks(tmp_path / name), books)
    two = dict(official)
    two.update({f"teacher.vq.layers.{i}._codebook.embed": books[i] + 1 for i in range(3)})
    with pytest.raises(ValueError, match="several prefixes"):
        load_codebooks(two)
    torch.testing.assert_close(load_codebooks(two, prefix="teacher.vq."), books + 1)
    with pytest.raises(ValueError, match="not 0..n-1"):
        load_codebooks({"q.layers.1._codebook.embed": books[0]})
    with pytest.raises(ValueError, match="not found"):
        load_codebooks(tmp_path / "missing.pt")
    torch.save({"weights": torch.randn(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="neither a codebook tensor"):
        load_codebooks(tmp_path / "other.pt")


def test_token_stream_validation(tmp_path):
    with pytest.raises(ValueError, match="kind must be one of"):
        TokenStream("x.scp", "tokens")
    with pytest.raises(ValueError, match="needs codebooks"):
        TokenStream("x.scp", "codes", "1")
    with pytest.raises(ValueError, match="needs vocab_size"):
        TokenStream("x.scp", "units")
    with pytest.raises(ValueError, match="not to feats"):
        TokenStream("x.scp", "feats", "1")
    with pytest.raises(ValueError, match="codes streams only"):
        TokenStream("x.scp", "units", codebooks=torch.zeros(1, 2, 3), vocab_size=2)
    with pytest.raises(ValueError, match="not a level spec"):
        TokenStream("x.scp", "codes", "1..8", codebooks=torch.zeros(1, 2, 3))
    stream = TokenStream("a.scp", "codes", "1:2", codebooks=torch.zeros(2, 2, 3))
    assert stream.with_scp("b.scp").scp == "b.scp" and stream.with_scp("b.scp").levels == "1:2"
    assert stream.describe()["codebooks"] == "<Tensor>"
    with pytest.raises(DataError, match="scp file not found"):
        StreamReader(TokenStream(tmp_path / "none.scp", "units", vocab_size=3))


def test_stream_readers(tmp_path):
    rng = np.random.default_rng(0)
    books = torch.randn(2, 4, 3)
    codes = rng.integers(0, 4, (6, 2))
    with CodesWriter(tmp_path / "c.ark", tmp_path / "c.scp") as writer:
        writer["u1"] = codes
    reader = StreamReader(TokenStream(tmp_path / "c.scp", "codes", "2", codebooks=books))
    torch.testing.assert_close(reader["u1"], books[1][torch.from_numpy(codes[:, 1])])
    assert reader.input_spec() == {"feat_dim": 3}

    # units: int32 vectors [T] and code matrices [T, n] (levels choose columns, ids offset)
    kaldiio.save_ark(str(tmp_path / "v.ark"), {"u1": np.array([0, 2, 2, 1], dtype=np.int32)},
                     scp=str(tmp_path / "v.scp"))
    units = StreamReader(TokenStream(tmp_path / "v.scp", "units", vocab_size=3))
    assert units["u1"].tolist() == [[0], [2], [2], [1]]
    assert units.input_spec() == {"num_ids": 3, "num_levels": 1}
    matrix = StreamReader(TokenStream(tmp_path / "c.scp", "units", "1:2", vocab_size=4))
    assert matrix["u1"].tolist() == (codes + [0, 4]).tolist()
    assert matrix.input_spec() == {"num_ids": 8, "num_levels": 2}
    too_small = StreamReader(TokenStream(tmp_path / "v.scp", "units", vocab_size=2))
    with pytest.raises(DataError, match=r"v.scp.*u1.*\[0, 2\)"):
        too_small["u1"]
    wide = StreamReader(TokenStream(tmp_path / "v.scp", "units", "1:2", vocab_size=3))
    with pytest.raises(DataError, match="need 2 columns"):
        wide["u1"]

    with FeatsWriter(tmp_path / "f.ark", tmp_path / "f.scp") as writer:
        writer["u1"] = rng.standard_normal((5, 7))
    feats = StreamReader(TokenStream(tmp_path / "f.scp", "feats"))
    assert feats["u1"].shape == (5, 7) and feats.input_spec() == {"feat_dim": 7}
    bad_codes = StreamReader(TokenStream(tmp_path / "c.scp", "codes", "1", codebooks=books[:, :2]))
    with pytest.raises(DataError, match=r"c.scp.*u1"):
        bad_codes["u1"]  # ids up to 3 in a codebook of 2


def test_unit_embedding_sums_levels():
    torch.manual_seed(0)
    embed = UnitEmbedding(8, 5)
    ids = torch.tensor([[[1, 6], [0, 4]]])
    table = embed.embedding.weight
    torch.testing.assert_close(embed(ids)[0, 0], table[1] + table[6])
