"""Disentanglement: level swapping for voice conversion, conversion runs on a tiny codec, and
the projection plot of level embeddings by speaker."""
import numpy as np
import pytest
import torch

from sptok.data.kaldi_dir import read_kv_file
from sptok.slmtokbench.disentangle import (SOURCE_SIM, VCPair, fit_frames, make_pairs,
                                           project_2d, run_projection, run_voice_conversion,
                                           speaker_nn_accuracy, swap_levels)
from sptok.slmtokbench.preservation import EvalSet, ScorerSet, encode_batch, load_codec
from sptok.slmtokbench.token_sources import load_codebooks


def test_swap_keeps_source_level_one_and_takes_reference_levels():
    source = np.arange(24).reshape(3, 8)          # [n_q, T_s]
    reference = 100 + np.arange(15).reshape(3, 5)  # [n_q, T_r], shorter
    for k in (2, 3):
        swapped = swap_levels(source, reference, k, "tile")
        assert swapped.shape == (k, 8)
        np.testing.assert_array_equal(swapped[0], source[0])
        for level in range(1, k):
            # reference frames repeated cyclically: 0 1 2 3 4 0 1 2
            np.testing.assert_array_equal(swapped[level], reference[level, [0, 1, 2, 3, 4, 0, 1,
                                                                             2]])
        assert not np.isin(swapped[1:], source).any()
    np.testing.assert_array_equal(swap_levels(source, reference, 1), source[:1])
    longer = 100 + np.arange(30).reshape(3, 10)
    np.testing.assert_array_equal(swap_levels(source, longer, 3, "crop")[1:], longer[1:, :8])
    with pytest.raises(ValueError, match="crop: the reference has 5 frames"):
        swap_levels(source, reference, 2, "crop")
    with pytest.raises(ValueError, match="k=4 needs 4 reference levels"):
        swap_levels(source, reference, 4)
    with pytest.raises(ValueError, match="policy"):
        fit_frames(reference, 4, "stretch")


def test_pairs_join_different_speakers():
    keys = [f"{s}_{i}" for s in "abc" for i in range(3)]
    utt2spk = {k: k[0] for k in keys}
    pairs = make_pairs(keys, utt2spk, 5, seed=1)
    assert len(pairs) == 5 and pairs == make_pairs(keys, utt2spk, 5, seed=1)
    assert len({p.source for p in pairs}) == 5
    assert all(utt2spk[p.source] != utt2spk[p.reference] for p in pairs)
    lengths = {k: i for i, k in enumerate(keys)}
    for pair in make_pairs(keys, utt2spk, None, seed=0, lengths=lengths):
        assert lengths[pair.reference] >= lengths[pair.source]
    with pytest.raises(ValueError, match="at least 2 speakers"):
        make_pairs(keys[:3], utt2spk, 2)


def test_voice_conversion_runs_and_scores_each_condition(tmp_path, bench_kit):
    bench_kit.write_data_dir(tmp_path / "test", {"spkA": 2, "spkB": 2})
    data = EvalSet.from_data_dir(tmp_path / "test")
    tokenizer = load_codec(bench_kit.tiny_codec_exp(tmp_path / "codec"))
    scorers = ScorerSet(**bench_kit.fake_scorers_conf())
    pairs = make_pairs(data.keys, data.utt2spk, 3)
    results = run_voice_conversion(tokenizer, data, pairs, [1, 2, 3], scorers,
                                   tmp_path / "vc", progress=False)
    assert sorted(results) == [1, 2, 3]
    for k, summary in results.items():
        assert set(summary["metrics"]) == {"wer", "spk_sim", SOURCE_SIM}
        assert summary["k"] == k and summary["n_utt"] == 3
        assert sorted(read_kv_file(tmp_path / "vc" / f"k{k}" / "wav.scp")) == sorted(
            p.key for p in pairs)
    assert read_kv_file(tmp_path / "vc" / "pairs")[pairs[0].key] == (
        f"{pairs[0].source} {pairs[0].reference}")
    # the converted audio is the decoding of the swapped codes, at the source's length
    import soundfile as sf

    pair = pairs[0]
    wavs = [data.load(pair.source, 16000), data.load(pair.reference, 16000)]
    source_codes, reference_codes = encode_batch(tokenizer, wavs)
    expected, _ = tokenizer.decode(torch.from_numpy(swap_levels(source_codes, reference_codes,
                                                                3))[None])
    converted, _ = sf.read(read_kv_file(tmp_path / "vc" / "k3" / "wav.scp")[pair.key],
                           dtype="float32")
    assert converted.shape == wavs[0].shape
    np.testing.assert_allclose(converted, expected[0, 0, :len(converted)].numpy(), atol=2e-4)
    with pytest.raises(ValueError, match="the codec has 3 levels"):
        run_voice_conversion(tokenizer, data, pairs, [4], scorers, tmp_path / "bad")
    assert VCPair("a", "b").key == "a-vc-b"


def test_projection_is_deterministic_and_measures_speaker_clusters():
    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 16, generator=gen) * 5
    x = torch.cat([c + 0.1 * torch.randn(4, 16, generator=gen) for c in centres])
    labels = [s for s in "abc" for _ in range(4)]
    points = project_2d(x)
    assert points.shape == (12, 2)
    torch.testing.assert_close(points, project_2d(x))
    assert speaker_nn_accuracy(x, labels) == 1.0
    shuffled = [labels[i] for i in (0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11)]
    assert speaker_nn_accuracy(x, shuffled) < 0.5
    with pytest.raises(ValueError, match="method"):
        project_2d(x, "umap")
    pytest.importorskip("sklearn")
    assert project_2d(x, "tsne").shape == (12, 2)


def test_projection_plot_is_written(tmp_path, bench_kit):
    bench_kit.write_data_dir(tmp_path / "test", {"spkA": 3, "spkB": 3, "spkC": 2})
    data = EvalSet.from_data_dir(tmp_path / "test")
    tokenizer = load_codec(bench_kit.tiny_codec_exp(tmp_path / "codec"))
    wavs = [data.load(k, 16000) for k in data.keys]
    codes = {k: c.T for k, c in zip(data.keys, encode_batch(tokenizer, wavs))}
    summary = run_projection(codes, load_codebooks(tokenizer.model), data, tmp_path / "proj",
                             groups=["1", "2:8"], per_speaker=2, title="tiny")
    assert set(summary["speaker_nn_accuracy"]) == {"RVQ-1", "RVQ-2:3"}
    assert all(0 <= v <= 1 for v in summary["speaker_nn_accuracy"].values())
    assert summary["n_utts"] == 6 and summary["n_speakers"] == 3
    import matplotlib.image

    image = matplotlib.image.imread(tmp_path / "proj" / "projection.png")
    assert image.shape[0] > 100 and image.shape[1] > 2 * image.shape[0] * 0.9  # two panels
    assert (tmp_path / "proj" / "summary.yaml").is_file()
