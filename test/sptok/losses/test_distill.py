import math

import pytest
import torch
from torch.nn import functional as F

from sptok.losses.distill import (align_frames, codec_num_frames, d_axis_distill_loss,
                                  t_axis_distill_loss, teacher_num_frames)

MINIMUM = -math.log(torch.sigmoid(torch.tensor(1.0)).item())  # -log sigmoid(1) ~= 0.3133


def test_frame_counts():
    assert [teacher_num_frames(n) for n in [0, 399, 400, 719, 720, 16000, 48000]] == [0, 0, 1, 1, 2, 49, 149]
    assert [codec_num_frames(n) for n in [1, 320, 321, 16000, 48000]] == [1, 1, 2, 50, 150]
    n = torch.tensor([399, 16000])
    assert teacher_num_frames(n).tolist() == [0, 49] and codec_num_frames(n).tolist() == [2, 50]


def test_align_frames_trims_to_shorter():
    student, teacher = torch.randn(2, 50, 3), torch.randn(2, 49, 3)
    s, t, lengths = align_frames(student, teacher, torch.tensor([50, 30]), torch.tensor([49, 31]))
    assert s.shape == t.shape == (2, 49, 3)
    assert lengths.tolist() == [49, 30]
    assert align_frames(student, teacher)[2] is None
    with pytest.raises(ValueError, match="feature dimension"):
        align_frames(torch.randn(2, 5, 3), torch.randn(2, 5, 4))


@pytest.mark.parametrize("loss_fn", [d_axis_distill_loss, t_axis_distill_loss])
def test_identical_signals_give_the_minimum(loss_fn):
    torch.manual_seed(0)
    teacher = torch.randn(3, 20, 8)
    assert loss_fn(teacher.clone(), teacher).item() == pytest.approx(MINIMUM, abs=1e-5)
    other = loss_fn(torch.randn(3, 20, 8), teacher).item()
    assert other > MINIMUM + 0.05
    # A scaled copy keeps the cosine (the D-axis loss is scale-invariant per dimension).
    if loss_fn is d_axis_distill_loss:
        scaled = teacher * torch.rand(1, 1, 8) * 3 + 0.0
        assert loss_fn(scaled, teacher).item() == pytest.approx(MINIMUM, abs=1e-5)


def test_d_axis_matches_definition():
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 11, 4), torch.randn(2, 9, 4)
    # Upstream's formula on aligned tensors without padding.
    expected = -torch.log(torch.sigmoid(F.cosine_similarity(student[:, :9], teacher, dim=1))).mean()
    torch.testing.assert_close(d_axis_distill_loss(student, teacher), expected)


def test_t_axis_matches_definition():
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 9, 4), torch.randn(2, 10, 4)
    t = teacher[:, :9]
    expected = (F.l1_loss(student, t)
                + 0.5 * -torch.log(torch.sigmoid(F.cosine_similarity(student, t, dim=-1))).mean())
    torch.testing.assert_close(t_axis_distill_loss(student, teacher, lambda_sim=0.5), expected)


@pytest.mark.parametrize("loss_fn", [d_axis_distill_loss, t_axis_distill_loss])
def test_masking_ignores_padding(loss_fn):
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 12, 5), torch.randn(2, 12, 5)
    lengths = torch.tensor([12, 7])
    reference = loss_fn(student, teacher, lengths)
    student2, teacher2 = student.clone(), teacher.clone()
    student2[1, 7:] = 1e4
    teacher2[1, 7:] = float("nan")
    student2.requires_grad_(True)
    masked = loss_fn(student2, teacher2, lengths)
    torch.testing.assert_close(masked, reference)
    masked.backward()
    assert torch.isfinite(student2.grad).all() and student2.grad[1, 7:].abs().sum() == 0
    # Equal to the per-item losses combined (per utterance for D, per frame for T).
    first = loss_fn(student[:1], teacher[:1])
    second = loss_fn(student[1:, :7], teacher[1:, :7])
    if loss_fn is d_axis_distill_loss:
        expected = (first + second) / 2
    else:
        expected = (12 * first + 7 * second) / 19
    torch.testing.assert_close(reference, expected)


@pytest.mark.parametrize("loss_fn", [d_axis_distill_loss, t_axis_distill_loss])
def test_gradients_flow_and_empty_items(loss_fn):
    torch.manual_seed(0)
    student = torch.randn(3, 6, 4, requires_grad=True)
    teacher = torch.randn(3, 6, 4)
    lengths = torch.tensor([6, 0, 3])  # an utterance too short for any teacher frame
    loss = loss_fn(student, teacher, lengths)
    loss.backward()
    assert torch.isfinite(loss)
    assert student.grad[0].abs().sum() > 0 and student.grad[2, :3].abs().sum() > 0
    assert student.grad[1].abs().sum() == 0 and student.grad[2, 3:].abs().sum() == 0
    torch.testing.assert_close(loss.detach(), loss_fn(student[[0, 2]], teacher[[0, 2]], lengths[[0, 2]]).detach())
    nothing = loss_fn(student, teacher, torch.zeros(3, dtype=torch.long))
    assert nothing.item() == 0 and nothing.requires_grad
