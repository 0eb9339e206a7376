import pytest
import torch

from sptok.uslm import USLM, USLMTrainModel


def test_trainer_contract(tiny, batch):
    model = USLMTrainModel(USLM(tiny.ar(), tiny.nar()))
    assert model.discriminator is None
    assert {n.split(".")[1] for n, _ in model.named_parameters()} == {"ar", "nar"}
    torch.manual_seed(0)
    out = model.forward_generator(model.generator, batch)
    loss, stats = model.generator_loss(None, batch, out)
    torch.testing.assert_close(loss, stats["ar_loss"] + stats["nar_loss"])
    assert not any(v.requires_grad for v in stats.values())
    assert {"ar_accuracy", "nar_level2_loss", "nar_upper_loss"} <= set(stats)
    loss.backward()
    assert all(p.grad is not None for p in model.generator.parameters())
    with pytest.raises(RuntimeError, match="no discriminator"):
        model.discriminator_loss(None, batch, out)


def test_validation_is_deterministic_and_keeps_the_training_rng(tiny, batch):
    model = USLMTrainModel(USLM(None, tiny.nar()))
    torch.manual_seed(5)
    first = model.validation_stats(model.generator, batch)
    after_first = torch.rand(1)
    torch.manual_seed(5)
    second = model.validation_stats(model.generator, batch)
    assert first == second and all(isinstance(v, float) for v in first.values())
    assert torch.equal(torch.rand(1), after_first)  # global RNG untouched by validation
    assert "ar_loss" not in first and "nar_loss" in first


def test_needs_a_model():
    with pytest.raises(ValueError, match="AR model, a NAR model, or both"):
        USLM(None, None)
