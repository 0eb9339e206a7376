import copy

import pytest
import torch

from sptok.quantization import ResidualVQ, codebook_usage


def make_rvq(**overrides) -> ResidualVQ:
    conf = dict(dimension=4, n_q=3, codebook_size=8, kmeans_iters=5, threshold_ema_dead_code=0)
    conf.update(overrides)
    return ResidualVQ(**conf)


def trained_rvq(seed: int = 0, steps: int = 3, **overrides) -> ResidualVQ:
    torch.manual_seed(seed)
    rvq = make_rvq(**overrides).train()
    for _ in range(steps):
        rvq(torch.randn(2, rvq.dimension, 20))
    return rvq.eval()


def test_forward_shapes_and_penalty():
    torch.manual_seed(0)
    rvq = make_rvq().train()
    x = torch.randn(2, 4, 10)
    out = rvq(x)
    assert out.quantized.shape == (2, 4, 10)
    assert out.codes.shape == (2, 3, 10) and out.codes.dtype == torch.long
    assert out.commit_loss.shape == (3,)
    assert len(out.quantized_levels) == 3 and out.first_level.shape == (2, 4, 10)
    assert out.n_levels.tolist() == [3, 3]
    assert out.perplexity.shape == (3,)
    torch.testing.assert_close(out.penalty, out.commit_loss.mean())
    assert all(cb.initialized for cb in rvq.codebooks)
    # fewer levels per batch
    out = rvq(x, n_q=2)
    assert out.codes.shape == (2, 2, 10) and out.commit_loss.shape == (2,)


def test_encode_decode_round_trip_and_level_slices():
    rvq = trained_rvq()
    torch.manual_seed(1)
    x = torch.randn(2, 4, 7)
    out = rvq(x)
    codes = rvq.encode(x)
    assert torch.equal(codes, out.codes)
    torch.testing.assert_close(rvq.decode(codes), out.quantized)
    for level, part in enumerate(out.quantized_levels):
        torch.testing.assert_close(rvq.decode(codes[:, level:level + 1], start_level=level), part)
    # any contiguous range decodes to the partial sum of its levels
    partial = out.quantized_levels[1] + out.quantized_levels[2]
    torch.testing.assert_close(rvq.decode(codes[:, 1:3], start_level=1), partial)
    # encode of a level range equals the slice of a full encode
    assert torch.equal(rvq.encode(x, n_q=2, start_level=1), codes[:, 1:3])
    assert torch.equal(rvq.encode(x, n_q=1), codes[:, :1])
    # official `st` semantics: level 1 quantises x itself
    restarted = rvq.encode(x, n_q=1, start_level=1, restart_residual=True)
    assert torch.equal(restarted[:, 0], rvq.layers[1].codebook.nearest(
        x.transpose(1, 2).reshape(-1, 4)).view(2, 7))
    # more levels reconstruct better
    errors = [float((rvq.decode(codes[:, :k]) - x).pow(2).mean()) for k in (1, 2, 3)]
    assert errors[0] > errors[1] > errors[2]


def test_decode_rejects_bad_codes():
    rvq = trained_rvq()
    good = torch.zeros(1, 2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match=r"\[0, 7\].*\[0, 8\]"):
        rvq.decode(good + torch.tensor([0, 8])[None, :, None])
    with pytest.raises(ValueError, match="got values in"):
        rvq.decode(good - 1)
    with pytest.raises(ValueError, match="integer"):
        rvq.decode(good.float())
    with pytest.raises(ValueError, match="n_q must lie"):
        rvq.decode(good, start_level=2)
    with pytest.raises(ValueError, match=r"\[B, n_q, T\]"):
        rvq.decode(good[0])
    assert rvq.decode(good.int()).shape == (1, 4, 5)


def test_input_checks():
    rvq = make_rvq()
    with pytest.raises(ValueError, match=r"latents \[B, 4, T\]"):
        rvq(torch.randn(1, 5, 3))
    with pytest.raises(ValueError, match="n_q must lie"):
        rvq(torch.randn(1, 4, 3), n_q=4)
    with pytest.raises(ValueError, match="lengths must lie"):
        rvq(torch.randn(2, 4, 3), lengths=torch.tensor([3, 4]))
    with pytest.raises(ValueError, match="mask must be"):
        rvq(torch.randn(2, 4, 3), mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="not both"):
        rvq(torch.randn(2, 4, 3), mask=torch.ones(2, 3), lengths=torch.tensor([3, 3]))
    with pytest.raises(ValueError, match="residual_gradient"):
        make_rvq(residual_gradient="lucidrains")
    with pytest.raises(ValueError, match="quantizer_dropout"):
        make_rvq(quantizer_dropout=1.5)


def test_kmeans_init_on_first_batch_finds_mixture_centres():
    torch.manual_seed(0)
    centres = torch.tensor([[4.0, 0, 0, 0], [0, 4.0, 0, 0], [0, 0, 4.0, 0], [0, 0, 0, 4.0]])
    labels = torch.randint(0, 4, (2, 64))
    x = (centres[labels] + 0.05 * torch.randn(2, 64, 4)).transpose(1, 2)  # [B, D, T]
    rvq = make_rvq(n_q=1, codebook_size=4, kmeans_iters=20).train()
    rvq(x)
    embed = rvq.layers[0].codebook.embed
    distance = torch.cdist(centres, embed)
    assert sorted(distance.argmin(dim=1).tolist()) == [0, 1, 2, 3]
    assert distance.min(dim=1).values.max() < 0.05


def test_dead_codes_are_replaced_by_batch_vectors_never_padding():
    torch.manual_seed(0)
    # without k-means every code starts with count 1 < 2: all are dead after the first step
    rvq = make_rvq(n_q=1, codebook_size=6, kmeans_init=False, threshold_ema_dead_code=2).train()
    x = torch.randn(2, 4, 10)
    x[1, :, 5:] = 1000.0  # padding
    rvq(x, lengths=torch.tensor([10, 5]))
    embed = rvq.layers[0].codebook.embed
    valid = torch.cat([x[0].t(), x[1, :, :5].t()])
    for vector in embed:
        assert (valid == vector).all(dim=1).any(), "a dead code was not replaced by a batch vector"
    assert rvq.layers[0].codebook.cluster_size.min() >= 2.0


def test_dead_code_every_skips_checks():
    torch.manual_seed(0)
    rvq = make_rvq(n_q=1, codebook_size=6, kmeans_init=False, threshold_ema_dead_code=2,
                   dead_code_every=2).train()
    before = rvq.layers[0].codebook.embed.clone()
    x = torch.randn(1, 4, 10)
    rvq(x)  # step 1: EMA only, codes keep their (scaled) random init
    embed = rvq.layers[0].codebook.embed
    assert not (torch.cat([x[0].t()]) == embed[:, None, :]).all(-1).any()
    assert not torch.equal(embed, before)
    rvq(x)  # step 2: dead codes replaced
    assert (x[0].t()[None, :, :] == embed[:, None, :]).all(-1).any(-1).all()


def test_quantizer_dropout_rate_and_outputs():
    torch.manual_seed(0)
    n_q, batch = 4, 4000
    rvq = make_rvq(n_q=n_q, quantizer_dropout=0.5, decay=0.0).train()
    rvq(torch.randn(64, 4, 1))  # k-means init
    before = copy.deepcopy(rvq).eval()
    x = torch.randn(batch, 4, 1)
    out = rvq(x)
    levels = out.n_levels
    # P(fewer than n_q levels) = p * (1 - 1/n_q); the dropped ones are uniform over 1..n_q
    assert abs(float((levels < n_q).float().mean()) - 0.5 * (1 - 1 / n_q)) < 0.03
    assert abs(float((levels == 1).float().mean()) - 0.5 / n_q) < 0.02
    # the output of each item sums exactly its first n_levels code vectors
    for k in range(1, n_q + 1):
        items = levels == k
        torch.testing.assert_close(out.quantized[items], before.decode(out.codes[items, :k]))
        for level in range(k, n_q):
            assert out.quantized_levels[level][items].abs().max() == 0
    # with decay 0 the EMA counts are this batch's counts: only items that used a level count
    for level, codebook in enumerate(rvq.codebooks):
        assert codebook.cluster_size.sum() == (levels > level).sum()
    # no dropout in evaluation
    assert rvq.eval()(x).n_levels.eq(n_q).all()


def test_quantizer_dropout_commit_loss_counts_used_levels_only():
    torch.manual_seed(0)
    rvq = make_rvq(n_q=2, quantizer_dropout=1.0).train()
    rvq(torch.randn(8, 4, 5))  # initialise
    x = torch.randn(64, 4, 5)
    reference = copy.deepcopy(rvq).eval()
    out = rvq(x)
    # level 2's loss is the mean over the items that used level 2, computed from the codebook
    # as it was before this step's update
    used = out.n_levels == 2
    residual = x - reference.decode(out.codes[:, :1])
    second = reference.decode(out.codes[:, 1:2], start_level=1)
    expected = (residual - second)[used].pow(2).mean()
    torch.testing.assert_close(out.commit_loss[1], expected)


def test_padded_batch_trains_like_unpadded():
    torch.manual_seed(0)
    items = [torch.randn(1, 4, 5), torch.randn(1, 4, 8)]
    concatenated = torch.cat(items, dim=2)  # one unpadded sequence of 13 frames
    padded = torch.full((2, 4, 8), 55.0)
    padded[0, :, :5], padded[1] = items[0][0], items[1][0]
    lengths = torch.tensor([5, 8])

    torch.manual_seed(1)
    base = make_rvq(threshold_ema_dead_code=0).train()
    plain, masked = copy.deepcopy(base), copy.deepcopy(base)
    for step in range(3):
        torch.manual_seed(10 + step)
        out_plain = plain(concatenated)
        torch.manual_seed(10 + step)
        out_masked = masked(padded, lengths=lengths)
        assert torch.equal(out_masked.codes[0, :, :5], out_plain.codes[0, :, :5])
        assert torch.equal(out_masked.codes[1], out_plain.codes[0, :, 5:])
        torch.testing.assert_close(out_masked.commit_loss, out_plain.commit_loss)
        torch.testing.assert_close(out_masked.perplexity, out_plain.perplexity)
        for key, value in plain.state_dict().items():
            torch.testing.assert_close(masked.state_dict()[key], value, msg=key)
    # a mask does the same as lengths
    torch.manual_seed(10)
    out_mask = copy.deepcopy(base)(padded, mask=torch.arange(8)[None, :] < lengths[:, None])
    torch.manual_seed(10)
    out_lengths = copy.deepcopy(base)(padded, lengths=lengths)
    assert torch.equal(out_mask.codes, out_lengths.codes)


def _grad(loss: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    (grad,) = torch.autograd.grad(loss, x, retain_graph=True)
    return grad


def test_residual_gradient_encodec_drops_commitment_of_later_levels():
    base = trained_rvq(n_q=3, codebook_size=4, steps=2).train()
    torch.manual_seed(5)
    x0 = torch.randn(1, 4, 6)
    outputs, inputs = {}, {}
    for mode in ("encodec", "corrected"):
        rvq = copy.deepcopy(base)
        rvq.residual_gradient = mode
        inputs[mode] = x0.clone().requires_grad_(True)
        outputs[mode] = rvq(inputs[mode])
    enc, cor = outputs["encodec"], outputs["corrected"]
    assert torch.equal(enc.codes, cor.codes)
    torch.testing.assert_close(enc.quantized, cor.quantized)
    torch.testing.assert_close(enc.commit_loss, cor.commit_loss)
    # both: the output passes the gradient straight through (identity), so does level 1 alone
    for mode, out in outputs.items():
        x = inputs[mode]
        assert torch.equal(_grad(out.quantized.sum(), x), torch.ones_like(x)), mode
        assert torch.equal(_grad(out.first_level.sum(), x), torch.ones_like(x)), mode
    # level 1's commitment gradient is the same in both modes and non-zero
    g_enc = _grad(enc.commit_loss[0], inputs["encodec"])
    torch.testing.assert_close(g_enc, _grad(cor.commit_loss[0], inputs["corrected"]))
    assert g_enc.abs().sum() > 0
    # levels 2..: zero gradient with EnCodec's residual, d/dx mean((x - q1 - q2)^2) when corrected
    vectors = [base.decode(cor.codes[:, i:i + 1], start_level=i) for i in range(3)]
    for level in (1, 2):
        assert torch.equal(_grad(enc.commit_loss[level], inputs["encodec"]),
                           torch.zeros_like(x0))
        residual = x0 - sum(vectors[:level])
        expected = 2 * (residual - vectors[level]) / residual.numel()
        torch.testing.assert_close(_grad(cor.commit_loss[level], inputs["corrected"]), expected)


def test_autocast_inputs_are_quantized_in_float32():
    rvq = trained_rvq()
    x = torch.randn(1, 4, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = rvq(x.bfloat16())
    assert out.quantized.dtype == torch.bfloat16
    assert torch.equal(out.codes, rvq.encode(x.bfloat16().float()))


def test_codebook_usage_helper():
    codes = torch.tensor([[[0, 1, 2, 3], [0, 0, 0, 0]]])  # [B=1, n_q=2, T=4]
    usage = codebook_usage(codes, codebook_size=8)
    torch.testing.assert_close(usage["perplexity"], torch.tensor([4.0, 1.0]))
    torch.testing.assert_close(usage["used_fraction"], torch.tensor([0.5, 0.125]))
    masked = codebook_usage(codes, 8, mask=torch.tensor([[True, True, False, False]]))
    torch.testing.assert_close(masked["perplexity"], torch.tensor([2.0, 1.0]))
