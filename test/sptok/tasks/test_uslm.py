"""The USLM task: config checks, model building (one run or two), data through the task, a few
training steps of a tiny AR + NAR through the real trainer, exact resume, loading for decoding."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sptok.data.ark import CodesReader, CodesWriter
from sptok.tasks import get_task, resolve_config
from sptok.tasks.uslm import TOKENS_FILE, USLMTask, load_uslm
from sptok.text.g2p import g2p_inventory
from sptok.text.symbol_table import SymbolTable
from sptok.train.checkpoint import load_checkpoint, save_generator_weights
from sptok.uslm import USLMARModel, USLMNARModel
from sptok.utils.config import ConfigError, load_yaml, save_config

REPO_ROOT = Path(__file__).resolve().parents[3]
TINY_MODEL = {"d_model": 16, "num_heads": 2, "num_layers": 1, "ffn_dim": 32, "dropout": 0.0}
CODEBOOK, N_Q = 8, 3
PHONES = ["HH", "AH0", "L", "OW1", "_", "W", "ER1", "D", "."]


@pytest.fixture(autouse=True)
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_set(root: Path, num_items: int, seed: int = 0) -> dict:
    """Tokenized text (phonemes) and random codes [T, N_Q] of ``num_items`` utterances."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    with CodesWriter(root / "codes.ark", root / "codes.scp") as writer:
        for i in range(num_items):
            key = f"utt{i:02d}"
            tokens = rng.choice(PHONES, size=int(rng.integers(3, 9)))
            lines.append(f"{key} {' '.join(tokens)}")
            writer[key] = rng.integers(0, CODEBOOK, size=(int(rng.integers(12, 30)), N_Q))
    (root / "text").write_text("\n".join(lines) + "\n")
    return {"text": str(root / "text"), "codes": str(root / "codes.scp")}


def tiny_config(train: dict, valid: dict, **overrides) -> dict:
    file_config = {
        "task": "uslm", "codebook_size": CODEBOOK, "n_q": N_Q,
        "ar_conf": dict(TINY_MODEL), "nar_conf": dict(TINY_MODEL),
        "train_text": train["text"], "train_codes": train["codes"],
        "valid_text": valid["text"], "valid_codes": valid["codes"], "min_frames": 2,
        "batch_size": 4, "num_workers": 0, "log_interval": 1, "progress_bar": False,
        "optim": "adam", "optim_conf": {"lr": 3e-3},
    }
    file_config.update(overrides)
    return resolve_config(file_config)[1]


def records(out_dir: Path, phase: str = "train") -> dict:
    found = {}
    for line in (out_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["phase"] == phase:
            found[record["step"]] = {k: v for k, v in record.items()
                                     if k not in ("steps_per_sec", "data_wait")}
    return found


def test_registered_and_configs_checked():
    assert get_task("uslm") is USLMTask
    with pytest.raises(ConfigError, match="nothing to train"):
        resolve_config({"task": "uslm", "train_ar": False, "train_nar": False})
    with pytest.raises(ConfigError, match="n_q must be >= 2"):
        resolve_config({"task": "uslm", "n_q": 1})
    assert resolve_config({"task": "uslm", "n_q": 1, "train_nar": False})[1]["n_q"] == 1
    with pytest.raises(ConfigError, match=r"tokenizer_conf: unknown key\(s\) \['stres'\]"):
        resolve_config({"task": "uslm", "tokenizer_conf": {"stres": False}})
    with pytest.raises(ConfigError, match="ar_conf.*num_phonemes.*set by the task"):
        resolve_config({"task": "uslm", "ar_conf": {"num_phonemes": 3}})
    config = resolve_config({"task": "uslm", "tokenizer_conf": {"stress": False}})[1]
    assert config["tokenizer_conf"] == {"cleaner": "english", "punctuation": True,
                                        "stress": False, "word_sep": "_"}
    assert config["best_criterion"] == ["valid", "loss", "min"]


def test_models_built_for_one_run_or_two(tmp_path):
    inventory = SymbolTable.from_inventory(g2p_inventory())
    config = resolve_config({"task": "uslm", "ar_conf": TINY_MODEL, "nar_conf": TINY_MODEL,
                             "codebook_size": CODEBOOK, "n_q": N_Q})[1]
    model = USLMTask.build_model(config)
    assert model.discriminator is None
    assert isinstance(model.generator.ar, USLMARModel)
    assert isinstance(model.generator.nar, USLMNARModel)
    assert model.generator.ar.num_phonemes == len(inventory)  # no token_list: the inventory
    assert model.generator.nar.n_q == N_Q and model.generator.nar.codebook_size == CODEBOOK
    ar_only = USLMTask.build_model({**config, "train_nar": False}).generator
    assert ar_only.nar is None and ar_only.ar is not None
    assert USLMTask.build_model({**config, "train_ar": False}).generator.ar is None
    # a token list sets the text vocabulary
    table = SymbolTable.from_inventory(PHONES)
    table.save(tmp_path / "tokens.txt")
    small = USLMTask.build_model({**config, "token_list": str(tmp_path / "tokens.txt")})
    assert small.generator.ar.num_phonemes == len(table) == 13


def test_dataset_collate_and_lengths_through_the_task(tmp_path):
    data = write_set(tmp_path / "train", 6)
    config = tiny_config(data, data, min_frames=15)
    dataset = USLMTask.build_dataset(config, "train")
    with CodesReader(data["codes"]) as reader:
        expected = {k: float(reader[k].shape[0]) for k in reader if reader[k].shape[0] >= 15}
    assert 0 < len(expected) < 6 and dataset.keys == list(expected)
    assert [USLMTask.item_length(dataset, i) for i in range(len(dataset))] == list(
        expected.values())
    batch = USLMTask.collate_fn(config)([dataset[i] for i in range(2)])
    assert batch["codes"].shape[:2] == (2, N_Q)
    ar_only = USLMTask.build_dataset({**config, "train_nar": False}, "valid")
    assert ar_only[0]["codes"].shape[0] == 1  # the AR alone needs level 1 only
    with pytest.raises(ConfigError, match="valid_codes: not set"):
        USLMTask.build_dataset({**config, "valid_codes": None}, "valid")
    with pytest.raises(ConfigError, match="train_text: not set"):
        USLMTask.build_dataset({**config, "train_text": None}, "train")


def test_training_lowers_the_loss_on_a_repeated_batch(tmp_path):
    data = write_set(tmp_path / "data", 4)
    config = tiny_config(data, data, max_steps=40, valid_interval=10, save_interval=100,
                         drop_last=False)
    out = tmp_path / "exp"
    USLMTask.train(config, out)
    valid = records(out, "valid")
    assert sorted(valid) == [10, 20, 30, 40]
    first, last = valid[10], valid[40]
    assert last["loss"] < 0.8 * first["loss"], (first, last)
    assert last["ar_loss"] < first["ar_loss"] and last["nar_loss"] < first["nar_loss"]
    assert (out / "valid.loss.best.pth").is_file()
    assert SymbolTable.load(out / TOKENS_FILE) == USLMTask.symbol_table(config)
    # the trained models load back for decoding
    save_config(config, out / "config.yaml")
    models = load_uslm(out)
    assert not models.ar.training and models.nar.n_q == N_Q
    best = torch.load(out / "valid.loss.best.pth", weights_only=True)
    torch.testing.assert_close(models.ar.head.weight, best["ar.head.weight"])


def test_resume_equals_an_uninterrupted_run(tmp_path):
    data = write_set(tmp_path / "data", 7)
    base = dict(max_steps=8, valid_interval=4, save_interval=100, drop_last=True,
                batch_size=2, grad_clip=1.0)
    config = tiny_config(data, data, **base)
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    USLMTask.train(config, reference)
    USLMTask.train({**config, "max_steps": 4}, resumed)
    assert load_checkpoint(resumed / "checkpoint.pt")["step"] == 4
    USLMTask.train({**config, "num_workers": 1}, resumed)  # workers read codes themselves
    assert records(resumed) == records(reference) and len(records(reference)) == 8
    assert records(resumed, "valid") == records(reference, "valid")
    ref, res = (load_checkpoint(d / "checkpoint.pt")["model"] for d in (reference, resumed))
    assert ref.keys() == res.keys() and all(torch.equal(ref[k], res[k]) for k in ref)
    # seeds matter: another seed gives other losses
    other = tmp_path / "other"
    USLMTask.train({**config, "seed": 1, "max_steps": 2}, other)
    assert records(other)[2]["loss_g"] != records(reference)[2]["loss_g"]


def test_two_runs_combine_for_decoding(tmp_path):
    data = write_set(tmp_path / "data", 2)
    config = tiny_config(data, data)
    runs = {}
    for name, switch in (("ar", "train_nar"), ("nar", "train_ar")):
        part = {**config, switch: False}
        exp = tmp_path / f"exp_{name}"
        torch.manual_seed(0)
        save_generator_weights(exp / "5steps.pth", USLMTask.build_generator(part))
        save_config(part, exp / "config.yaml")
        USLMTask.save_text_files(part, exp)
        runs[name] = exp
    models = load_uslm([runs["ar"], runs["nar"]])
    assert models.ar is not None and models.nar is not None
    assert set(models.sources) == {"ar", "nar"}
    assert load_uslm(runs["ar"]).nar is None
    with pytest.raises(ValueError, match="both .* hold a AR model"):
        load_uslm([runs["ar"], runs["ar"]])
    # another token table cannot be combined
    SymbolTable.from_inventory(PHONES).save(runs["nar"] / TOKENS_FILE)
    with pytest.raises(ValueError, match="different token tables"):
        load_uslm([runs["ar"], runs["nar"]])


def test_paper_config_has_the_published_sizes():
    file_config = load_yaml(REPO_ROOT / "egs/TEMPLATE/conf/tuning/train_uslm_paper.yaml")
    config = resolve_config(file_config)[1]
    for part in ("ar_conf", "nar_conf"):
        assert {k: config[part][k] for k in ("d_model", "num_heads", "num_layers", "ffn_dim")} \
            == {"d_model": 1024, "num_heads": 16, "num_layers": 12, "ffn_dim": 4096}
    assert config["optim_conf"]["lr"] == 5e-4 and config["nar_conf"]["level_schedule"] == "uslm"
    mini = resolve_config(load_yaml(REPO_ROOT / "egs/mini_synth/conf/train_uslm.yaml"))[1]
    assert mini["n_q"] == config["n_q"] == 8 and mini["codebook_size"] == 1024
