import pytest
import torch

from sptok.uslm.sampling import (SamplingOptions, choose_tokens, filter_logits,
                                 make_generators)


def test_greedy_is_argmax():
    logits = torch.tensor([[0.1, 3.0, -1.0], [5.0, 0.0, 4.9]])
    assert choose_tokens(logits, SamplingOptions(greedy=True)).tolist() == [1, 0]


def test_top_k_filter():
    logits = torch.tensor([[1.0, 4.0, 3.0, 2.0]])
    filtered = filter_logits(logits, top_k=2)
    assert torch.isinf(filtered[0, [0, 3]]).all() and filtered[0, 1] == 4.0
    assert filtered[0, 2] == 3.0


def test_top_p_filter_keeps_smallest_set_reaching_p():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()
    kept = ~torch.isinf(filter_logits(logits, top_p=0.7))
    assert kept.tolist() == [[True, True, False, False]]  # 0.5 < 0.7 <= 0.8
    kept = ~torch.isinf(filter_logits(logits, top_p=0.1))
    assert kept.tolist() == [[True, False, False, False]]  # the best token always stays


def test_sampling_never_picks_filtered_tokens():
    logits = torch.randn(64, 10)
    tokens = choose_tokens(logits, SamplingOptions(top_k=3), torch.Generator().manual_seed(0))
    top3 = logits.topk(3, dim=-1).indices
    assert (top3 == tokens[:, None]).any(-1).all()


def test_sampling_follows_the_distribution():
    probs = torch.tensor([0.6, 0.3, 0.1, 0.0])
    logits = probs.log().expand(20000, 4)
    tokens = choose_tokens(logits, SamplingOptions(), torch.Generator().manual_seed(0))
    freq = torch.bincount(tokens, minlength=4).float() / tokens.numel()
    torch.testing.assert_close(freq, probs, atol=0.015, rtol=0)


def test_temperature_sharpens():
    logits = torch.tensor([[2.0, 1.0]]).expand(4000, 2)
    cold = choose_tokens(logits, SamplingOptions(temperature=0.2),
                         torch.Generator().manual_seed(0))
    hot = choose_tokens(logits, SamplingOptions(temperature=5.0),
                        torch.Generator().manual_seed(0))
    assert (cold == 0).float().mean() > 0.95 > (hot == 0).float().mean()


def test_per_item_generators_make_rows_independent_of_the_batch():
    torch.manual_seed(0)
    logits = torch.randn(3, 50)
    together = choose_tokens(logits, SamplingOptions(), make_generators(7, 3))
    alone = [choose_tokens(logits[i:i + 1], SamplingOptions(), [make_generators(7, 3)[i]])
             for i in range(3)]
    assert together.tolist() == [int(t) for t in alone]


def test_seed_determinism_and_generator_count():
    logits = torch.randn(4, 30)
    first = choose_tokens(logits, SamplingOptions(), torch.Generator().manual_seed(3))
    second = choose_tokens(logits, SamplingOptions(), torch.Generator().manual_seed(3))
    assert torch.equal(first, second)
    with pytest.raises(ValueError, match="2 generators for 4 items"):
        choose_tokens(logits, SamplingOptions(), make_generators(0, 2))


@pytest.mark.parametrize("kwargs", [{"temperature": 0.0}, {"top_k": -1}, {"top_p": 0.0},
                                    {"top_p": 1.5}])
def test_bad_options(kwargs):
    with pytest.raises(ValueError):
        SamplingOptions(**kwargs)
