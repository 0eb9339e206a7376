import pytest
import torch

from sptok.uslm.batch import IGNORE_INDEX
from sptok.uslm.embeddings import lengths_to_valid


def test_teacher_forcing_layout(tiny):
    model = tiny.ar()
    codes = torch.tensor([[1, 2, 3], [4, 5, 0]])
    inputs, targets, valid = model.teacher_forcing(codes, torch.tensor([3, 2]))
    bos, eos = model.bos_id, model.eos_id
    assert inputs.tolist() == [[bos, 1, 2, 3], [bos, 4, 5, eos]]
    assert targets.tolist() == [[1, 2, 3, eos], [4, 5, eos, IGNORE_INDEX]]
    assert valid.tolist() == [[True] * 4, [True, True, True, False]]
    assert model.vocab_size == tiny.codebook_size + 1


def test_future_audio_does_not_change_earlier_logits(tiny, batch):
    model = tiny.ar()
    phonemes, lengths = batch["phonemes"], batch["phoneme_lengths"]
    codes, code_lengths = batch["codes"][:, 0], batch["code_lengths"]
    logits, _ = model.logits(phonemes, lengths, codes, code_lengths)
    cut = 4
    perturbed = codes.clone()
    perturbed[:, cut:] = (perturbed[:, cut:] + 1) % tiny.codebook_size
    logits2, _ = model.logits(phonemes, lengths, perturbed, code_lengths)
    # Input column j holds code j-1; columns up to `cut` saw only codes 0..cut-1.
    torch.testing.assert_close(logits2[:, :cut + 1], logits[:, :cut + 1], rtol=0, atol=1e-6)
    assert not torch.allclose(logits2[0, cut + 1:], logits[0, cut + 1:])


def test_text_never_sees_audio(tiny, batch):
    model = tiny.ar()
    phonemes, lengths = batch["phonemes"], batch["phoneme_lengths"]
    inputs, _, valid = model.teacher_forcing(batch["codes"][:, 0], batch["code_lengths"])
    positions = torch.arange(inputs.shape[1]).expand_as(inputs)
    hidden = model.hidden_states(phonemes, lengths, inputs, valid, positions)
    other = torch.randint(0, tiny.codebook_size, inputs.shape)
    hidden2 = model.hidden_states(phonemes, lengths, other, valid, positions)
    text_part = lengths_to_valid(lengths, phonemes.shape[1])
    assert torch.equal(hidden[:, :phonemes.shape[1]][text_part],
                       hidden2[:, :phonemes.shape[1]][text_part])
    assert not torch.allclose(hidden[:, phonemes.shape[1]:], hidden2[:, phonemes.shape[1]:])


def test_text_is_bidirectional(tiny, batch):
    model = tiny.ar()
    phonemes = batch["phonemes"][:1, :7]
    lengths = torch.tensor([7])
    inputs = torch.tensor([[model.bos_id]])
    valid = torch.ones(1, 1, dtype=torch.bool)
    positions = torch.zeros(1, 1, dtype=torch.long)
    hidden = model.hidden_states(phonemes, lengths, inputs, valid, positions)
    changed = phonemes.clone()
    changed[0, -1] = (changed[0, -1] + 1) % tiny.num_phonemes
    hidden2 = model.hidden_states(changed, lengths, inputs, valid, positions)
    assert not torch.allclose(hidden[0, 0], hidden2[0, 0])  # the first phoneme sees the last


def test_padding_does_not_change_results(tiny, batch):
    model = tiny.ar()
    logits, targets = model.logits(batch["phonemes"], batch["phoneme_lengths"],
                                   batch["codes"][:, 0], batch["code_lengths"])
    for b in range(3):
        s, t = int(batch["phoneme_lengths"][b]), int(batch["code_lengths"][b])
        single, single_targets = model.logits(batch["phonemes"][b:b + 1, :s],
                                              batch["phoneme_lengths"][b:b + 1],
                                              batch["codes"][b:b + 1, 0, :t],
                                              batch["code_lengths"][b:b + 1])
        torch.testing.assert_close(logits[b:b + 1, :t + 1], single, atol=1e-5, rtol=1e-5)
        assert torch.equal(targets[b:b + 1, :t + 1], single_targets)


def test_loss_is_mean_over_real_frames_including_eos(tiny, batch):
    model = tiny.ar()
    out = model(batch)
    assert out["num_frames"] == int((batch["code_lengths"] + 1).sum())
    logits, targets = model.logits(batch["phonemes"], batch["phoneme_lengths"],
                                   batch["codes"][:, 0], batch["code_lengths"])
    ends = (batch["code_lengths"] + 1).tolist()
    manual = torch.cat([torch.nn.functional.cross_entropy(
        logits[b, :ends[b]], targets[b, :ends[b]], reduction="none") for b in range(3)]).mean()
    torch.testing.assert_close(out["loss"], manual)
    assert set(out) == {"loss", "accuracy", "top10_accuracy", "num_frames"}
    out["loss"].backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert unused == []


def test_padding_values_are_ignored(tiny, batch):
    model = tiny.ar()
    other = dict(batch)
    other["codes"] = batch["codes"].clone()
    other["codes"][1, :, 9:] = 0
    other["phonemes"] = batch["phonemes"].clone()
    other["phonemes"][2, 2:] = 0
    torch.testing.assert_close(model(batch)["loss"], model(other)["loss"])


def test_cached_steps_match_recomputation(tiny, batch):
    model = tiny.ar()
    phonemes, lengths = batch["phonemes"], batch["phoneme_lengths"]
    # Left-padded prompts of different lengths: BOS + 3, BOS + 1, BOS alone.
    audio = torch.tensor([[model.bos_id, 1, 2, 3], [0, 0, model.bos_id, 4],
                          [0, 0, 0, model.bos_id]])
    audio_lengths = torch.tensor([4, 2, 1])
    logits, state = model.prefill(phonemes, lengths, audio, audio_lengths)
    torch.testing.assert_close(logits, model.last_logits(phonemes, lengths, audio, audio_lengths),
                               atol=1e-5, rtol=1e-5)
    for step in range(5):
        tokens = torch.tensor([step % tiny.codebook_size, 2, 5])
        audio = torch.cat([audio, tokens[:, None]], dim=1)
        audio_lengths = audio_lengths + 1
        cached = model.step(tokens, state)
        torch.testing.assert_close(cached, model.last_logits(phonemes, lengths, audio,
                                                             audio_lengths),
                                   atol=1e-5, rtol=1e-5)
    # Teacher-forced training logits agree too (item 2 started from BOS alone).
    train_logits, _ = model.logits(phonemes[2:], lengths[2:], audio[2:, 4:], torch.tensor([5]))
    torch.testing.assert_close(cached[2], train_logits[0, -1], atol=1e-5, rtol=1e-5)


def test_state_keep_rows(tiny, batch):
    model = tiny.ar()
    audio = torch.tensor([[model.bos_id, 1], [0, model.bos_id], [model.bos_id, 3]])
    audio_lengths = torch.tensor([2, 1, 2])
    _, state = model.prefill(batch["phonemes"], batch["phoneme_lengths"], audio, audio_lengths)
    _, reference = model.prefill(batch["phonemes"][[0, 2]], batch["phoneme_lengths"][[0, 2]],
                                 audio[[0, 2]], audio_lengths[[0, 2]])
    state.keep(torch.tensor([0, 2]))
    tokens = torch.tensor([4, 5])
    torch.testing.assert_close(model.step(tokens, state), model.step(tokens, reference),
                               atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="step needs"):
        model.step(torch.tensor([1, 2, 3]), state)


def test_batch_errors(tiny, batch):
    model = tiny.ar()
    with pytest.raises(ValueError, match="lacks key"):
        model({"phonemes": batch["phonemes"]})
    empty = dict(batch, phoneme_lengths=torch.tensor([7, 0, 2]))
    with pytest.raises(ValueError, match="empty item"):
        model(empty)
    with pytest.raises(ValueError, match=r"\[B, n_q >= 1, T\]"):
        model(dict(batch, codes=batch["codes"][:, 0]))


def test_int32_batches_work(tiny, batch):
    model = tiny.ar()
    as_int32 = {key: value.int() for key, value in batch.items()}
    torch.testing.assert_close(model(as_int32)["loss"], model(batch)["loss"])
    torch.testing.assert_close(tiny.nar()(as_int32, levels=torch.tensor([2, 3, 3]),
                                          prompt_lengths=torch.tensor([3, 2, 1]))["loss"],
                               tiny.nar()(batch, levels=torch.tensor([2, 3, 3]),
                                          prompt_lengths=torch.tensor([3, 2, 1]))["loss"])
