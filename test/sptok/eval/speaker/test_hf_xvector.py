"""A local transformers x-vector model (a tiny random WavLM stands in for wavlm-base-plus-sv)."""
from __future__ import annotations

import numpy as np
import pytest

from sptok.eval.speaker import HFXVectorEmbedder, cosine_similarity, speaker_choices

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import torch

    config = transformers.WavLMConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4), feat_extract_norm="layer",
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, tdnn_dim=(16, 16),
        tdnn_kernel=(3, 1), tdnn_dilation=(1, 1), xvector_output_dim=8, num_buckets=32,
        max_bucket_distance=100)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("wavlm_sv")
    transformers.WavLMForXVector(config).save_pretrained(str(path))
    return path


def test_embeddings_batched_like_one_by_one(model_dir):
    embedder = speaker_choices.build("hf_xvector", {"model_dir": str(model_dir),
                                                    "batch_size": 3}, device="cpu")
    rng = np.random.default_rng(0)
    utts = [(f"u{i}", 0.1 * rng.standard_normal(3000 + 1700 * i).astype(np.float32), 16000)
            for i in range(5)]
    batched = embedder.embed(utts)
    for utt in utts:
        single = embedder.embed([utt])[utt[0]]
        assert single.shape == (8,) and np.linalg.norm(single) == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(batched[utt[0]], single, atol=1e-4)
    assert cosine_similarity(batched["u1"], batched["u1"]) == pytest.approx(1.0)


def test_missing_model_dir(tmp_path):
    with pytest.raises(ValueError, match="has no config.json"):
        HFXVectorEmbedder(str(tmp_path))
