"""MFCC targets aligned with the conv frames; torch k-means."""
from __future__ import annotations

import pytest
import torch

from sptok.teachers.mfcc_kmeans import KMeans, mfcc_frames


@pytest.mark.parametrize("n_samples", [400, 719, 720, 16000, 12345])
def test_mfcc_frames_match_teacher_frames(n_samples):
    feats = mfcc_frames(0.1 * torch.randn(n_samples))
    assert feats.shape == ((n_samples - 400) // 320 + 1, 39)
    assert torch.isfinite(feats).all()


def test_mfcc_frame_t_sees_samples_320t_to_320t_plus_400():
    torch.manual_seed(0)
    wav = 0.1 * torch.randn(16000)
    changed = wav.clone()
    changed[3200 + 400:] = 0.0  # frames 0..10 cover samples < 3600 only
    a, b = mfcc_frames(wav)[:, :13], mfcc_frames(changed)[:, :13]
    torch.testing.assert_close(a[:11], b[:11])
    assert not torch.allclose(a[11], b[11])


def test_kmeans_finds_separated_clusters_and_round_trips():
    torch.manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = torch.randint(0, 3, (3000,))
    x = centers[truth] + 0.3 * torch.randn(3000, 2)
    km = KMeans.fit(x, 3, num_iters=10, seed=1)
    pred = km.predict(x)
    # Same partition up to relabelling.
    mapping = {int(t): int(pred[truth == t].mode().values) for t in range(3)}
    assert len(set(mapping.values())) == 3
    assert (pred == torch.tensor([mapping[int(t)] for t in truth])).float().mean() > 0.99
    again = KMeans.from_state_dict(km.state_dict())
    assert torch.equal(again.predict(x), pred)
    with pytest.raises(ValueError, match="at least 5 frames"):
        KMeans.fit(x[:4], 5)
