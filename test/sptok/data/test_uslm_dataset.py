"""USLMDataset: pairing text and codes, filtering, frame counts from ark headers, per-item
reads, collation."""
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from sptok.data.ark import CodesWriter
from sptok.data.errors import DataError
from sptok.data.uslm_dataset import USLMCollate, USLMDataset, read_matrix_rows
from sptok.text.symbol_table import SymbolTable

SYMBOLS = SymbolTable.from_inventory(["AH0", "B", "K", "T", "_", "."])
N_Q = 3
# key -> (tokens, frames)
UTTS = {
    "u1": ("B AH0 T", 12),
    "u2": ("K AH0 T _ B AH0 T .", 30),
    "u3": ("T", 5),
    "u4": ("B _ K", 50),
}


def codes_of(key: str, frames: int) -> np.ndarray:
    """[T, N_Q] codes: frame t of level q holds (t + 7 q + key number) % 16."""
    number = int(key[1:])
    t = np.arange(frames)[:, None]
    q = np.arange(N_Q)[None, :]
    return (t + 7 * q + number) % 16


def write_set(root: Path, utts=UTTS, extra_text=(), extra_codes=()) -> tuple[Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    text = root / "text"
    lines = [f"{k} {tokens}".rstrip() for k, (tokens, _) in utts.items()]
    lines += [f"{k} B" for k in extra_text]
    text.write_text("\n".join(lines) + "\n")
    with CodesWriter(root / "codes.ark", root / "codes.scp") as writer:
        for key, (_, frames) in utts.items():
            writer[key] = codes_of(key, frames)
        for key in extra_codes:
            writer[key] = codes_of("u9", 8)
    return text, root / "codes.scp"


def test_items_and_lengths(tmp_path):
    text, scp = write_set(tmp_path)
    dataset = USLMDataset(text, scp, SYMBOLS, n_q=N_Q, codebook_size=16, min_frames=1)
    assert dataset.keys == ["u1", "u2", "u3", "u4"]
    assert [dataset.item_frames(i) for i in range(4)] == [12, 30, 5, 50]
    item = dataset[1]
    assert item["phonemes"].dtype == torch.long and item["codes"].dtype == torch.long
    assert item["phonemes"].tolist() == SYMBOLS.encode("K AH0 T _ B AH0 T .".split())
    assert item["codes"].shape == (N_Q, 30)
    assert torch.equal(item["codes"], torch.from_numpy(codes_of("u2", 30).T))
    # fewer levels than stored: the first ones
    two = USLMDataset(text, scp, SYMBOLS, n_q=1)
    assert torch.equal(two[0]["codes"], torch.from_numpy(codes_of("u1", 12).T[:1]))


def test_frame_counts_come_from_headers_and_codes_are_read_per_item(tmp_path):
    text, scp = write_set(tmp_path)
    locations = dict(line.split() for line in scp.read_text().splitlines())
    handles = {}
    assert [read_matrix_rows(locations[k], handles) for k in UTTS] == [12, 30, 5, 50]
    for handle in handles.values():
        handle.close()
    assert read_matrix_rows("cat foo.ark |") is None
    assert read_matrix_rows(f"{locations['u1']}[0:3]") is None
    dataset = USLMDataset(text, scp, SYMBOLS, n_q=N_Q)
    # the text changes (same line lengths) after the index was built: items read the new one
    text.write_text(text.read_text().replace("u1 B AH0 T", "u1 T AH0 B"))
    assert dataset[0]["phonemes"].tolist() == SYMBOLS.encode(["T", "AH0", "B"])
    dataset.close()  # drop what the open file has buffered
    text.write_text(text.read_text().replace("u1 T AH0 B", "u1 T AH0 B B"))
    with pytest.raises(DataError, match="key 'u2': the line of this key moved"):
        dataset[1]
    # the ark changes after the index was built: the item read notices (no copy in memory)
    with CodesWriter(tmp_path / "codes.ark", tmp_path / "other.scp") as writer:
        for key, (_, frames) in UTTS.items():
            writer[key] = codes_of(key, frames + 1)
    with pytest.raises(DataError, match="codes have 13 frames, the ark header said 12"):
        dataset[0]


def test_filtering(tmp_path, caplog):
    utts = {**UTTS, "u5": ("", 20)}
    text, scp = write_set(tmp_path, utts, extra_text=["u7"], extra_codes=["u8"])
    dataset = USLMDataset(text, scp, SYMBOLS, n_q=N_Q, min_frames=10, max_frames=40)
    assert dataset.keys == ["u1", "u2"]  # u3 too short, u4 too long, u5 no tokens,
    text_log = caplog.text                  # u7 without codes, u8 without text
    assert "u7" in text_log and "u8" in text_log
    limited = USLMDataset(text, scp, SYMBOLS, n_q=N_Q, max_phonemes=3)
    assert limited.keys == ["u1", "u3", "u4"]
    with pytest.raises(DataError, match="no utterance left after filtering"):
        USLMDataset(text, scp, SYMBOLS, n_q=N_Q, min_frames=100)
    with pytest.raises(ValueError, match="min_frames <= max_frames"):
        USLMDataset(text, scp, SYMBOLS, min_frames=10, max_frames=5)


def test_bad_data_is_named(tmp_path):
    text, scp = write_set(tmp_path / "a", {"u1": ("B ZH T", 12)})
    with pytest.raises(DataError, match=r"key 'u1'.*\['ZH'\] not in the token list"):
        USLMDataset(text, scp, SYMBOLS, n_q=N_Q)
    text, scp = write_set(tmp_path / "b")
    with pytest.raises(DataError, match="codes have 3 levels, 4 needed"):
        USLMDataset(text, scp, SYMBOLS, n_q=4)[0]
    with pytest.raises(DataError, match="code 1[0-9] >= codebook_size 10"):
        USLMDataset(text, scp, SYMBOLS, n_q=N_Q, codebook_size=10)[3]
    other, _ = write_set(tmp_path / "c", {"x1": ("B", 10)})
    with pytest.raises(DataError, match="no utterance has both"):
        USLMDataset(other, scp, SYMBOLS)


def test_pickled_dataset_opens_its_own_files(tmp_path):
    """What a DataLoader worker gets: no open file of the parent."""
    text, scp = write_set(tmp_path)
    dataset = USLMDataset(text, scp, SYMBOLS, n_q=N_Q)
    first = dataset[0]
    assert dataset._files is not None
    clone = pickle.loads(pickle.dumps(dataset))
    assert clone._files is None
    assert torch.equal(clone[0]["codes"], first["codes"])
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=2,
                                         collate_fn=USLMCollate(SYMBOLS.pad_id))
    batches = list(loader)
    assert [b["code_lengths"].tolist() for b in batches] == [[12, 30], [5, 50]]


def test_collate_pads_and_records_lengths(tmp_path):
    text, scp = write_set(tmp_path)
    dataset = USLMDataset(text, scp, SYMBOLS, n_q=N_Q)
    batch = USLMCollate(pad_id=SYMBOLS.pad_id)([dataset[i] for i in range(3)])
    assert batch["phonemes"].shape == (3, 8) and batch["codes"].shape == (3, N_Q, 30)
    assert batch["phoneme_lengths"].tolist() == [3, 8, 1]
    assert batch["code_lengths"].tolist() == [12, 30, 5]
    assert (batch["phonemes"][0, 3:] == SYMBOLS.pad_id).all()
    assert (batch["codes"][2, :, 5:] == 0).all()
    assert torch.equal(batch["codes"][2, :, :5], dataset[2]["codes"])
    with pytest.raises(ValueError, match="empty list"):
        USLMCollate()([])
    # the batch the USLM models take
    from sptok.uslm.batch import unpack_batch
    phonemes, _, codes, _ = unpack_batch(batch, N_Q)
    assert phonemes.dtype == codes.dtype == torch.long
