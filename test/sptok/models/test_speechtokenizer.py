"""SpeechTokenizerModel: shapes, lengths, batch/single equality, level ranges, official weights."""
import warnings

import pytest
import torch

from sptok.utils.official_package import official_speechtokenizer_class
from sptok.models import SpeechTokenizerModel
from sptok.modules import SEANetDecoder, SEANetEncoder

TEACHER_DIM = 6  # conftest's tiny generators


def test_forward_outputs_and_lengths(tiny_generator):
    torch.manual_seed(0)
    model = tiny_generator().train()
    wav = 0.1 * torch.randn(2, 1, 1000)
    lengths = torch.tensor([1000, 650])
    out = model(wav, lengths)
    assert out["wav_hat"].shape == (2, 1, 1000)
    assert out["lengths"].tolist() == [1000, 650]
    assert out["frame_lengths"].tolist() == [4, 3]  # ceil(N / 320)
    assert out["codes"].shape == (2, 3, 4)
    assert out["commit_loss"].shape == (3,)
    assert out["semantic"].shape == (2, 4, TEACHER_DIM)
    assert out["perplexity"].shape == (3,)
    assert torch.all(out["wav_hat"][1, :, 650:] == 0)
    # without lengths every item counts as full length
    out = model(wav)
    assert out["lengths"].tolist() == [1000, 1000] and out["frame_lengths"].tolist() == [4, 4]


def test_forward_without_head_has_no_semantic_output(tiny_generator):
    model = tiny_generator(semantic_dim=None)
    out = model(0.1 * torch.randn(1, 1, 700))
    assert out["semantic"] is None and model.semantic_dim is None


def test_gradients_reach_encoder_decoder_and_head(tiny_generator):
    torch.manual_seed(0)
    model = tiny_generator().train()
    out = model(0.1 * torch.randn(2, 1, 960))
    loss = out["wav_hat"].abs().mean() + out["commit_loss"].mean() + out["semantic"].pow(2).mean()
    loss.backward()
    for name in ("encoder", "decoder", "semantic_head"):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert all(g is not None for g in grads), name
        assert any(g.abs().sum() > 0 for g in grads), name


def test_encode_padded_batch_equals_single_items(generator):
    torch.manual_seed(1)
    lengths = [2000, 1290, 333]
    wavs = [0.3 * torch.randn(1, 1, n) for n in lengths]
    batch = torch.zeros(3, 1, max(lengths))
    for i, w in enumerate(wavs):
        batch[i, :, :w.shape[-1]] = w
    # garbage in the padding must not matter
    batch[1, :, 1290:] = 5.0
    codes, code_lengths = generator.encode(batch, torch.tensor(lengths))
    assert codes.shape == (3, 3, 7) and codes.dtype == torch.long
    assert code_lengths.tolist() == [7, 5, 2]
    for i, w in enumerate(wavs):
        alone, alone_lengths = generator.encode(w)
        assert alone_lengths.tolist() == [code_lengths[i]]
        assert torch.equal(codes[i, :, :code_lengths[i]], alone[0])


def test_decode_padded_batch_equals_single_items(generator):
    torch.manual_seed(2)
    codes = torch.randint(0, 4, (2, 3, 6))
    lengths = torch.tensor([6, 4])
    wav, wav_lengths = generator.decode(codes, lengths)
    assert wav.shape == (2, 1, 6 * 320) and wav_lengths.tolist() == [1920, 1280]
    alone, _ = generator.decode(codes[1:, :, :4])
    torch.testing.assert_close(wav[1:, :, :1280], alone, atol=1e-6, rtol=1e-5)
    assert torch.all(wav[1, :, 1280:] == 0)


def test_decode_any_range_of_levels(generator):
    torch.manual_seed(3)
    wav = 0.3 * torch.randn(1, 1, 1600)
    codes, _ = generator.encode(wav)
    full, _ = generator.decode(codes)
    # decoding all levels equals the eval forward's reconstruction
    torch.testing.assert_close(full[..., :1600], generator(wav)["wav_hat"], atol=1e-6, rtol=1e-5)
    for start in range(3):
        for stop in range(start + 1, 4):
            part, part_lengths = generator.decode(codes[:, start:stop], start_level=start)
            latent = generator.quantizer.decode(codes[:, start:stop], start_level=start)
            expected, _ = generator.decoder(latent)
            torch.testing.assert_close(part, expected)
            assert part_lengths.tolist() == [1600]
    # fewer levels from encode equal a slice of the full codes
    first_two, _ = generator.encode(wav, n_q=2)
    assert torch.equal(first_two, codes[:, :2])
    level_two, _ = generator.encode(wav, n_q=1, start_level=1)
    assert torch.equal(level_two, codes[:, 1:2])
    with pytest.raises(ValueError, match="start_level"):
        generator.decode(codes[:, :1], start_level=3)


def test_quantized_levels_sum_to_the_full_latent(generator):
    wav = 0.3 * torch.randn(2, 1, 1000)
    levels, frame_lengths = generator.quantized_levels(wav, torch.tensor([1000, 500]))
    assert len(levels) == 3 and frame_lengths.tolist() == [4, 2]
    codes, _ = generator.encode(wav, torch.tensor([1000, 500]))
    total = generator.quantizer.decode(codes)
    torch.testing.assert_close(sum(levels)[0], total[0])
    assert torch.all(levels[0][1, :, 2:] == 0)


def test_meta_info(generator):
    info = generator.meta_info()
    assert info["sample_rate"] == 16000 and info["hop_length"] == 320
    assert info["frame_rate"] == 50.0 and info["n_q"] == 3 and info["codebook_size"] == 4
    assert info["semantic_dim"] == TEACHER_DIM and info["bitrate"] == 50 * 3 * 2


def test_bad_inputs_are_refused(generator):
    with pytest.raises(ValueError, match=r"\[B, 1, N\]"):
        generator.encode(torch.randn(2, 100))
    with pytest.raises(ValueError, match="lengths"):
        generator.encode(torch.randn(2, 1, 100), torch.tensor([100, 101]))
    with pytest.raises(ValueError, match="codebook_size"):
        generator.decode(torch.full((1, 3, 2), 4))


def test_mismatched_components_are_refused(tiny_generator):
    encoder = SEANetEncoder(dimension=8, n_filters=2, strides=(2, 4), lstm_layers=0)
    decoder = SEANetDecoder(dimension=8, n_filters=2, strides=(4, 4), lstm_layers=0)
    quantizer = tiny_generator().quantizer
    with pytest.raises(ValueError, match="hop length"):
        SpeechTokenizerModel(encoder, quantizer, decoder)


# --- official release compatibility ---------------------------------------------------------

OFFICIAL_CONFIG = dict(n_filters=2, dimension=8, semantic_dimension=6, strides=[8, 5, 4, 2],
                       lstm_layers=1, bidirectional=True, dilation_base=2, residual_kernel_size=3,
                       n_residual_layers=1, activation="ELU", sample_rate=16000, n_q=3,
                       codebook_size=4)


@pytest.fixture(scope="module")
def official_class():
    """The PyPI package's model class, imported without its trainer's dependencies."""
    try:
        return official_speechtokenizer_class()
    except ImportError as e:
        pytest.skip(str(e))


def test_official_weights_give_the_official_codes_and_audio(official_class):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        official = official_class(OFFICIAL_CONFIG).eval()
    with torch.no_grad():
        for name, buffer in official.named_buffers():
            if name.endswith("inited"):
                buffer.fill_(1.0)
            elif name.endswith("embed"):
                buffer.copy_(torch.randn_like(buffer))
        for name, parameter in official.named_parameters():
            if name.endswith("weight_g"):  # break g = ||v|| so a g/v swap would show
                parameter.mul_(torch.rand_like(parameter) + 0.5)
    ours = SpeechTokenizerModel.from_official(OFFICIAL_CONFIG, official.state_dict())
    wav = 0.3 * torch.randn(2, 1, 1600)
    with torch.no_grad():
        expected_codes = official.encode(wav)  # [n_q, B, T]
        codes, _ = ours.encode(wav)
        assert torch.equal(codes, expected_codes.transpose(0, 1))
        torch.testing.assert_close(ours.decode(codes)[0], official.decode(expected_codes),
                                   atol=1e-5, rtol=1e-4)
        # st=1 restarts the residual at level 1
        restarted, _ = ours.encode(wav, n_q=2, start_level=1, restart_residual=True)
        assert torch.equal(restarted, official.encode(wav, n_q=3, st=1).transpose(0, 1))
        _, _, feature = official(wav)
        torch.testing.assert_close(ours(wav)["semantic"], feature, atol=1e-5, rtol=1e-4)
