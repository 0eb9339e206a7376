"""Cross-check against Hugging Face ``transformers`` itself (skipped where it is not installed)."""
from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

from sptok.teachers import HubertTeacher, load_wav2vec2, save_wav2vec2  # noqa: E402

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            conv_dim=[8] * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)


def hf_states(model, wav):
    with torch.no_grad():
        out = model(wav, output_hidden_states=True)
    return out.hidden_states, out.last_hidden_state


def test_hf_hubert_save_pretrained_loads_identically(tmp_path, wav):
    torch.manual_seed(0)
    hf = transformers.HubertModel(transformers.HubertConfig(**TINY)).eval()
    hf.save_pretrained(tmp_path)
    teacher = HubertTeacher.from_pretrained(tmp_path, layer="avg")
    assert teacher.source.format == "hf"
    hidden, _ = hf_states(hf, wav)
    with torch.no_grad():
        ours, lengths = teacher.hidden_states(wav)
        avg, _ = teacher(wav)
    assert len(ours) == len(hidden) == 3
    for a, b in zip(hidden, ours):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    torch.testing.assert_close(avg, torch.stack(hidden).mean(0), atol=1e-6, rtol=0)
    assert lengths.tolist() == [hidden[0].shape[1]] * 2 == [(8000 - 400) // 320 + 1] * 2


def test_hf_stable_layer_norm_wav2vec2(tmp_path, wav):
    """Pre-LN ("stable layer norm") models: our last state carries the final layer norm, as HF's
    last_hidden_state (and transformers 4.x's hidden_states[-1]); transformers 5 returns the state
    before that norm in hidden_states[-1], so only the earlier states are compared there."""
    torch.manual_seed(0)
    config = transformers.Wav2Vec2Config(**TINY, feat_extract_norm="layer", do_stable_layer_norm=True,
                                         conv_bias=True)
    hf = transformers.Wav2Vec2Model(config).eval()
    hf.save_pretrained(tmp_path)
    teacher = HubertTeacher.from_pretrained(tmp_path)
    hidden, last = hf_states(hf, wav)
    with torch.no_grad():
        ours, _ = teacher.hidden_states(wav)
    for a, b in zip(hidden[:-1], ours[:-1]):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    torch.testing.assert_close(last, ours[-1], atol=1e-6, rtol=0)


def test_our_hf_export_loads_in_transformers(tmp_path, wav, make_tiny_model, make_tiny_params):
    model, params = make_tiny_model(), make_tiny_params()
    save_wav2vec2(model, params, tmp_path, fmt="hf")
    hf = transformers.HubertModel.from_pretrained(tmp_path).eval()
    hidden, _ = hf_states(hf, wav)
    with torch.no_grad():
        ours, _ = HubertTeacher(load_wav2vec2(tmp_path).model).hidden_states(wav)
    for a, b in zip(hidden, ours):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
