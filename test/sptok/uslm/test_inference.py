import pytest
import torch

from sptok.uslm import (SamplingOptions, USLMARModel, USLMNARModel, ar_generate, generate,
                        make_generators, nar_decode)
from sptok.uslm.inference import pad_left, pad_right


def _texts_and_prompts(tiny, seed=3):
    generator = torch.Generator().manual_seed(seed)
    texts = [torch.randint(0, tiny.num_phonemes, (n,), generator=generator) for n in (5, 2, 8)]
    prompt_texts = [torch.randint(0, tiny.num_phonemes, (n,), generator=generator)
                    for n in (3, 1, 4)]
    prompt_codes = [torch.randint(0, tiny.codebook_size, (tiny.n_q, n), generator=generator)
                    for n in (6, 3, 4)]
    return texts, prompt_texts, prompt_codes


def _ar_inputs(tiny, seed=3):
    texts, prompt_texts, prompt_codes = _texts_and_prompts(tiny, seed)
    full = [torch.cat([p, t]) for p, t in zip(prompt_texts, texts)]
    phonemes, lengths = pad_right(full)
    prompts, prompt_lengths = pad_right([c[0] for c in prompt_codes])
    return phonemes, lengths, prompts, prompt_lengths


def test_padding_helpers():
    padded, lengths = pad_right([torch.tensor([1, 2]), torch.tensor([3])], value=9)
    assert padded.tolist() == [[1, 2], [3, 9]] and lengths.tolist() == [2, 1]
    assert pad_left([torch.tensor([1, 2]), torch.tensor([3])]).tolist() == [[1, 2], [0, 3]]


@pytest.mark.parametrize("sampling", [SamplingOptions(), SamplingOptions(top_k=3, top_p=0.9),
                                      SamplingOptions(greedy=True)])
def test_cached_and_uncached_decoding_agree(tiny, sampling):
    model = tiny.ar(seed=5)
    inputs = _ar_inputs(tiny)
    runs = [ar_generate(model, *inputs, 12, sampling=sampling, generator=make_generators(11, 3),
                        use_cache=use_cache, return_logits=True) for use_cache in (True, False)]
    cached, uncached = runs
    assert [c.tolist() for c in cached.codes] == [c.tolist() for c in uncached.codes]
    assert torch.equal(cached.stopped_by_eos, uncached.stopped_by_eos)
    assert len(cached.step_logits) == len(uncached.step_logits) > 1
    for a, b, items_a, items_b in zip(cached.step_logits, uncached.step_logits,
                                      cached.step_items, uncached.step_items):
        assert torch.equal(items_a, items_b)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_same_seed_same_tokens(tiny):
    model = tiny.ar(seed=5)
    inputs = _ar_inputs(tiny)
    first = ar_generate(model, *inputs, 20, generator=make_generators(1, 3)).codes
    second = ar_generate(model, *inputs, 20, generator=make_generators(1, 3)).codes
    other = ar_generate(model, *inputs, 20, generator=make_generators(2, 3)).codes
    assert [c.tolist() for c in first] == [c.tolist() for c in second]
    assert [c.tolist() for c in first] != [c.tolist() for c in other]


@pytest.mark.parametrize("use_cache", [True, False])
def test_batched_equals_one_by_one(tiny, use_cache):
    model = tiny.ar(seed=5)
    phonemes, lengths, prompts, prompt_lengths = _ar_inputs(tiny)
    limits = torch.tensor([15, 4, 9])
    batched = ar_generate(model, phonemes, lengths, prompts, prompt_lengths, limits,
                          generator=make_generators(4, 3), use_cache=use_cache)
    for b in range(3):
        s, p = int(lengths[b]), int(prompt_lengths[b])
        single = ar_generate(model, phonemes[b:b + 1, :s], lengths[b:b + 1],
                             prompts[b:b + 1, :p], prompt_lengths[b:b + 1], limits[b:b + 1],
                             generator=[make_generators(4, 3)[b]], use_cache=use_cache)
        assert batched.codes[b].tolist() == single.codes[0].tolist()
        assert bool(batched.stopped_by_eos[b]) == bool(single.stopped_by_eos[0])
    # The items really differ in length and stopping (else the test proves little).
    assert len({c.shape[0] for c in batched.codes}) > 1


def test_ignore_eos_and_limits(tiny):
    model = tiny.ar(seed=5)
    with torch.no_grad():  # make EOS overwhelmingly likely
        model.head.bias[model.eos_id] = 50.0
    inputs = _ar_inputs(tiny)
    stopped = ar_generate(model, *inputs, 10, sampling=SamplingOptions(greedy=True))
    assert all(c.numel() == 0 for c in stopped.codes) and stopped.stopped_by_eos.all()
    forced = ar_generate(model, *inputs, torch.tensor([10, 0, 3]), ignore_eos=True)
    assert [c.numel() for c in forced.codes] == [10, 0, 3]
    assert not forced.stopped_by_eos.any()
    assert all(int(c.max()) < tiny.codebook_size for c in forced.codes if c.numel())
    with pytest.raises(ValueError, match="max_new_frames"):
        ar_generate(model, *inputs, torch.tensor([1, -1, 2]))


def test_generate_shapes_and_length_guard(tiny):
    ar, nar = tiny.ar(seed=5), tiny.nar(seed=6)
    with torch.no_grad():
        ar.head.bias[ar.eos_id] = -50.0  # never stops by itself: the guard must stop it
    texts, prompt_texts, prompt_codes = _texts_and_prompts(tiny)
    codes = generate(ar, nar, texts, prompt_texts, prompt_codes, min_prompt_frames=3,
                     frames_per_phoneme=2, generator=make_generators(0, 3))
    assert [tuple(c.shape) for c in codes] == [(3, 10), (3, 4), (3, 16)]
    capped = generate(ar, nar, texts, prompt_texts, prompt_codes, min_prompt_frames=3,
                      max_frames=5, generator=make_generators(0, 3))
    assert [c.shape[1] for c in capped] == [5, 5, 5]  # min(max_frames, 16 x text length)
    level1 = generate(ar, None, texts, prompt_texts, prompt_codes, min_prompt_frames=3,
                      max_frames=5, generator=make_generators(0, 3))
    assert [c.tolist() for c in level1] == [c[:1].tolist() for c in capped]


def test_generate_restores_training_mode(tiny):
    ar, nar = tiny.ar(seed=5).train(), tiny.nar(seed=6).train()
    texts, prompt_texts, prompt_codes = _texts_and_prompts(tiny)
    generate(ar, nar, texts, prompt_texts, prompt_codes, min_prompt_frames=3, max_frames=3)
    assert ar.training and nar.training


def test_generate_errors(tiny):
    ar, nar = tiny.ar(), tiny.nar()
    texts, prompt_texts, prompt_codes = _texts_and_prompts(tiny)
    ok = dict(min_prompt_frames=3, max_frames=2)
    with pytest.raises(ValueError, match=r"phonemes\[1\] is empty"):
        generate(ar, nar, [texts[0], texts[1][:0], texts[2]], prompt_texts, prompt_codes, **ok)
    with pytest.raises(ValueError, match=r"prompt_codes\[1\] has 3 frames"):
        generate(ar, nar, texts, prompt_texts, prompt_codes, min_prompt_frames=4)
    bad_text = [texts[0].clone(), texts[1], texts[2]]
    bad_text[0][1] = tiny.num_phonemes
    with pytest.raises(ValueError, match=rf"phonemes\[0\] has ids \[{tiny.num_phonemes}\]"):
        generate(ar, nar, bad_text, prompt_texts, prompt_codes, **ok)
    bad_prompt_text = [prompt_texts[0], torch.tensor([-1]), prompt_texts[2]]
    with pytest.raises(ValueError, match=r"prompt_phonemes\[1\] has ids \[-1\]"):
        generate(ar, nar, texts, bad_prompt_text, prompt_codes, **ok)
    bad_codes = [c.clone() for c in prompt_codes]
    bad_codes[2][1, 0] = tiny.codebook_size
    with pytest.raises(ValueError, match=r"prompt_codes\[2\] has ids"):
        generate(ar, nar, texts, prompt_texts, bad_codes, **ok)
    with pytest.raises(ValueError, match=r"prompt_codes\[0\] must be \[n_q >= 3"):
        generate(ar, nar, texts, prompt_texts, [prompt_codes[0][:2]] + prompt_codes[1:], **ok)
    with pytest.raises(ValueError, match="same non-zero number"):
        generate(ar, nar, texts[:2], prompt_texts, prompt_codes, **ok)
    with pytest.raises(ValueError, match="do not fit"):
        generate(ar, tiny.nar(num_phonemes=5), texts, prompt_texts, prompt_codes, **ok)
    with pytest.raises(ValueError, match="integer ids"):
        generate(ar, nar, [t.float() for t in texts], prompt_texts, prompt_codes, **ok)


def _overfit(model, batch, steps, lr=3e-3):
    torch.manual_seed(0)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = model(batch)["loss"]
        loss.backward()
        optimizer.step()
    model.eval()
    return float(loss.detach())


def test_tiny_models_overfit_one_utterance_and_reproduce_it():
    torch.manual_seed(0)
    num_phonemes, codebook_size, n_q, frames = 9, 8, 3, 16
    phonemes = torch.randint(0, num_phonemes, (1, 6))
    codes = torch.randint(0, codebook_size, (1, n_q, frames))
    batch = {"phonemes": phonemes, "phoneme_lengths": torch.tensor([6]), "codes": codes,
             "code_lengths": torch.tensor([frames])}
    size = dict(num_phonemes=num_phonemes, codebook_size=codebook_size, d_model=64,
                num_heads=4, num_layers=2, ffn_dim=128, dropout=0.0)
    ar, nar = USLMARModel(**size), USLMNARModel(n_q=n_q, **size)
    assert _overfit(ar, batch, 200) < 0.05
    assert _overfit(nar, batch, 200) < 0.1

    # AR: greedy from a 4-frame prompt reproduces the rest of RVQ-1 and stops with EOS.
    greedy = SamplingOptions(greedy=True)
    out = ar_generate(ar, phonemes, torch.tensor([6]), codes[:, 0, :4], torch.tensor([4]), 40,
                      sampling=greedy)
    assert out.codes[0].tolist() == codes[0, 0, 4:].tolist() and bool(out.stopped_by_eos[0])
    # NAR: prompt frames with all levels + the true RVQ-1 of the rest -> levels 2..n_q.
    for prompt in (4, 6):
        full = nar_decode(nar, phonemes, torch.tensor([6]), codes[:, :, :prompt],
                          torch.tensor([prompt]), [codes[0, 0, prompt:]])
        assert torch.equal(full[0], codes[0, :, prompt:])
    # The whole pipeline, text split into prompt transcript and target text.
    result = generate(ar, nar, [phonemes[0, 2:]], [phonemes[0, :2]], [codes[0, :, :4]],
                      sampling=greedy, min_prompt_frames=4)
    assert torch.equal(result[0], codes[0, :, 4:])
