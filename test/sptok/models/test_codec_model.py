"""SpeechTokenizerGAN: generator / discriminator steps, distillation, warm-up, validation."""
import pytest
import torch

from sptok.discriminators import build_discriminator
from sptok.losses import MultiResolutionMelLoss
from sptok.models import (DAxisDistillLoss, OfflineTeacher, OnlineHubertTeacher,
                          SpeechTokenizerGAN, TAxisDistillLoss)
from sptok.teachers import save_wav2vec2
from sptok.teachers.wav2vec2_params import STANDARD_CONV_LAYERS, build_model

TEACHER_DIM = 6


def tiny_discriminator():
    return build_discriminator({"msstft": {"filters": 2, "max_filters": 4,
                                           "n_ffts": [256, 128]}})


def make_gan(tiny_generator, distill="d_axis", discriminator=True, **conf):
    torch.manual_seed(0)
    with_teacher = distill is not None
    generator = tiny_generator(semantic_dim=TEACHER_DIM if with_teacher else None)
    distill_loss = {"d_axis": DAxisDistillLoss(), "t_axis": TAxisDistillLoss(), None: None}[distill]
    return SpeechTokenizerGAN(
        generator, tiny_discriminator() if discriminator else None, MultiResolutionMelLoss(),
        distill_loss, OfflineTeacher(TEACHER_DIM) if with_teacher else None, **conf)


def make_batch(teacher=True, seed=0):
    torch.manual_seed(seed)
    lengths = torch.tensor([3200, 2500])
    wav = 0.1 * torch.randn(2, 1, 3200)
    wav[1, :, 2500:] = 0
    batch = {"wav": wav, "lengths": lengths}
    if teacher:
        batch["teacher_feats"] = torch.randn(2, 10, TEACHER_DIM)
        batch["teacher_lengths"] = torch.tensor([9, 7])
    return batch


def train_step(model, batch, optim_g, optim_d=None):
    """One trainer step as in notes/train_interface.md."""
    out = model.forward_generator(model.generator, batch)
    d_stats = {}
    if model.discriminator is not None:
        d_loss, d_stats = model.discriminator_loss(model.discriminator, batch, out)
        optim_d.zero_grad()
        d_loss.backward()
        optim_d.step()
    for p in model.discriminator.parameters() if model.discriminator is not None else []:
        p.requires_grad_(False)
    g_loss, g_stats = model.generator_loss(model.discriminator, batch, out)
    optim_g.zero_grad()
    g_loss.backward()
    optim_g.step()
    for p in model.discriminator.parameters() if model.discriminator is not None else []:
        p.requires_grad_(True)
    return g_loss, g_stats, d_stats


@pytest.mark.parametrize("distill", ["d_axis", "t_axis", None])
def test_generator_and_discriminator_steps(tiny_generator, distill):
    model = make_gan(tiny_generator, distill=distill).train()
    optim_g = torch.optim.Adam(model.generator.parameters(), 1e-3)
    optim_d = torch.optim.Adam(model.discriminator.parameters(), 1e-3)
    batch = make_batch(teacher=distill is not None)
    head_before = (model.generator.semantic_head.weight.clone()
                   if distill is not None else None)
    d_before = [p.clone() for p in model.discriminator.parameters()]
    g_loss, g_stats, d_stats = train_step(model, batch, optim_g, optim_d)
    assert torch.isfinite(g_loss)
    expected = {"loss_mel", "loss_wav", "loss_commit", "loss_adv", "loss_feat",
                "mel_l1_r0", "perplexity_q1"}
    assert expected <= set(g_stats)
    assert ("loss_distill" in g_stats) == (distill is not None)
    assert {"d_real", "d_fake"} == set(d_stats)
    # the weighted sum is what the stats say
    total = (g_stats["loss_mel"] + 500 * g_stats["loss_wav"] + 10 * g_stats["loss_commit"]
             + g_stats["loss_adv"] + 2 * g_stats["loss_feat"]
             + 120 * g_stats.get("loss_distill", 0.0))
    torch.testing.assert_close(g_loss.detach(), torch.as_tensor(total, dtype=torch.float32))
    assert any(not torch.equal(a, b) for a, b in zip(d_before, model.discriminator.parameters()))
    if distill is not None:
        assert not torch.equal(head_before, model.generator.semantic_head.weight)
    assert int(model.generator_steps) == 1


def test_distillation_gradient_reaches_the_encoder_only_through_level_one(tiny_generator):
    model = make_gan(tiny_generator, discriminator=False).train()
    batch = make_batch()
    out = model.forward_generator(model.generator, batch)
    model._distill(out).backward()
    assert model.generator.semantic_head.weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.generator.encoder.parameters())
    assert all(p.grad is None for p in model.generator.decoder.parameters())


def test_distillation_ignores_padded_teacher_frames(tiny_generator):
    model = make_gan(tiny_generator, discriminator=False).train()
    batch = make_batch()
    out = model.forward_generator(model.generator, batch)
    loss = model._distill(out)
    batch["teacher_feats"][0, 9:] = 100.0  # past teacher_lengths
    batch["teacher_feats"][1, 7:] = -100.0
    out2 = dict(out, teacher_feats=batch["teacher_feats"])
    torch.testing.assert_close(model._distill(out2), loss)


def test_discriminator_warmup(tiny_generator):
    model = make_gan(tiny_generator, discriminator_warmup_steps=2).train()
    optim_g = torch.optim.Adam(model.generator.parameters(), 1e-3)
    optim_d = torch.optim.Adam(model.discriminator.parameters(), 1e-3)
    d_before = [p.clone() for p in model.discriminator.parameters()]
    for step in range(2):
        assert not model.discriminator_enabled()
        _, g_stats, d_stats = train_step(model, make_batch(seed=step), optim_g, optim_d)
        assert "loss_adv" not in g_stats and d_stats == {}
    # zero gradients and no Adam history: the discriminator did not move
    assert all(torch.equal(a, b) for a, b in zip(d_before, model.discriminator.parameters()))
    assert model.discriminator_enabled()
    _, g_stats, d_stats = train_step(model, make_batch(seed=3), optim_g, optim_d)
    assert "loss_adv" in g_stats and "d_real" in d_stats
    # the step count is saved with the model
    state = model.state_dict()
    assert int(state["generator_steps"]) == 3
    fresh = make_gan(tiny_generator, discriminator_warmup_steps=2)
    fresh.load_state_dict(state)
    assert fresh.discriminator_enabled()


def test_no_discriminator(tiny_generator):
    model = make_gan(tiny_generator, discriminator=False).train()
    optim_g = torch.optim.Adam(model.generator.parameters(), 1e-3)
    g_loss, g_stats, _ = train_step(model, make_batch(), optim_g)
    assert "loss_adv" not in g_stats and torch.isfinite(g_loss)
    with pytest.raises(ValueError, match="without a discriminator"):
        model.discriminator_loss(None, make_batch(), {})


def test_generator_loss_does_not_depend_on_padding(tiny_generator):
    model = make_gan(tiny_generator).eval()
    batch = make_batch()
    with torch.no_grad():
        out = model.forward_generator(model.generator, batch)
        loss, _ = model.generator_loss(None, batch, out)
        batch["wav"][1, :, 2500:] = 0.7
        out = model.forward_generator(model.generator, batch)
        loss2, _ = model.generator_loss(None, batch, out)
    torch.testing.assert_close(loss, loss2)


def test_validation_stats_and_media(tiny_generator):
    model = make_gan(tiny_generator, valid_n_q=[1, 2]).train()
    with torch.no_grad():
        model.forward_generator(model.generator, make_batch())  # initialise the codebooks
    model.eval()
    stats = model.validation_stats(model.generator, make_batch(seed=1))
    assert {"mel_distance", "mel_distance_q1", "mel_distance_q2", "mel_loss", "wav_l1",
            "commit_loss", "distill_loss", "perplexity"} <= set(stats)
    assert all(isinstance(v, float) for v in stats.values())
    assert stats["mel_distance_q1"] != stats["mel_distance"]
    batch = make_batch()
    media = model.media(batch, model.forward_generator(model.generator, batch))
    kind, audio, rate = media["audio/reconstruction"]
    assert kind == "audio" and audio.shape == (3200,) and rate == 16000


def test_inconsistent_parts_are_refused(tiny_generator):
    generator = tiny_generator(semantic_dim=TEACHER_DIM)
    mel = MultiResolutionMelLoss()
    with pytest.raises(ValueError, match="both set or both 'none'"):
        SpeechTokenizerGAN(generator, None, mel, None, OfflineTeacher(TEACHER_DIM))
    with pytest.raises(ValueError, match="feature_dim 7"):
        SpeechTokenizerGAN(generator, None, mel, DAxisDistillLoss(), OfflineTeacher(7))
    with pytest.raises(ValueError, match="semantic head only when distilling"):
        SpeechTokenizerGAN(generator, None, mel, None, None)
    with pytest.raises(ValueError, match="valid_n_q"):
        SpeechTokenizerGAN(generator, None, mel, DAxisDistillLoss(), OfflineTeacher(TEACHER_DIM),
                           valid_n_q=[4])


def test_offline_teacher_checks_the_batch():
    teacher = OfflineTeacher(TEACHER_DIM)
    wav, lengths = torch.zeros(1, 1, 640), torch.tensor([640])
    with pytest.raises(ValueError, match="teacher_feats"):
        teacher.targets({"wav": wav}, wav, lengths)
    with pytest.raises(ValueError, match="feature_dim"):
        teacher.targets({"teacher_feats": torch.zeros(1, 2, 5)}, wav, lengths)


@pytest.fixture
def tiny_teacher_path(tmp_path):
    params = {
        "extractor_mode": "group_norm",
        "extractor_conv_layer_config": [(8, k, s) for _, k, s in STANDARD_CONV_LAYERS],
        "extractor_conv_bias": False, "encoder_embed_dim": TEACHER_DIM * 2,
        "encoder_projection_dropout": 0.0, "encoder_pos_conv_kernel": 8,
        "encoder_pos_conv_groups": 2, "encoder_num_layers": 1, "encoder_num_heads": 2,
        "encoder_attention_dropout": 0.0, "encoder_ff_interm_features": 16,
        "encoder_ff_interm_dropout": 0.0, "encoder_dropout": 0.0,
        "encoder_layer_norm_first": False, "encoder_layer_drop": 0.0,
    }
    torch.manual_seed(0)
    path = tmp_path / "teacher.pt"
    save_wav2vec2(build_model(params), params, path, fmt="torchaudio")
    return path


def test_online_teacher_step(tiny_generator, tiny_teacher_path):
    teacher = OnlineHubertTeacher(str(tiny_teacher_path), layer="avg")
    assert teacher.feature_dim == TEACHER_DIM * 2
    torch.manual_seed(0)
    model = SpeechTokenizerGAN(tiny_generator(semantic_dim=TEACHER_DIM * 2), None,
                               MultiResolutionMelLoss(), DAxisDistillLoss(), teacher).train()
    optim_g = torch.optim.Adam(model.generator.parameters(), 1e-3)
    batch = make_batch(teacher=False)
    out = model.forward_generator(model.generator, batch)
    # HuBERT frames: floor((N - 400) / 320) + 1
    assert out["teacher_feats"].shape == (2, 9, TEACHER_DIM * 2)
    assert out["teacher_lengths"].tolist() == [9, 7]
    _, g_stats, _ = train_step(model, batch, optim_g)
    assert "loss_distill" in g_stats
    # the teacher is not part of the model's parameters or checkpoints
    assert not any(key.startswith("teacher") for key in model.state_dict())
