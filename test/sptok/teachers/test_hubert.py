"""HubertTeacher: layer selection, frame counts, padded batches."""
from __future__ import annotations

import pytest
import torch

from sptok.teachers import HubertTeacher, parse_layer


@pytest.mark.parametrize("n_samples", [400, 719, 720, 8000, 16000, 16399, 16400])
def test_frame_count_formula(make_tiny_model, n_samples):
    teacher = HubertTeacher(make_tiny_model())
    expected = (n_samples - 400) // 320 + 1
    assert teacher.num_frames(n_samples) == expected
    assert int(teacher.num_frames(torch.tensor([n_samples]))[0]) == expected
    with torch.no_grad():
        feats, lengths = teacher(torch.randn(1, n_samples))
    assert feats.shape == (1, expected, 32)
    assert lengths.tolist() == [expected]
    assert (teacher.receptive_field, teacher.hop_length, teacher.frame_rate) == (400, 320, 50.0)


def test_layer_selection_and_avg(make_tiny_model, wav):
    model = make_tiny_model()
    with torch.no_grad():
        states, _ = HubertTeacher(model).hidden_states(wav)
        assert len(states) == 3
        for layer in range(3):
            feats, _ = HubertTeacher(model, layer=layer)(wav)
            torch.testing.assert_close(feats, states[layer], atol=0, rtol=0)
        avg, _ = HubertTeacher(model, layer="avg")(wav)
    torch.testing.assert_close(avg, torch.stack(states).mean(0))
    # Layer 0 is the transformer input, not a layer output; the last equals torchaudio's output.
    with torch.no_grad():
        final, _ = model(wav)
    torch.testing.assert_close(states[-1], final)
    assert not torch.allclose(states[0], states[1])


def test_layer_errors(make_tiny_model):
    model = make_tiny_model()
    with pytest.raises(ValueError, match=r"layer 3 out of range: the model has 2 transformer layers"):
        HubertTeacher(model, layer=3)
    for bad in ["last", "-1", -1, 1.5]:
        with pytest.raises(ValueError, match="layer must be"):
            parse_layer(bad)
    assert parse_layer("9") == 9 and parse_layer("avg") == "avg"
    with pytest.raises(ValueError, match="at least 400"):
        HubertTeacher(model)(torch.randn(1, 399))


@pytest.mark.parametrize("variant", [{"extractor_mode": "group_norm"},
                                     {"extractor_mode": "layer_norm", "layer_norm_first": True}])
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("layer", ["avg", 0, 2])
def test_padded_batch_equals_single_items(make_tiny_model, variant, normalize, layer):
    teacher = HubertTeacher(make_tiny_model(**variant), layer=layer, normalize_waveform=normalize)
    torch.manual_seed(3)
    lengths = torch.tensor([8000, 3210, 5555])
    items = [0.1 * torch.randn(int(n)) + 0.05 for n in lengths]
    batch = torch.full((3, 8000), 0.7)  # padding that is not even zero
    for i, item in enumerate(items):
        batch[i, :len(item)] = item
    with torch.no_grad():
        feats, feat_lengths = teacher(batch, lengths)
        assert feat_lengths.tolist() == [(int(n) - 400) // 320 + 1 for n in lengths]
        for i, item in enumerate(items):
            single, _ = teacher(item[None])
            frames = int(feat_lengths[i])
            assert single.shape[1] == frames
            torch.testing.assert_close(feats[i, :frames], single[0], atol=1e-4, rtol=0)
            assert feats[i, frames:].abs().max().item() == 0 if frames < feats.shape[1] else True


def test_group_norm_padding_matters_without_lengths(make_tiny_model):
    """Guard for the test above: without lengths, padding does change the group-norm model."""
    teacher = HubertTeacher(make_tiny_model(), layer=1)
    item = 0.1 * torch.randn(3210)
    padded = torch.cat([item, torch.zeros(4000)])[None]
    with torch.no_grad():
        unmasked, _ = teacher(padded)
        masked, _ = teacher(padded, torch.tensor([3210]))
        single, _ = teacher(item[None])
    frames = single.shape[1]
    assert (unmasked[0, :frames] - single[0]).abs().max() > 1e-2 * single.abs().max()
    torch.testing.assert_close(masked[0, :frames], single[0], atol=1e-4, rtol=0)


def test_teacher_stays_in_eval_and_frozen(make_tiny_model, wav):
    teacher = HubertTeacher(make_tiny_model(), layer=1)
    teacher.train()
    assert not teacher.model.training
    assert not any(p.requires_grad for p in teacher.parameters())
    with torch.no_grad():
        a, _ = teacher(wav)
        b, _ = teacher(wav)
    torch.testing.assert_close(a, b, atol=0, rtol=0)  # no dropout
