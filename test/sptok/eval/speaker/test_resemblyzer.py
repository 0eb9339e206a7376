"""Resemblyzer GE2E embeddings: same voice closer than different voices; batching is exact."""
from __future__ import annotations

import time

import numpy as np
import pytest

from sptok.eval.speaker import cosine_similarity, speaker_choices

pytest.importorskip("resemblyzer")


def test_same_voice_is_more_similar_than_other_voices(resemblyzer_embedder, synth, load_wav):
    utts = [(f"{voice}_{sid}", load_wav(synth(voice, sid)), 16000)
            for voice, sid in [("slt", "s1"), ("slt", "s2"), ("awb", "s2"), ("rms", "s2")]]
    start = time.perf_counter()
    emb = resemblyzer_embedder.embed(utts)
    seconds = time.perf_counter() - start
    print(f"resemblyzer RTF {seconds / (sum(w.shape[0] for _, w, _ in utts) / 16000):.3f}")
    same = cosine_similarity(emb["slt_s1"], emb["slt_s2"])
    for other in ("awb_s2", "rms_s2"):
        different = cosine_similarity(emb["slt_s1"], emb[other])
        assert same > different + 0.15, (same, different)
    assert same > 0.8
    for e in emb.values():
        assert e.shape == (256,) and np.linalg.norm(e) == pytest.approx(1.0, abs=1e-5)


def test_batched_windows_match_upstream(resemblyzer_embedder, synth, load_wav):
    from resemblyzer import preprocess_wav

    wavs = {sid: load_wav(synth("awb", sid)) for sid in ("s1", "s3")}
    emb = resemblyzer_embedder.embed([(k, w, 16000) for k, w in wavs.items()])
    for key, wav in wavs.items():
        upstream = resemblyzer_embedder.encoder.embed_utterance(preprocess_wav(wav))
        np.testing.assert_allclose(emb[key], upstream, atol=1e-5)


def test_silence_and_tiny_inputs_do_not_fail(resemblyzer_embedder):
    emb = resemblyzer_embedder.embed([("zeros", np.zeros(8000, np.float32), 16000),
                                      ("short", np.full(50, 0.1, np.float32), 16000)])
    assert emb["zeros"].shape == emb["short"].shape == (256,)


def test_registry():
    assert speaker_choices.choices() == ["resemblyzer", "hf_xvector"]
    assert speaker_choices.default == "resemblyzer"
