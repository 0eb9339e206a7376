"""Checkpoint formats: every round trip reproduces the source model's hidden states."""
from __future__ import annotations

import argparse
import json

import pytest
import torch

from sptok.teachers import HubertTeacher, detect_format, load_wav2vec2, save_wav2vec2
from sptok.teachers import fairseq_format, hf_format
from sptok.teachers.wav2vec2_params import STANDARD_CONV_LAYERS

VARIANTS = [
    {"extractor_mode": "group_norm", "layer_norm_first": False},  # HuBERT / wav2vec2 base
    {"extractor_mode": "layer_norm", "layer_norm_first": True, "conv_bias": True},  # large
]


def all_states(model, wav):
    with torch.no_grad():
        states, _ = HubertTeacher(model).hidden_states(wav)
    return states


def assert_same_states(model_a, model_b, wav, atol=0.0):
    states_a, states_b = all_states(model_a, wav), all_states(model_b, wav)
    assert len(states_a) == len(states_b) == 3
    for a, b in zip(states_a, states_b):
        torch.testing.assert_close(a, b, atol=atol, rtol=0)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("fmt", ["torchaudio", "fairseq", "hf"])
def test_round_trip_reproduces_features(tmp_path, wav, make_tiny_model, make_tiny_params, variant, fmt):
    model = make_tiny_model(**variant)
    params = make_tiny_params(**variant)
    path = tmp_path / ("ckpt" if fmt == "hf" else "ckpt.pt")
    save_wav2vec2(model, params, path, fmt=fmt, normalize_waveform=True)
    assert detect_format(path) == fmt
    loaded = load_wav2vec2(path)
    assert loaded.format == fmt
    assert loaded.normalize_waveform is True
    assert loaded.params["extractor_conv_layer_config"] == params["extractor_conv_layer_config"]
    assert_same_states(model, loaded.model, wav)


def test_fairseq_layouts(tmp_path, wav, make_tiny_model, make_tiny_params):
    """Pre-hydra 'args' checkpoints, fine-tuned 'w2v_encoder.w2v_model.' prefixes and pre-training
    heads (dropped) all load."""
    model, params = make_tiny_model(), make_tiny_params()
    heads = {"mask_emb": torch.zeros(32), "label_embs_concat": torch.zeros(5, 4),
             "final_proj.weight": torch.zeros(4, 32), "final_proj.bias": torch.zeros(4)}
    path = tmp_path / "args.pt"
    fairseq_format.write_fairseq_checkpoint(path, params, model.state_dict(), use_args=True,
                                            extra_model_keys=heads)
    ckpt = torch.load(path, weights_only=False)
    assert isinstance(ckpt["args"], argparse.Namespace)
    assert "feature_extractor.conv_layers.0.2.weight" in ckpt["model"]  # fairseq's group norm name
    assert "encoder.pos_conv.0.weight_g" in ckpt["model"]
    assert_same_states(model, load_wav2vec2(path).model, wav)

    nested = {"cfg": {"model": {"_name": "hubert_ctc",
                                "w2v_args": fairseq_format.params_to_fairseq_cfg(params)}},
              "model": {f"w2v_encoder.w2v_model.{k}": v for k, v in ckpt["model"].items()}}
    nested["model"]["w2v_encoder.proj.weight"] = torch.zeros(3, 32)
    path2 = tmp_path / "ctc.pt"
    torch.save(nested, path2)
    assert_same_states(model, load_wav2vec2(path2).model, wav)


def test_fairseq_conv_feature_layers_parser():
    spec = "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"
    assert fairseq_format.parse_conv_feature_layers(spec, "x") == STANDARD_CONV_LAYERS
    with pytest.raises(ValueError, match="cannot parse"):
        fairseq_format.parse_conv_feature_layers("__import__('os').system('true')", "x")


def test_hf_reads_parametrized_weight_norm_and_bin(tmp_path, wav, make_tiny_model, make_tiny_params):
    """Newer HF saves store the positional conv as parametrizations.weight.original0/1, and
    pytorch_model.bin instead of safetensors."""
    model, params = make_tiny_model(), make_tiny_params()
    hf_format.write_hf_dir(tmp_path, params, model.state_dict(), weights_format="bin")
    assert (tmp_path / hf_format.BIN_NAME).is_file()
    assert not (tmp_path / hf_format.SAFETENSORS_NAME).exists()
    state = torch.load(tmp_path / hf_format.BIN_NAME, weights_only=True)
    state = {("hubert." + k).replace("conv.weight_g", "conv.parametrizations.weight.original0")
             .replace("conv.weight_v", "conv.parametrizations.weight.original1"): v for k, v in state.items()}
    torch.save(state, tmp_path / hf_format.BIN_NAME)
    assert_same_states(model, load_wav2vec2(tmp_path).model, wav)
    # The path of config.json works as well as the directory.
    assert_same_states(model, load_wav2vec2(tmp_path / "config.json").model, wav)


def test_unknown_format_errors_name_the_path(tmp_path):
    bogus = tmp_path / "bogus.pt"
    torch.save({"weights": torch.zeros(2), "epoch": 3}, bogus)
    with pytest.raises(ValueError, match=r"bogus\.pt: unrecognised checkpoint format: top-level keys \['epoch', 'weights'\]"):
        load_wav2vec2(bogus)
    with pytest.raises(ValueError, match="checkpoint not found"):
        load_wav2vec2(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match=r"config\.json missing"):
        load_wav2vec2(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt: not a readable torch checkpoint"):
        load_wav2vec2(text)
    with pytest.raises(ValueError, match="unknown checkpoint format"):
        load_wav2vec2(bogus, fmt="onnx")


def test_hf_errors(tmp_path, make_tiny_model, make_tiny_params):
    model, params = make_tiny_model(), make_tiny_params()
    hf_format.write_hf_dir(tmp_path, params, model.state_dict())
    cfg = json.loads((tmp_path / "config.json").read_text())

    (tmp_path / "config.json").write_text(json.dumps({**cfg, "model_type": "wavlm"}))
    with pytest.raises(ValueError, match=r"config\.json: model_type 'wavlm' is not supported"):
        load_wav2vec2(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "feat_proj_layer_norm": False}))
    with pytest.raises(ValueError, match="unsupported options: feat_proj_layer_norm=false"):
        load_wav2vec2(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "num_hidden_layers": 3}))
    with pytest.raises(ValueError, match="weights do not fit the configured architecture"):
        load_wav2vec2(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    for name in (hf_format.SAFETENSORS_NAME, hf_format.BIN_NAME):  # bin where safetensors is missing
        (tmp_path / name).unlink(missing_ok=True)
    with pytest.raises(ValueError, match="no weights found"):
        load_wav2vec2(tmp_path)


def test_unrecognised_weight_names_are_listed():
    with pytest.raises(ValueError, match="unrecognised HF weight names: \\['encoder.adapter.x'\\]"):
        hf_format.hf_to_torchaudio_state_dict({"encoder.adapter.x": torch.zeros(1)})
    with pytest.raises(ValueError, match="unrecognised fairseq weight names: \\['decoder.w'\\]"):
        fairseq_format.fairseq_to_torchaudio_state_dict({"decoder.w": torch.zeros(1)})
