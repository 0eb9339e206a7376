"""CodecDataset: crops aligned with the teacher frames, padding, deterministic validation."""
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sptok.data.ark import FeatsWriter
from sptok.data.codec_dataset import CodecDataset, collate_codec_batch
from sptok.data.errors import DataError

HOP = 320
SCALE = 2.0 ** -20  # sample k of an utterance holds k * SCALE (exact in float32)
TEACHER_DIM = 3
UTTS = {"u1": 16000, "u2": 4000, "u3": 9999}


def hubert_frames(n: int) -> int:
    return (n - 400) // 320 + 1


def write_corpus(root: Path, utts=UTTS, teacher=True, frames_fn=hubert_frames) -> dict:
    """Ramp audio (sample value = index * SCALE) and teacher features whose frame j is [j, key
    number, 0], in a data dir; returns the paths."""
    data = root / "data"
    (root / "wav").mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    wav_lines, num_lines = [], []
    for key, n in utts.items():
        path = root / "wav" / f"{key}.wav"
        sf.write(str(path), (np.arange(n) * SCALE).astype(np.float32), 16000, subtype="FLOAT")
        wav_lines.append(f"{key} {path}\n")
        num_lines.append(f"{key} {n}\n")
    (data / "wav.scp").write_text("".join(wav_lines))
    (data / "utt2num_samples").write_text("".join(num_lines))
    paths = {"data": data}
    if teacher:
        with FeatsWriter(root / "feats.ark", root / "feats.scp") as writer:
            for number, (key, n) in enumerate(utts.items()):
                frames = frames_fn(n)
                feats = np.zeros((frames, TEACHER_DIM), dtype=np.float32)
                feats[:, 0] = np.arange(frames)
                feats[:, 1] = number
                writer[key] = feats
        paths["feats"] = root / "feats.scp"
    return paths


def crop_start_of(item) -> int:
    return int(round(float(item["wav"][0]) / SCALE))


def test_training_crops_start_on_frames_and_carry_their_teacher_frames(tmp_path):
    paths = write_corpus(tmp_path)
    dataset = CodecDataset(paths["data"], segment_seconds=0.2, teacher_feats=paths["feats"],
                           teacher_dim=TEACHER_DIM)
    assert dataset.segment_samples == 3200 and len(dataset) == 3
    torch.manual_seed(0)
    starts = set()
    for _ in range(30):
        item = dataset[0]  # u1: 16000 samples
        start = crop_start_of(item)
        assert item["start"] == start and start % HOP == 0
        assert 0 <= start <= 16000 - 3200
        wav = item["wav"].numpy()
        np.testing.assert_array_equal(wav, (np.arange(start, start + 3200) * SCALE).astype(np.float32))
        feats = item["teacher_feats"]
        assert feats.shape == (10, TEACHER_DIM)  # ceil(3200 / 320) codec frames
        # teacher frame of crop start s is s // 320, then consecutive frames
        assert feats[0, 0] == start // HOP
        valid = item["teacher_lengths"]
        np.testing.assert_array_equal(feats[:valid, 0].numpy(), np.arange(start // HOP, start // HOP + valid))
        assert torch.all(feats[valid:] == 0)
        starts.add(start)
    assert len(starts) > 5  # random


def test_teacher_frames_run_out_at_the_end_of_the_utterance(tmp_path):
    paths = write_corpus(tmp_path)
    dataset = CodecDataset(paths["data"], segment_seconds=0.2, teacher_feats=paths["feats"])
    dataset.random_crop = False
    item = dataset[0]
    # u1 has 49 HuBERT frames; a crop at the last position (start 12800) has codec frames 40..49
    dataset.crop_start = lambda n: 12800
    item = dataset[0]
    assert item["teacher_lengths"] == 9 and item["teacher_feats"][8, 0] == 48
    assert torch.all(item["teacher_feats"][9] == 0)


def test_short_utterances_come_whole_and_are_padded_in_the_batch(tmp_path):
    paths = write_corpus(tmp_path)
    dataset = CodecDataset(paths["data"], segment_seconds=0.5, teacher_feats=paths["feats"])
    items = [dataset[i] for i in range(3)]
    assert [item["wav"].shape[0] for item in items] == [8000, 4000, 8000]
    assert items[1]["start"] == 0 and items[1]["teacher_lengths"] == hubert_frames(4000)
    batch = collate_codec_batch(items)
    assert batch["wav"].shape == (3, 1, 8000)
    assert batch["lengths"].tolist() == [8000, 4000, 8000]
    assert torch.all(batch["wav"][1, 0, 4000:] == 0)
    assert batch["teacher_feats"].shape == (3, 25, TEACHER_DIM)
    assert batch["teacher_lengths"].tolist() == [item["teacher_lengths"] for item in items]
    assert torch.all(batch["teacher_feats"][1, 13:] == 0)
    assert batch["teacher_feats"][2, 0, 1] == 2  # u3's features


def test_validation_crops_are_deterministic_middle_crops(tmp_path):
    paths = write_corpus(tmp_path)
    dataset = CodecDataset(paths["data"], segment_seconds=0.2, random_crop=False,
                           teacher_feats=paths["feats"])
    starts = {crop_start_of(dataset[0]) for _ in range(5)}
    assert starts == {((16000 - 3200) // HOP // 2) * HOP}
    whole = CodecDataset(paths["data"], segment_seconds=None, random_crop=False)
    assert whole[2]["wav"].shape == (9999,) and crop_start_of(whole[2]) == 0
    assert whole.item_seconds(0) == 1.0 and whole.item_seconds(1) == 0.25
    assert dataset.item_seconds(0) == 0.2


def test_segment_length_is_whole_frames(tmp_path):
    paths = write_corpus(tmp_path, teacher=False)
    assert CodecDataset(paths["data"], segment_seconds=0.21).segment_samples == 3200
    with pytest.raises(ValueError, match="segment_seconds"):
        CodecDataset(paths["data"], segment_seconds=0)


def test_min_seconds_leaves_out_short_utterances(tmp_path):
    paths = write_corpus(tmp_path, teacher=False)
    dataset = CodecDataset(paths["data"], segment_seconds=1.0, min_seconds=0.5)
    assert dataset.keys == ["u1", "u3"]
    with pytest.raises(DataError, match="no utterance"):
        CodecDataset(paths["data"], min_seconds=5.0)


def test_audio_at_another_rate_is_resampled(tmp_path):
    paths = write_corpus(tmp_path, teacher=False)
    sf.write(str(tmp_path / "wav" / "u2.wav"), np.zeros(2000, dtype=np.float32), 8000)
    dataset = CodecDataset(paths["data"], segment_seconds=None)
    assert dataset[1]["wav"].shape == (4000,)


def test_errors_name_the_file_and_key(tmp_path):
    paths = write_corpus(tmp_path)
    (paths["data"] / "utt2num_samples").unlink()
    with pytest.raises(DataError, match="utt2num_samples"):
        CodecDataset(paths["data"])
    paths = write_corpus(tmp_path / "b")
    (paths["data"] / "utt2num_samples").write_text("u1 16000\nu2 4000\nu3 10000\n")
    dataset = CodecDataset(paths["data"], segment_seconds=None)
    with pytest.raises(DataError, match=r"key 'u3'.*9999 samples"):
        dataset[2]
    paths = write_corpus(tmp_path / "c", frames_fn=lambda n: hubert_frames(n) // 2)
    dataset = CodecDataset(paths["data"], teacher_feats=paths["feats"])
    with pytest.raises(DataError, match=r"key 'u1'.*teacher frames"):
        dataset[0]
    dataset = CodecDataset(write_corpus(tmp_path / "d")["data"], teacher_feats=paths["feats"],
                           teacher_dim=5)
    with pytest.raises(DataError, match="dimension 3"):
        dataset[1]
    paths = write_corpus(tmp_path / "e", utts={"u1": 16000, "zz": 8000}, teacher=False)
    with pytest.raises(DataError, match="no teacher features for 1 utterance.*'zz'"):
        CodecDataset(paths["data"], teacher_feats=tmp_path / "c" / "feats.scp")
    (paths["data"] / "wav.scp").write_text(f"u1 {tmp_path}/missing.wav\nzz {tmp_path}/missing.wav\n")
    with pytest.raises(DataError, match="not found"):
        CodecDataset(paths["data"])[0]


def test_pipe_entries_are_read(tmp_path):
    paths = write_corpus(tmp_path, utts={"u1": 6400}, teacher=False)
    wav = tmp_path / "wav" / "u1.wav"
    (paths["data"] / "wav.scp").write_text(f"u1 cat {wav} |\n")
    dataset = CodecDataset(paths["data"], segment_seconds=0.1, random_crop=False)
    item = dataset[0]
    assert item["wav"].shape == (1600,) and crop_start_of(item) == item["start"] == 2240
