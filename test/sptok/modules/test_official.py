"""Equivalence with the official ``speechtokenizer`` package (PyPI 1.0.1)."""
import warnings

import pytest
import torch

from sptok.modules.official import (convert_weight_norm_keys, load_official_state_dict,
                                    official_config_to_kwargs)
from sptok.modules.seanet import SEANetDecoder, SEANetEncoder
from sptok.modules.semantic import SemanticHead
from sptok.modules.weight_norm import remove_weight_norm
from sptok.utils.official_package import official_speechtokenizer_class

TINY_CONFIG = dict(n_filters=4, dimension=16, semantic_dimension=12, strides=[5, 4, 2], lstm_layers=2,
                   bidirectional=True, dilation_base=2, residual_kernel_size=3, n_residual_layers=1,
                   activation="ELU", sample_rate=16000, n_q=2, codebook_size=4)


@pytest.fixture(scope="module")
def official_class():
    """The package's ``SpeechTokenizer`` class, imported through sptok.utils.official_package."""
    try:
        return official_speechtokenizer_class()
    except ImportError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def official_model(official_class):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = official_class(TINY_CONFIG).eval()
    # Random weight norms: a fresh weight_norm has g = ||v||, which would hide a g/v swap.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("weight_g"):
                parameter.mul_(torch.rand_like(parameter) + 0.5)
    return model


def build_ours():
    encoder_kwargs, decoder_kwargs = official_config_to_kwargs(TINY_CONFIG)
    return SEANetEncoder(**encoder_kwargs).eval(), SEANetDecoder(**decoder_kwargs).eval()


def test_official_state_dict_uses_old_weight_norm_names(official_model):
    keys = official_model.state_dict().keys()
    assert "encoder.model.0.conv.conv.weight_g" in keys
    assert "decoder.model.3.convtr.convtr.weight_v" in keys


@pytest.mark.parametrize("fold", [False, True])
def test_official_weights_give_identical_outputs(official_model, fold):
    encoder, decoder = build_ours()
    if fold:
        remove_weight_norm(encoder)
        remove_weight_norm(decoder)
    state = official_model.state_dict()
    load_official_state_dict(encoder, state, "encoder.")
    load_official_state_dict(decoder, state, "decoder.")
    head = SemanticHead(TINY_CONFIG["dimension"], TINY_CONFIG["semantic_dimension"])
    load_official_state_dict(head, state, "transform.")
    torch.manual_seed(1)
    x = torch.randn(3, 1, 517)
    with torch.no_grad():
        z_official = official_model.encoder(x)
        z, _ = encoder(x)
        torch.testing.assert_close(z, z_official, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(decoder(z_official)[0], official_model.decoder(z_official),
                                   atol=1e-5, rtol=1e-5)
        features = z_official.transpose(1, 2)
        torch.testing.assert_close(head(features), official_model.transform(features))
        # Our lengths path on a padded batch equals the official model run per item.
        lengths = torch.tensor([517, 200, 40])
        z_batch, frames = encoder(x, lengths)
        for b, n in enumerate(lengths.tolist()):
            alone = official_model.encoder(x[b: b + 1, :, :n])
            torch.testing.assert_close(z_batch[b: b + 1, :, : frames[b]], alone, atol=1e-5, rtol=1e-5)


def test_new_parametrization_names_and_round_trip(official_model):
    encoder, _ = build_ours()
    load_official_state_dict(encoder, official_model.state_dict(), "encoder.")
    ours = encoder.state_dict()
    assert "model.0.conv.conv.parametrizations.weight.original0" in ours
    # Our own (new-style) state dict loads through the same function, with and without prefix.
    other, _ = build_ours()
    load_official_state_dict(other, {"encoder." + k: v for k, v in ours.items()}, "encoder.")
    for key, value in ours.items():
        assert torch.equal(other.state_dict()[key], value), key
    # ... and back into the old naming.
    old_keys = [k for k in official_model.state_dict() if k.startswith("encoder.")]
    back = convert_weight_norm_keys({"encoder." + k: v for k, v in ours.items()}, old_keys)
    assert set(back) == set(old_keys)
    # A folded checkpoint loads into a weight-normed model.
    folded = remove_weight_norm(build_ours()[0])
    load_official_state_dict(folded, official_model.state_dict(), "encoder.")
    unfolded, _ = build_ours()
    load_official_state_dict(unfolded, folded.state_dict())
    x = torch.randn(1, 1, 100)
    with torch.no_grad():
        torch.testing.assert_close(unfolded(x)[0], encoder(x)[0], atol=1e-5, rtol=1e-5)


def test_mapping_errors(official_model):
    encoder, _ = build_ours()
    with pytest.raises(ValueError, match="no key"):
        load_official_state_dict(encoder, official_model.state_dict(), "nothing.")
    with pytest.raises(ValueError, match="weight-norm"):
        convert_weight_norm_keys({"a.conv.weight_g": torch.ones(1)}, [])
    state = dict(official_model.state_dict())
    del state["encoder.model.10.lstm.weight_ih_l0"]
    with pytest.raises(RuntimeError, match="weight_ih_l0"):
        load_official_state_dict(encoder, state, "encoder.")
    with pytest.raises(ValueError, match="lacks"):
        official_config_to_kwargs({"n_filters": 4})


def test_config_mapping():
    encoder_kwargs, decoder_kwargs = official_config_to_kwargs(TINY_CONFIG)
    assert encoder_kwargs["strides"] == (2, 4, 5) and decoder_kwargs["strides"] == (5, 4, 2)
    assert encoder_kwargs["bidirectional"] and "bidirectional" not in decoder_kwargs
    assert not encoder_kwargs["true_skip"]
