"""Mini HuBERT: masked prediction learns; the exported encoder loads like a released checkpoint."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from sptok.bin import train_mini_hubert
from sptok.teachers import HubertTeacher, load_wav2vec2
from sptok.teachers.mini_hubert import (CropSampler, MiniHubertConfig, build_pretrain_model,
                                        masked_prediction_loss)

TINY = dict(conv_dim=8, embed_dim=32, num_layers=2, num_heads=2, ff_dim=64, pos_conv_kernel=16,
            pos_conv_groups=4, num_classes=8, final_dim=16, mask_prob=0.5, mask_length=4)


def tone_utterance(rng: np.random.Generator, n_frames: int, num_classes: int):
    """A waveform of 320-sample tone segments whose pitch encodes the frame label."""
    labels = np.repeat(rng.integers(0, num_classes, size=n_frames // 4 + 1), 4)[:n_frames + 1]
    t = np.arange(320) / 16000
    wav = np.concatenate([np.sin(2 * np.pi * (200 + 150 * k) * t) * 0.3 for k in labels]).astype(np.float32)
    return wav[:(n_frames - 1) * 320 + 400], labels[:n_frames].astype(np.int64)


def test_crop_sampler_keeps_frames_aligned():
    rng = np.random.default_rng(0)
    wav = np.arange(320 * 40 + 80, dtype=np.float32)
    labels = np.arange(40, dtype=np.int64)
    sampler = CropSampler([wav], [labels], crop_samples=320 * 9 + 80)
    batch_wav, batch_lab = sampler.sample(4, rng)
    assert batch_wav.shape == (4, 320 * 9 + 80) and batch_lab.shape == (4, 9)
    for w, lab in zip(batch_wav, batch_lab):
        assert int(w[0]) % 320 == 0 and int(w[0]) // 320 == int(lab[0])
        assert lab.tolist() == list(range(int(lab[0]), int(lab[0]) + 9))


@pytest.mark.parametrize("extra", [{}, {"unmasked_weight": 0.5, "extractor_mode": "layer_norm"}])
def test_loss_decreases_on_a_repeated_batch(extra):
    torch.manual_seed(0)
    cfg = MiniHubertConfig(**TINY, **extra)
    model = build_pretrain_model(cfg)
    rng = np.random.default_rng(0)
    pairs = [tone_utterance(rng, 40, cfg.num_classes) for _ in range(2)]
    wav = torch.from_numpy(np.stack([p[0] for p in pairs]))
    labels = torch.from_numpy(np.stack([p[1] for p in pairs]))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss, acc, n = masked_prediction_loss(model, wav, labels, cfg.feature_pen_weight, cfg.unmasked_weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        assert n > 0 and 0.0 <= float(acc) <= 1.0
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])


@pytest.fixture
def corpus(tmp_path):
    rng = np.random.default_rng(1)
    lines = []
    for i in range(12):
        wav, _ = tone_utterance(rng, 60, 8)
        path = tmp_path / f"u{i:02d}.wav"
        sf.write(path, wav, 16000)
        lines.append(f"u{i:02d} {path}\n")
    (tmp_path / "wav.scp").write_text("".join(lines))
    return tmp_path


def cli_args(corpus, max_steps):
    args = ["--wav_scp", str(corpus / "wav.scp"), "--out_dir", str(corpus / "exp"), "--seed", "3",
            "--max_steps", str(max_steps), "--batch_size", "2", "--crop_seconds", "0.5", "--warmup_steps", "2",
            "--log_interval", "2", "--save_interval", "2", "--valid_batches", "1", "--num_clusters", "8",
            "--kmeans_iters", "5"]
    for name, value in TINY.items():
        if name != "num_classes":
            args += [f"--{name}", str(value)]
    return args


def test_cli_trains_resumes_and_exports_hf(corpus):
    assert train_mini_hubert.main(cli_args(corpus, 4)) == 0
    out = corpus / "exp"
    assert {"config.json", "preprocessor_config.json"} <= {p.name for p in out.iterdir()}
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "hubert" and config["hidden_size"] == 32

    loaded = load_wav2vec2(out)
    assert loaded.format == "hf" and not loaded.normalize_waveform
    ckpt = torch.load(out / "train" / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 4
    model = build_pretrain_model(MiniHubertConfig(**TINY))
    model.load_state_dict(ckpt["model"])
    wav = 0.1 * torch.randn(1, 4000)
    with torch.no_grad():
        exported, _ = HubertTeacher(loaded.model, layer="avg")(wav)
        trained, _ = HubertTeacher(model.wav2vec2, layer="avg")(wav)
    torch.testing.assert_close(exported, trained, atol=0, rtol=0)

    # Rerun with more steps: resumes at step 4 and continues to 6. A log line written after the
    # last checkpoint (by a run that died) does not survive the resume.
    with open(out / "train" / "log.jsonl", "a") as f:
        f.write(json.dumps({"step": 5}) + "\n")
    assert train_mini_hubert.main(cli_args(corpus, 6)) == 0
    records = [json.loads(line) for line in (out / "train" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6]
    assert all(0.0 <= r["acc"] <= 1.0 and r["sec_per_step"] > 0 for r in records)
    assert "valid_acc" in records[-1]
    assert torch.load(out / "train" / "checkpoint.pt", weights_only=False)["step"] == 6


def test_cli_refuses_to_resume_another_architecture(corpus, capsys):
    assert train_mini_hubert.main(cli_args(corpus, 2)) == 0
    args = cli_args(corpus, 4)
    args[args.index("--embed_dim") + 1] = "16"
    assert train_mini_hubert.main(args) == 1
    assert "saved with another model config" in capsys.readouterr().err


def test_unmasked_weight_adds_the_unmasked_frames_loss():
    cfg = MiniHubertConfig(**TINY, unmasked_weight=1.0)
    torch.manual_seed(0)
    model = build_pretrain_model(cfg).eval()
    assert not model.logit_generator.skip_nomask
    wav, labels = tone_utterance(np.random.default_rng(0), 30, cfg.num_classes)
    wav, labels = torch.from_numpy(wav)[None], torch.from_numpy(labels)[None]
    losses = []
    for weight in (0.0, 1.0):
        torch.manual_seed(5)  # same masks
        with torch.no_grad():
            losses.append(float(masked_prediction_loss(model, wav, labels, 0.0, weight)[0]))
    assert losses[1] > losses[0] > 0
