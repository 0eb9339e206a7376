import pytest
import torch

from sptok.uslm.kv_cache import KVCache
from sptok.uslm.masks import padding_mask
from sptok.uslm.transformer import LayerNorm, LevelLayerNorm, Transformer


def test_level_layer_norm_depends_on_level():
    torch.manual_seed(0)
    norm = LevelLayerNorm(8, num_levels=3)
    x = torch.randn(2, 5, 8)
    # At initialisation every level is a plain layer norm.
    plain = torch.nn.functional.layer_norm(x, (8,))
    torch.testing.assert_close(norm(x, torch.tensor([0, 2])), plain)
    with torch.no_grad():
        norm.scale.weight.normal_()
        norm.bias.weight.normal_()
    level0 = norm(x, torch.tensor([0, 0]))
    level1 = norm(x, torch.tensor([1, 1]))
    assert not torch.allclose(level0, level1)
    torch.testing.assert_close(level1[0], plain[0] * norm.scale.weight[1] + norm.bias.weight[1])
    # Per item: item 0 at level 0, item 1 at level 1.
    mixed = norm(x, torch.tensor([0, 1]))
    torch.testing.assert_close(mixed[0], level0[0])
    torch.testing.assert_close(mixed[1], level1[1])
    # Only the rows of the levels used receive gradient.
    norm(x, torch.tensor([1, 1])).sum().backward()
    assert norm.bias.weight.grad[1].abs().sum() > 0
    assert norm.bias.weight.grad[0].abs().sum() == 0 and norm.bias.weight.grad[2].abs().sum() == 0


def test_level_layer_norm_requires_level():
    with pytest.raises(ValueError, match="level"):
        LevelLayerNorm(4, 2)(torch.randn(1, 2, 4))


def test_plain_layer_norm_ignores_level():
    norm = LayerNorm(4)
    x = torch.randn(1, 3, 4)
    assert torch.equal(norm(x, torch.tensor([5])), norm(x))


def test_level_transformer_output_depends_on_level():
    torch.manual_seed(0)
    model = Transformer(16, 2, 2, 32, dropout=0.0, num_levels=2).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LevelLayerNorm):
                module.scale.weight.normal_()
    x = torch.randn(1, 4, 16)
    mask = padding_mask(torch.ones(1, 4, dtype=torch.bool))
    assert not torch.allclose(model(x, mask, torch.tensor([0])), model(x, mask, torch.tensor([1])))


def test_incremental_equals_full_with_causal_mask():
    torch.manual_seed(0)
    model = Transformer(16, 4, 3, 32, dropout=0.0).eval()
    x = torch.randn(2, 6, 16)
    causal = torch.ones(6, 6, dtype=torch.bool).tril()[None, None]
    full = model(x, causal)
    caches = [KVCache() for _ in range(3)]
    prefix = model(x[:, :3], causal[..., :3, :3], caches=caches)
    steps = [model(x[:, t:t + 1], causal[..., t:t + 1, :t + 1], caches=caches) for t in range(3, 6)]
    torch.testing.assert_close(torch.cat([prefix, *steps], dim=1), full, atol=1e-5, rtol=1e-5)


def test_wrong_cache_count_and_heads():
    model = Transformer(8, 2, 2, 16)
    with pytest.raises(ValueError, match="2 layer caches"):
        model(torch.randn(1, 1, 8), torch.ones(1, 1, 1, 1, dtype=torch.bool), caches=[KVCache()])
    with pytest.raises(ValueError, match="divisible"):
        Transformer(10, 3, 1, 16)
    with pytest.raises(ValueError, match="activation"):
        Transformer(8, 2, 1, 16, activation="swish")
