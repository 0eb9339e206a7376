import torch

from sptok.uslm.masks import padding_mask, prefix_lm_mask


def test_prefix_lm_mask_structure():
    text_valid = torch.tensor([[True, True, False]])
    audio_valid = torch.tensor([[True, True, True, False]])
    mask = prefix_lm_mask(text_valid, audio_valid)[0, 0].int().tolist()
    assert mask == [
        # t0 t1 t2 a0 a1 a2 a3   (t2, a3: padding keys)
        [1, 1, 0, 0, 0, 0, 0],  # text rows: text only, both directions
        [1, 1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0],
        [1, 1, 0, 1, 0, 0, 0],  # audio rows: all text + audio up to itself
        [1, 1, 0, 1, 1, 0, 0],
        [1, 1, 0, 1, 1, 1, 0],
        [1, 1, 0, 1, 1, 1, 0],
    ]


def test_left_padded_audio_is_causal_by_column():
    mask = prefix_lm_mask(torch.tensor([[True]]), torch.tensor([[False, True, True]]))[0, 0]
    assert mask[2].tolist() == [True, False, True, False]
    assert mask[3].tolist() == [True, False, True, True]


def test_padding_mask_shape():
    valid = torch.tensor([[True, False], [True, True]])
    assert padding_mask(valid).shape == (2, 1, 1, 2)
