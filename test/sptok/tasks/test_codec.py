"""The codec task: every egs config (shrunk) trains one G and one D step; config checks; data;
a short run through the trainer; the dry-run command line."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sptok.data.ark import FeatsWriter
from sptok.data.codec_dataset import CodecDataset
from sptok.tasks import get_task, load_config, resolve_config
from sptok.tasks.codec import CodecTask
from sptok.utils.config import ConfigError, load_yaml, save_config

REPO_ROOT = Path(__file__).resolve().parents[3]
# Codec configs with a SEANet or STFT encoder and an RVQ (what shrink() knows how to make tiny);
# the unit vocoders (frozen teacher + k-means in their place) need a teacher and are trained by
# the recipe tests (test/egs/test_mini_synth.py, test_librispeech.py).
CODEC_CONFIGS = sorted(p for p in (REPO_ROOT / "egs").rglob("conf/**/*.yaml")
                       if load_yaml(p).get("task") == "codec"
                       and load_yaml(p).get("encoder", "seanet") in ("seanet", "stft"))
# Size options of each encoder / decoder, replaced by tiny ones.
TINY_ENCODERS = {"seanet": {"n_filters": 2, "dimension": 8, "lstm_layers": 1},
                 "stft": {"channels": 8, "num_layers": 1, "dimension": 8}}
TINY_DECODERS = {"seanet": {"n_filters": 2, "lstm_layers": 1},
                 "istft": {"channels": 8, "num_layers": 1}}
TEACHER_DIM = 6

# Size options of each discriminator, replaced by tiny ones.
TINY_DISCRIMINATORS = {
    "mpd": {"channels": [4, 4]},
    "msd": {"channels": [4, 8], "kernel_sizes": [15, 41], "strides": [1, 2], "groups": [1, 4]},
    "msstft": {"filters": 2, "max_filters": 4},
}


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny models run fastest on one thread, above all on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def shrink(file_config: dict) -> dict:
    """The same config with a tiny generator, quantizer, teacher and discriminators."""
    config = dict(file_config)
    config["encoder_conf"] = dict(config.get("encoder_conf") or {},
                                  **TINY_ENCODERS[config.get("encoder", "seanet")])
    config["decoder_conf"] = dict(config.get("decoder_conf") or {},
                                  **TINY_DECODERS[config.get("decoder", "seanet")])
    config["quantizer_conf"] = dict(config.get("quantizer_conf") or {}, n_q=2, codebook_size=4,
                                    kmeans_iters=2)
    if config.get("teacher", "offline") == "offline":
        config["teacher_conf"] = {"feature_dim": TEACHER_DIM}
    discriminators = config.get("discriminators", ["mpd", "msd", "msstft"])
    if isinstance(discriminators, list):
        discriminators = {name: None for name in discriminators}
    if discriminators and discriminators != "none":
        config["discriminators"] = {name: dict(conf or {}, **TINY_DISCRIMINATORS[name])
                                    for name, conf in discriminators.items()}
    config["model_conf"] = dict(config.get("model_conf") or {}, discriminator_warmup_steps=0)
    return config


def make_batch(config: dict, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    lengths = torch.tensor([8000, 5000])
    wav = 0.1 * torch.randn(2, 1, 8000)
    wav[1, :, 5000:] = 0
    batch = {"wav": wav, "lengths": lengths}
    if config["teacher"] == "offline":
        batch["teacher_feats"] = torch.randn(2, 25, TEACHER_DIM)
        batch["teacher_lengths"] = torch.tensor([24, 15])
    return batch


def test_the_codec_configs_are_found():
    names = {p.relative_to(REPO_ROOT).as_posix() for p in CODEC_CONFIGS}
    assert {"egs/mini_synth/conf/train_speechtokenizer.yaml",
            "egs/mini_synth/conf/train_baseline.yaml",
            "egs/TEMPLATE/conf/tuning/train_speechtokenizer_paper.yaml",
            "egs/TEMPLATE/conf/tuning/train_baseline_paper.yaml"} <= names


@pytest.mark.parametrize("path", CODEC_CONFIGS,
                         ids=[p.relative_to(REPO_ROOT).as_posix() for p in CODEC_CONFIGS])
def test_each_config_trains_one_generator_and_one_discriminator_step(path):
    file_config = load_yaml(path)
    task, config = resolve_config(shrink(file_config), source=str(path))
    assert task is CodecTask
    distilling = file_config.get("teacher", "offline") != "none"
    assert (config["distill_loss"] != "none") == distilling
    torch.manual_seed(0)
    model = task.build_model(config).train()
    assert (model.generator.semantic_head is not None) == distilling
    assert model.discriminator is not None
    optim_g = torch.optim.Adam(model.generator.parameters(), 1e-3)
    optim_d = torch.optim.Adam(model.discriminator.parameters(), 1e-3)
    batch = make_batch(config)
    out = model.forward_generator(model.generator, batch)
    d_loss, d_stats = model.discriminator_loss(model.discriminator, batch, out)
    d_loss.backward()
    optim_d.step()
    model.discriminator.requires_grad_(False)
    g_loss, g_stats = model.generator_loss(model.discriminator, batch, out)
    g_loss.backward()
    optim_g.step()
    assert torch.isfinite(g_loss) and torch.isfinite(d_loss) and d_loss > 0
    assert "loss_adv" in g_stats and ("loss_distill" in g_stats) == distilling
    assert out["wav_hat"].shape == (2, 1, 8000) and out["codes"].shape == (2, 2, 25)


def test_mini_configs_differ_only_in_distillation():
    conf_dir = REPO_ROOT / "egs" / "mini_synth" / "conf"
    for a, b in (("train_speechtokenizer.yaml", "train_baseline.yaml"),):
        _, full = load_config(conf_dir / a)
        _, base = load_config(conf_dir / b)
        differing = {k for k in full if full[k] != base[k]}
        assert differing == {"teacher", "teacher_conf", "distill_loss", "distill_loss_conf"}
    tuning = REPO_ROOT / "egs" / "TEMPLATE" / "conf" / "tuning"
    _, full = load_config(tuning / "train_speechtokenizer_paper.yaml")
    _, base = load_config(tuning / "train_baseline_paper.yaml")
    assert {k for k in full if full[k] != base[k]} == {"teacher", "teacher_conf", "distill_loss",
                                                       "distill_loss_conf"}
    # paper sizes
    assert full["encoder_conf"]["n_filters"] == 64 and full["encoder_conf"]["dimension"] == 1024
    assert full["quantizer_conf"]["n_q"] == 8 and full["quantizer_conf"]["codebook_size"] == 1024
    assert full["optim_conf"]["lr"] == 1e-4 and full["optim_conf"]["betas"] == [0.5, 0.9]
    assert full["scheduler"] == "exponential" and full["scheduler_conf"]["gamma"] == 0.98
    assert full["segment_seconds"] == 3.0 and full["teacher_conf"]["feature_dim"] == 768
    assert full["mel_loss_conf"]["weights"] == [45.0, 1.0, 1.0, 1.0]


def test_config_errors_name_the_option():
    task = get_task("codec")
    with pytest.raises(ConfigError, match="teacher is 'none' but distill_loss is 'd_axis'"):
        task.resolve_config({"task": "codec", "teacher": "none"})
    with pytest.raises(ConfigError, match="discriminators: mpx: .*unknown choice 'mpx'.*choose from: mpd"):
        task.resolve_config({"task": "codec", "discriminators": ["mpx"]})
    with pytest.raises(ConfigError, match="discriminators: repeated"):
        task.resolve_config({"task": "codec", "discriminators": ["mpd", "mpd"]})
    with pytest.raises(ConfigError, match="missing required keyword 'path'"):
        task.resolve_config({"task": "codec", "teacher": "online"})
    with pytest.raises(ConfigError, match="quantizer_conf: 'dimension' .* is set by the task"):
        task.resolve_config({"task": "codec", "quantizer_conf": {"dimension": 8}})
    config = task.resolve_config(shrink({"task": "codec", "decoder_conf": {"strides": [8, 5, 4]}}))
    with pytest.raises(ConfigError, match="encoder_conf / decoder_conf: .*hop length"):
        task.build_model(config)
    config = task.resolve_config(shrink({"task": "codec", "model_conf": {"valid_n_q": [3]}}))
    with pytest.raises(ConfigError, match="model_conf: valid_n_q"):
        task.build_model(config)


def test_discriminator_spec_forms():
    task = get_task("codec")
    for spec in (None, "none", []):
        assert task.resolve_config({"task": "codec", "discriminators": spec})["discriminators"] is None
    config = task.resolve_config({"task": "codec", "discriminators": "mpd"})
    assert list(config["discriminators"]) == ["mpd"]
    assert config["discriminators"]["mpd"]["periods"] == [2, 3, 5, 7, 11]  # completed
    config = task.resolve_config({"task": "codec", "discriminators": {"msstft": {"filters": 4}}})
    assert config["discriminators"]["msstft"]["filters"] == 4
    # a resolved config resolves to itself (config.yaml saved by the trainer is reloadable)
    assert task.resolve_config(config) == config
    model = task.build_model(task.resolve_config(shrink({"task": "codec",
                                                         "discriminators": None})))
    assert model.discriminator is None


def write_data(root: Path, utts: dict, teacher: bool = True) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    wav_lines, num_lines = [], []
    for key, n in utts.items():
        path = root / f"{key}.wav"
        sf.write(str(path), (0.1 * rng.standard_normal(n)).astype(np.float32), 16000)
        wav_lines.append(f"{key} {path}\n")
        num_lines.append(f"{key} {n}\n")
    (root / "wav.scp").write_text("".join(wav_lines))
    (root / "utt2num_samples").write_text("".join(num_lines))
    out = {"data": str(root)}
    if teacher:
        with FeatsWriter(root / "feats.ark", root / "feats.scp") as writer:
            for key, n in utts.items():
                writer[key] = rng.standard_normal(((n - 400) // 320 + 1, TEACHER_DIM))
        out["feats"] = str(root / "feats.scp")
    return out


def test_build_dataset_and_collate(tmp_path):
    train = write_data(tmp_path / "train", {"a": 16000, "b": 6000, "c": 12000})
    config = CodecTask.resolve_config(shrink({
        "task": "codec", "train_data_dir": train["data"], "train_teacher_feats": train["feats"],
        "valid_data_dir": train["data"], "segment_seconds": 0.5}))
    dataset = CodecTask.build_dataset(config, "train")
    assert isinstance(dataset, CodecDataset) and dataset.random_crop
    assert dataset.hop_length == 320 and dataset.segment_samples == 8000
    assert [CodecTask.item_length(dataset, i) for i in range(3)] == [0.5, 0.375, 0.5]
    batch = CodecTask.collate_fn(config)([dataset[i] for i in range(3)])
    assert batch["wav"].shape == (3, 1, 8000) and batch["teacher_feats"].shape == (3, 25, 6)
    with pytest.raises(ConfigError, match="valid_teacher_feats: not set"):
        CodecTask.build_dataset(config, "valid")
    base = CodecTask.resolve_config(shrink({
        "task": "codec", "teacher": "none", "distill_loss": "none",
        "train_data_dir": train["data"], "train_teacher_feats": train["feats"]}))
    with pytest.raises(ConfigError, match="train_teacher_feats: given, but teacher is 'none'"):
        CodecTask.build_dataset(base, "train")
    with pytest.raises(ConfigError, match="valid_data_dir: not set"):
        CodecTask.build_dataset(base, "valid")


def test_short_training_run_through_the_trainer(tmp_path):
    train = write_data(tmp_path / "train", {f"u{i}": 9000 + 1000 * i for i in range(6)})
    valid = write_data(tmp_path / "valid", {"v0": 7000, "v1": 5000})
    file_config = shrink(load_yaml(REPO_ROOT / "egs/mini_synth/conf/train_speechtokenizer.yaml"))
    file_config["model_conf"]["discriminator_warmup_steps"] = 2
    file_config.update(
        train_data_dir=train["data"], train_teacher_feats=train["feats"],
        valid_data_dir=valid["data"], valid_teacher_feats=valid["feats"], segment_seconds=0.25,
        batch_size=2, valid_batch_size=2, num_workers=0, max_steps=4, valid_interval=2,
        save_interval=2, log_interval=1, progress_bar=False,
        scheduler_conf={"warmup_steps": 1, "min_lr_ratio": 0.1})
    task, config = resolve_config(file_config)
    out_dir = tmp_path / "exp"
    task.train(config, out_dir)
    assert (out_dir / "checkpoint.pt").is_file()
    log = (out_dir / "train.log").read_text()
    assert "mel_distance" in log and "loss_distill" in log
    state = torch.load(out_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    model_state = next(v for k, v in state.items() if isinstance(v, dict) and any(
        key.endswith("generator_steps") for key in v))
    steps = next(v for k, v in model_state.items() if k.endswith("generator_steps"))
    assert int(steps) == 4
    # the trained generator loads back from the best weights or from the checkpoint
    config_path = save_config(config, tmp_path / "config.yaml")
    best = CodecTask.load_generator(config_path, out_dir / "valid.mel_distance.best.pth")
    last = CodecTask.load_generator(config, out_dir / "checkpoint.pt")
    assert not best.training and best.semantic_dim == TEACHER_DIM
    wav = 0.1 * torch.randn(1, 1, 3200)
    torch.testing.assert_close(best.encode(wav)[0], last.encode(wav)[0])
    with pytest.raises(ValueError, match="neither generator weights"):
        torch.save({}, tmp_path / "empty.pth")
        CodecTask.load_generator(config, tmp_path / "empty.pth")


def test_dry_run_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "sptok.bin.train", "--config",
         "egs/mini_synth/conf/train_speechtokenizer.yaml", "--dry_run"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "task codec: built sptok.models.codec_model.SpeechTokenizerGAN" in result.stdout
    assert "codes: int64[2, 8, 25]" in result.stdout and "semantic: float32[2, 25, 256]" in result.stdout


def test_online_teacher_config(tmp_path):
    from sptok.teachers import save_wav2vec2
    from sptok.teachers.wav2vec2_params import STANDARD_CONV_LAYERS, build_model
    params = {
        "extractor_mode": "group_norm",
        "extractor_conv_layer_config": [(4, k, s) for _, k, s in STANDARD_CONV_LAYERS],
        "extractor_conv_bias": False, "encoder_embed_dim": 8, "encoder_projection_dropout": 0.0,
        "encoder_pos_conv_kernel": 8, "encoder_pos_conv_groups": 2, "encoder_num_layers": 1,
        "encoder_num_heads": 2, "encoder_attention_dropout": 0.0,
        "encoder_ff_interm_features": 16, "encoder_ff_interm_dropout": 0.0,
        "encoder_dropout": 0.0, "encoder_layer_norm_first": False, "encoder_layer_drop": 0.0,
    }
    torch.manual_seed(0)
    save_wav2vec2(build_model(params), params, tmp_path / "teacher.pt", fmt="torchaudio")
    train = write_data(tmp_path / "train", {"a": 9000, "b": 7000}, teacher=False)
    config = CodecTask.resolve_config(shrink({
        "task": "codec", "teacher": "online",
        "teacher_conf": {"path": str(tmp_path / "teacher.pt"), "layer": 1},
        "train_data_dir": train["data"], "segment_seconds": 0.5}))
    model = CodecTask.build_model(config).train()
    assert model.generator.semantic_dim == 8
    dataset = CodecTask.build_dataset(config, "train")
    batch = CodecTask.collate_fn(config)([dataset[0], dataset[1]])
    assert "teacher_feats" not in batch
    out = model.forward_generator(model.generator, batch)
    loss, stats = model.generator_loss(None, batch, out)
    assert out["teacher_feats"].shape == (2, 24, 8) and torch.isfinite(stats["loss_distill"])
    loss.backward()
