import pytest
import torch

from sptok.uslm.transformer import LevelLayerNorm


def _randomise_level_norms(model):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LevelLayerNorm):
                module.scale.weight.normal_(1.0, 0.5)
                module.bias.weight.normal_(0.0, 0.5)


def _logits(model, batch, prompt_lengths, levels):
    return model.logits(batch["phonemes"], batch["phoneme_lengths"], batch["codes"],
                        batch["code_lengths"], prompt_lengths, levels)


def test_visible_levels(tiny, batch):
    model = tiny.nar()
    prompt = torch.tensor([4, 3, 2])
    levels = torch.tensor([2, 3, 2])
    logits = _logits(model, batch, prompt, levels)
    assert logits.shape == (3, 12, tiny.codebook_size)
    # Target frames: codes of the predicted level and above are not inputs.
    hidden = dict(batch, codes=batch["codes"].clone())
    hidden["codes"][0, 1:, 4:] = (hidden["codes"][0, 1:, 4:] + 1) % tiny.codebook_size
    hidden["codes"][1, 2:, 3:] = (hidden["codes"][1, 2:, 3:] + 1) % tiny.codebook_size
    torch.testing.assert_close(_logits(model, hidden, prompt, levels)[:2], logits[:2],
                               atol=1e-6, rtol=0)
    # Prompt frames keep ALL levels: the top level of a prompt frame is an input.
    seen = dict(batch, codes=batch["codes"].clone())
    seen["codes"][0, 2, 1] = (seen["codes"][0, 2, 1] + 1) % tiny.codebook_size
    assert not torch.allclose(_logits(model, seen, prompt, levels)[0], logits[0])
    # Lower levels of target frames are inputs.
    lower = dict(batch, codes=batch["codes"].clone())
    lower["codes"][1, 1, 6] = (lower["codes"][1, 1, 6] + 1) % tiny.codebook_size
    assert not torch.allclose(_logits(model, lower, prompt, levels)[1], logits[1])


def test_level_conditioning_changes_logits(tiny, batch):
    model = tiny.nar()
    _randomise_level_norms(model)
    with torch.no_grad():  # same head for both levels: any difference comes from the norms
        model.head_weight[1] = model.head_weight[0]
        model.head_bias[1] = model.head_bias[0]
        for embedding in model.audio_embeddings[1:]:
            embedding.weight.zero_()
    prompt = torch.tensor([4, 3, 2])
    level2 = _logits(model, batch, prompt, torch.tensor([2, 2, 2]))
    level3 = _logits(model, batch, prompt, torch.tensor([3, 3, 3]))
    assert not torch.allclose(level2, level3)
    mixed = _logits(model, batch, prompt, torch.tensor([2, 3, 2]))
    torch.testing.assert_close(mixed[0], level2[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mixed[1], level3[1], atol=1e-5, rtol=1e-5)


def test_uslm_schedule_trains_level2_and_one_upper_level(tiny, batch, monkeypatch):
    model = tiny.nar(level_schedule="uslm")
    seen = []
    original = model.logits

    def spy(*args):
        seen.append(args[-1].clone())
        return original(*args)

    monkeypatch.setattr(model, "logits", spy)
    torch.manual_seed(0)
    out = model(batch)
    assert len(seen) == 1  # one forward pass for both groups
    levels = seen[0]
    assert levels[:3].tolist() == [2, 2, 2] and ((levels[3:] >= 3) & (levels[3:] <= 3)).all()
    torch.testing.assert_close(out["loss"], out["level2_loss"] + out["upper_loss"])
    assert {"level2_accuracy", "upper_accuracy", "level2_top10_accuracy"} <= set(out)


def test_valle_schedule_draws_levels_2_to_n_q(tiny, batch, monkeypatch):
    model = tiny.nar(level_schedule="valle", n_q=4)
    batch = dict(batch, codes=torch.randint(0, tiny.codebook_size, (3, 4, 12)))
    seen = []
    original = model.logits
    monkeypatch.setattr(model, "logits", lambda *a: seen.append(a[-1].clone()) or original(*a))
    torch.manual_seed(0)
    for _ in range(20):
        out = model(batch)
    drawn = torch.cat(seen)
    assert drawn.shape == (60,) and set(drawn.tolist()) == {2, 3, 4}
    assert "upper_loss" not in out and {"loss", "accuracy"} <= set(out)


def test_n_q_2_uslm_schedule_has_only_level2(tiny, batch):
    model = tiny.nar(n_q=2)
    out = model(dict(batch, codes=batch["codes"][:, :2]))
    assert "upper_loss" not in out
    torch.testing.assert_close(out["loss"], out["level2_loss"])


def test_loss_only_on_target_frames_of_the_level(tiny, batch):
    model = tiny.nar()
    prompt = torch.tensor([4, 3, 2])
    levels = torch.tensor([3, 3, 3])
    out = model(batch, levels=levels, prompt_lengths=prompt)
    logits = _logits(model, batch, prompt, levels)
    losses = []
    for b in range(3):
        p, t = int(prompt[b]), int(batch["code_lengths"][b])
        losses.append(torch.nn.functional.cross_entropy(
            logits[b, p:t], batch["codes"][b, 2, p:t], reduction="none"))
    torch.testing.assert_close(out["loss"], torch.cat(losses).mean())


def test_all_parameters_get_gradients(tiny, batch):
    # DDP without find_unused_parameters needs every parameter in every step's graph.
    model = tiny.nar().train()
    torch.manual_seed(0)
    model(batch)["loss"].backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


def test_prompt_lengths(tiny):
    model = tiny.nar(prompt_max_frames=150)
    torch.manual_seed(0)
    lengths = torch.tensor([1, 2, 8, 40, 1000] * 200)
    prompts = model.sample_prompt_lengths(lengths)
    assert (prompts[lengths == 1] == 0).all() and (prompts[lengths == 2] == 1).all()
    for total, low, high in ((8, 2, 4), (40, 10, 20)):
        drawn = prompts[lengths == total]
        assert drawn.min() == low and drawn.max() == high
    assert (prompts[lengths == 1000] == 150).all()


def test_bad_configuration(tiny, batch):
    with pytest.raises(ValueError, match="n_q must be >= 2"):
        tiny.nar(n_q=1)
    with pytest.raises(ValueError, match="level_schedule"):
        tiny.nar(level_schedule="random")
    with pytest.raises(ValueError, match="prompt_min_ratio"):
        tiny.nar(prompt_min_ratio=0.6, prompt_max_ratio=0.5)
    model = tiny.nar()
    with pytest.raises(ValueError, match="levels must be in 2..3"):
        _logits(model, batch, torch.tensor([1, 1, 1]), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="n_q >= 3"):
        model(dict(batch, codes=batch["codes"][:, :2]))
