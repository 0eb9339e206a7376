"""Pairing token streams with transcripts; length-bucketed batches."""
from __future__ import annotations

import pytest
import torch

from sptok.data.errors import DataError
from sptok.data.kaldi_dir import write_kv_file
from sptok.slmtokbench.data import AlignedSet, ctc_min_frames, length_batches
from sptok.slmtokbench.token_sources import TokenStream
from sptok.slmtokbench.vocab import CharVocab


def test_aligned_set_reads_and_normalises(tmp_path, toy):
    scp, text, texts = toy.make(tmp_path, "s", 5, seed=0)
    stream = TokenStream(scp, "units", vocab_size=toy.vocab_size)
    data = AlignedSet("s", stream, text, CharVocab())
    assert data.keys == sorted(texts) and len(data) == 5
    assert data.refs == [texts[k].lower() for k in data.keys]
    assert all(data.feasible(i) for i in range(5))
    inputs, lengths, targets = data.batch([0, 3])
    assert inputs.shape == (2, max(data.lengths[0], data.lengths[3]), 1)
    assert lengths.tolist() == [data.lengths[0], data.lengths[3]]
    assert targets == [data.targets[0], data.targets[3]]
    lazy = AlignedSet("s", stream, texts, CharVocab(), cache_limit_mb=0)
    assert lazy._cache is None
    torch.testing.assert_close(lazy.inputs(2), data.inputs(2))


def test_key_mismatch(tmp_path, toy):
    scp, text, texts = toy.make(tmp_path, "s", 6, seed=0)
    stream = TokenStream(scp, "units", vocab_size=toy.vocab_size)
    keys = sorted(texts)
    partial = {k: texts[k] for k in keys[1:]}
    partial["extra_utt"] = "abc"
    write_kv_file(tmp_path / "text2", partial)
    with pytest.raises(DataError) as err:
        AlignedSet("s", stream, tmp_path / "text2", CharVocab())
    message = str(err.value)
    assert f"1 key(s) of {scp} are not in {tmp_path / 'text2'} (e.g. {keys[0]})" in message
    assert "(e.g. extra_utt)" in message and "key_mismatch: intersect" in message
    data = AlignedSet("s", stream, tmp_path / "text2", CharVocab(), key_mismatch="intersect")
    assert data.keys == keys[1:]
    with pytest.raises(DataError, match="no utterance has both"):
        AlignedSet("s", stream, {"other": "a"}, CharVocab(), key_mismatch="intersect")
    with pytest.raises(ValueError, match="key_mismatch must be"):
        AlignedSet("s", stream, text, CharVocab(), key_mismatch="ignore")


def test_ctc_min_frames():
    assert ctc_min_frames([]) == 0
    assert ctc_min_frames([1, 2, 3]) == 3
    assert ctc_min_frames([1, 1, 2, 2, 2]) == 8


def test_length_batches():
    lengths = [5, 50, 7, 30, 6, 31, 200]
    batches = length_batches(lengths, max_frames=64, max_utts=3)
    assert sorted(i for b in batches for i in b) == list(range(7))
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or max(lengths[i] for i in batch) * len(batch) <= 64
    assert batches[0] == [0, 4, 2] and batches[-1] == [6]  # sorted; the long one alone
    subset = length_batches(lengths, [1, 3], max_frames=1000)
    assert subset == [[3, 1]]
    shuffled = length_batches(lengths, max_frames=64, max_utts=3,
                              generator=torch.Generator().manual_seed(0))
    assert sorted(map(tuple, shuffled)) == sorted(map(tuple, batches))
    with pytest.raises(ValueError, match="must be positive"):
        length_batches(lengths, max_frames=0)
