"""HuBERT k-means units (fit, assign, write, CLI) and the unit vocoder built from them (codec
task with the teacher-unit encoder and the unit quantizer)."""
from pathlib import Path

import numpy as np
import pytest
import torch

from sptok.bin import dump_teacher_feats
from sptok.data.ark import CodesReader, FeatsWriter
from sptok.slmtokbench.preservation import EvalSet, load_codec
from sptok.slmtokbench.units import (assign_units, fit_units, load_kmeans, main, save_kmeans,
                                     unit_histogram, write_units)
from sptok.tasks.codec import CodecTask


def write_blob_feats(path: Path, seed: int = 0):
    """feats scp of 5 utterances whose frames come from 3 well separated blobs; returns the
    scp and the blob of every frame per key."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 6)) * 10
    blobs = {}
    with FeatsWriter(path.with_suffix(".ark"), path) as writer:
        for u in range(5):
            which = rng.integers(0, 3, size=20)
            writer[f"utt{u}"] = centres[which] + 0.1 * rng.normal(size=(20, 6))
            blobs[f"utt{u}"] = which
    return path, blobs


def test_kmeans_units_are_ids_in_range_that_follow_the_clusters(tmp_path):
    scp, blobs = write_blob_feats(tmp_path / "feats.scp")
    kmeans = fit_units(scp, num_units=3, num_iters=10, progress=False)
    units_scp = write_units(scp, kmeans, tmp_path / "test" / "units", progress=False)
    with CodesReader(units_scp) as reader:
        assert sorted(reader) == sorted(blobs)
        for key, which in blobs.items():
            ids = reader[key]
            assert ids.shape == (20, 1) and ids.min() >= 0 and ids.max() < 3
            # one unit per blob: the frames of a blob share their id
            for blob in range(3):
                assert len(set(ids[which == blob, 0].tolist())) <= 1
    assert unit_histogram(units_scp, 3).sum() == 100
    path = save_kmeans(tmp_path / "kmeans.pt", kmeans, {"layer": 9})
    again, meta = load_kmeans(path)
    assert meta == {"layer": 9}
    feats = np.random.default_rng(1).normal(size=(7, 6)).astype(np.float32)
    np.testing.assert_array_equal(assign_units(again, feats), assign_units(kmeans, feats))
    with pytest.raises(ValueError, match=r"\[T, 6\]"):
        assign_units(kmeans, feats[:, :4])
    torch.save({"centroids": torch.zeros(2, 2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a k-means units model"):
        load_kmeans(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="too few"):
        fit_units(scp, num_units=500, progress=False)


def test_units_command_line(tmp_path):
    scp, _ = write_blob_feats(tmp_path / "feats.scp")
    assert main(["--train_feats", str(scp), "--num_units", "3", "--out_dir",
                 str(tmp_path / "units"), "--set", "test", str(scp), "--layer", "9"]) == 0
    assert load_kmeans(tmp_path / "units" / "kmeans.pt")[1]["layer"] == "9"
    assert (tmp_path / "units" / "test" / "units.scp").is_file()
    assert main(["--train_feats", str(tmp_path / "missing.scp"), "--out_dir",
                 str(tmp_path / "x")]) == 1


def test_unit_vocoder_reads_the_units_of_dumped_features(tmp_path, bench_kit):
    teacher = bench_kit.tiny_teacher(tmp_path / "teacher.pt")
    bench_kit.write_data_dir(tmp_path / "data", {"a": 2, "b": 1})
    data = EvalSet.from_data_dir(tmp_path / "data")
    dump_teacher_feats.dump(dump_teacher_feats.get_parser().parse_args([
        "--teacher", str(teacher), "--layer", "1", "--wav_scp", str(data.wav_scp),
        "--out_prefix", str(tmp_path / "feats")]))
    kmeans = fit_units(tmp_path / "feats.scp", num_units=5, progress=False)
    save_kmeans(tmp_path / "kmeans.pt", kmeans, {"layer": 1})
    offline = write_units(tmp_path / "feats.scp", kmeans, tmp_path / "units", progress=False)

    config = bench_kit.unit_vocoder_config(teacher, tmp_path / "kmeans.pt")
    torch.manual_seed(0)
    generator = CodecTask.build_generator(config, semantic_dim=0).eval()
    assert generator.n_q == 1 and generator.codebook_size == 5 and generator.hop_length == 320
    assert not any(k.startswith("encoder") for k in generator.state_dict())  # teacher not saved
    wavs = [torch.from_numpy(data.load(k, 16000)) for k in data.keys]
    lengths = torch.tensor([len(w) for w in wavs])
    batch = torch.zeros(len(wavs), 1, int(lengths.max()))
    for i, wav in enumerate(wavs):
        batch[i, 0, :len(wav)] = wav
    codes, frame_lengths = generator.encode(batch, lengths)
    assert frame_lengths.tolist() == [-(-int(n) // 320) for n in lengths]
    with CodesReader(offline) as reader:
        for i, key in enumerate(data.keys):
            alone, _ = generator.encode(wavs[i][None, None])
            n = int(frame_lengths[i])
            torch.testing.assert_close(codes[i, :, :n], alone[0])  # batching changes nothing
            dumped = torch.from_numpy(reader[key][:, 0])
            # the vocoder's units are the units of the dumped features, plus repeated last frames
            torch.testing.assert_close(alone[0, 0, :len(dumped)], dumped)
            assert n - len(dumped) in (0, 1, 2)
    wav, sample_lengths = generator.decode(codes, frame_lengths)
    assert wav.shape == (3, 1, codes.shape[-1] * 320)

    # trainable: the embedding and the decoder learn, the teacher stays frozen
    model = CodecTask.build_model(config).train()
    out = model.forward_generator(model.generator, {"wav": batch, "lengths": lengths})
    loss, stats = model.generator_loss(None, {"wav": batch, "lengths": lengths}, out)
    loss.backward()
    assert model.generator.quantizer.embedding.weight.grad.abs().sum() > 0
    assert "perplexity_q1" in stats
    assert all(p.grad is None for p in model.generator.encoder.teacher.parameters())

    # a saved experiment loads through the public inference API and decodes units
    exp = bench_kit.unit_vocoder_exp(tmp_path / "vocoder", teacher, tmp_path / "kmeans.pt")
    vocoder = load_codec(exp)
    with CodesReader(offline) as reader:
        units = torch.from_numpy(reader[data.keys[0]].T)  # [1, T]
    audio, _ = vocoder.decode(units)
    assert audio.shape == (1, 1, units.shape[1] * 320)
    with pytest.raises(ValueError, match="one level"):
        generator.quantizer.decode(torch.zeros(1, 1, 4, dtype=torch.long), start_level=1)


def test_unit_vocoder_trains_with_the_codec_task(tmp_path, bench_kit):
    """The generic trainer runs the variant as any codec (discriminator, validation, n-best
    weights), and the experiment loads back for decoding."""
    from sptok.tasks import resolve_config
    from sptok.utils.config import save_config

    teacher = bench_kit.tiny_teacher(tmp_path / "teacher.pt")
    data = bench_kit.write_data_dir(tmp_path / "data", {"a": 2, "b": 2})
    dump_teacher_feats.dump(dump_teacher_feats.get_parser().parse_args([
        "--teacher", str(teacher), "--layer", "1", "--wav_scp", str(data / "wav.scp"),
        "--out_prefix", str(tmp_path / "feats")]))
    save_kmeans(tmp_path / "kmeans.pt", fit_units(tmp_path / "feats.scp", 5, progress=False))
    file_config = dict(bench_kit.unit_vocoder_config(teacher, tmp_path / "kmeans.pt"))
    file_config.update(
        train_data_dir=str(data), valid_data_dir=str(data), segment_seconds=0.25, batch_size=2,
        valid_batch_size=2, num_workers=0, max_steps=2, valid_interval=2, save_interval=2,
        log_interval=1, progress_bar=False,
        discriminators={"msstft": {"filters": 2, "max_filters": 4}})
    task, config = resolve_config(file_config)
    task.train(config, tmp_path / "exp")
    assert "mel_distance" in (tmp_path / "exp" / "train.log").read_text()
    save_config(config, tmp_path / "exp" / "config.yaml")
    vocoder = load_codec(tmp_path / "exp")
    assert vocoder.n_q == 1 and vocoder.codebook_size == 5
    audio, _ = vocoder.decode(torch.tensor([[[0, 1, 4, 2]]]))
    assert audio.shape == (1, 1, 4 * 320) and torch.isfinite(audio).all()
