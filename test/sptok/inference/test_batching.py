import numpy as np
import pytest

from sptok.inference.batching import pad_arrays, plan_batches


def test_plan_batches_respects_the_padded_budget():
    lengths = {"a": 100, "b": 90, "c": 80, "d": 10, "e": 300}
    batches = plan_batches(lengths, max_padded=200)
    assert batches == [["e"], ["a", "b"], ["c", "d"]]
    assert sorted(k for b in batches for k in b) == sorted(lengths)


def test_plan_batches_rejects_a_non_positive_budget():
    with pytest.raises(ValueError, match="max_padded"):
        plan_batches({"a": 1}, 0)


def test_pad_arrays_pads_at_the_end():
    batch, lengths = pad_arrays([np.ones(3), np.ones(1)])
    assert batch.shape == (2, 3) and lengths.tolist() == [3, 1]
    assert batch[1].tolist() == [1, 0, 0]
