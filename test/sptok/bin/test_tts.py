"""sptok.bin.tts: zero-shot TTS end to end with a tiny random codec and a tiny USLM, batching,
bad inputs, and the decode list of a data dir (prompts from other utterances of the speaker)."""
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))
from tiny_codecs import make_exp_dir  # noqa: E402

from sptok.bin import tts  # noqa: E402
from sptok.data.kaldi_dir import read_kv_file  # noqa: E402
from sptok.tasks import resolve_config  # noqa: E402
from sptok.tasks.uslm import USLMTask  # noqa: E402
from sptok.text.g2p import G2P  # noqa: E402
from sptok.text.symbol_table import SymbolTable  # noqa: E402
from sptok.train.checkpoint import save_generator_weights  # noqa: E402
from sptok.utils.config import save_config  # noqa: E402

RATE, HOP = 16000, 320
TINY_MODEL = {"d_model": 16, "num_heads": 2, "num_layers": 1, "ffn_dim": 32, "dropout": 0.0}
MAX_FRAMES = 6


@pytest.fixture(autouse=True)
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_uslm_exp(root: Path, eos_bias: float = -30.0, token_list=None, **overrides) -> Path:
    """A 'trained' USLM experiment for the tiny codec (3 levels x 4 codes): config.yaml,
    10steps.pth, tokens.txt. ``eos_bias`` on the AR's EOS logit sets when it stops (-30:
    never, so every item gets max_frames frames)."""
    file_config = {"task": "uslm", "codebook_size": 4, "n_q": 3, "ar_conf": TINY_MODEL,
                   "nar_conf": TINY_MODEL, **overrides}
    if token_list is not None:
        SymbolTable.from_inventory(token_list).save(root / "tokens_in.txt")
        file_config["token_list"] = str(root / "tokens_in.txt")
    config = resolve_config(file_config)[1]
    torch.manual_seed(0)
    generator = USLMTask.build_generator(config)
    if generator.ar is not None:
        with torch.no_grad():
            generator.ar.head.bias[generator.ar.eos_id] = eos_bias
    exp = root / "uslm_exp"
    save_generator_weights(exp / "10steps.pth", generator)
    save_config(config, exp / "config.yaml")
    USLMTask.save_text_files(config, exp)
    return exp


def write_noise(path: Path, seconds: float, rate: int = RATE, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.2 * rng.standard_normal(int(seconds * rate))).astype(np.float32), rate)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    (root / "codec").mkdir()
    return {"codec": make_exp_dir(root / "codec"), "uslm": make_uslm_exp(root)}


def run(models, *args) -> int:
    return tts.main(["--uslm_exp", str(models["uslm"]), "--codec", str(models["codec"]),
                     "--max_frames", str(MAX_FRAMES), *args])


def test_one_item_end_to_end(models, tmp_path):
    prompt = write_noise(tmp_path / "prompt.wav", 1.2)
    out = tmp_path / "out" / "hello.wav"
    assert run(models, "--prompt_wav", str(prompt), "--prompt_text", "a test",
               "--text", "Hello world.", "--out", str(out)) == 0
    info = sf.info(out)
    assert info.samplerate == RATE and info.frames == MAX_FRAMES * HOP
    assert [p.name for p in out.parent.iterdir()] == ["hello.wav"]  # no temporary left
    wav, _ = sf.read(out)
    assert np.abs(wav).max() > 0


def test_batches_give_the_same_audio_as_single_items(models, tmp_path):
    prompts = [write_noise(tmp_path / f"p{i}.wav", 1.0 + 0.3 * i, seed=i) for i in range(3)]
    lines = ["utt\t{}\ta test\tHello world.".format(prompts[0]),
             "k2\t{}\tthe dog\tGood morning to you, Doctor Smith!".format(prompts[1]),
             "k3\t{}\tone two three\tRead it.".format(prompts[2])]
    batch_file = tmp_path / "list.tsv"
    batch_file.write_text("\n".join(lines) + "\n")
    outputs = {}
    for size in (3, 1):
        out_dir = tmp_path / f"out{size}"
        assert run(models, "--batch_file", str(batch_file), "--out_dir", str(out_dir),
                   "--batch_size", str(size), "--top_k", "3", "--seed", "7") == 0
        scp = read_kv_file(out_dir / "wav.scp")
        assert list(scp) == ["k2", "k3", "utt"]
        outputs[size] = {k: sf.read(v)[0] for k, v in scp.items()}
    for key in outputs[1]:
        np.testing.assert_array_equal(outputs[1][key], outputs[3][key])
    # the one-item call of the same request (key 'utt', same seed) gives the same audio
    single = tmp_path / "single.wav"
    assert run(models, "--prompt_wav", str(prompts[0]), "--prompt_text", "a test", "--text",
               "Hello world.", "--out", str(single), "--top_k", "3", "--seed", "7") == 0
    np.testing.assert_array_equal(sf.read(single)[0], outputs[1]["utt"])
    # another seed samples other codes
    assert run(models, "--batch_file", str(batch_file), "--out_dir", str(tmp_path / "seed8"),
               "--top_k", "3", "--seed", "8") == 0
    other = sf.read(tmp_path / "seed8" / "wav" / "k2.wav")[0]
    assert not np.array_equal(other, outputs[1]["k2"])


def test_bad_inputs_are_named(models, tmp_path, capsys):
    prompt = write_noise(tmp_path / "prompt.wav", 1.2)
    out = tmp_path / "out.wav"

    def error(*args) -> str:
        capsys.readouterr()
        assert run(models, *args, "--out", str(out)) == 1
        assert not out.exists()
        return capsys.readouterr().err

    assert "text is empty" in error("--prompt_wav", str(prompt), "--prompt_text", "a test",
                                    "--text", "  ")
    low_rate = write_noise(tmp_path / "low.wav", 1.2, rate=8000)
    message = error("--prompt_wav", str(low_rate), "--prompt_text", "a test", "--text", "Hi.")
    assert "8000 Hz" in message and "16000 Hz" in message and "low.wav" in message
    short = write_noise(tmp_path / "short.wav", 0.5)
    assert "shorter than" in error("--prompt_wav", str(short), "--prompt_text", "a test",
                                   "--text", "Hi.")
    assert "not found" in error("--prompt_wav", str(tmp_path / "nope.wav"), "--prompt_text",
                                "a test", "--text", "Hi.")
    # a batch file with a broken line: nothing is decoded
    bad_list = tmp_path / "bad.tsv"
    bad_list.write_text(f"k1\t{prompt}\ta test\tHi.\nk2\t{prompt}\tno text field\n")
    capsys.readouterr()
    assert run(models, "--batch_file", str(bad_list), "--out_dir", str(tmp_path / "o")) == 1
    assert "bad.tsv:2: expected 4 tab-separated fields" in capsys.readouterr().err
    # a later item with empty text stops the run before any decoding
    late = tmp_path / "late.tsv"
    late.write_text(f"k1\t{prompt}\ta test\tHi.\nk2\t{prompt}\ta test\t \n")
    assert run(models, "--batch_file", str(late), "--out_dir", str(tmp_path / "late")) == 1
    assert "key 'k2': text is empty" in capsys.readouterr().err
    assert not (tmp_path / "late" / "wav.scp").exists()


def test_unknown_symbols(tmp_path, capsys):
    """A model whose token list lacks a phoneme of the text."""
    symbols = G2P()("a test")  # AH0 _ T EH1 S T
    (tmp_path / "codec").mkdir()
    models = {"codec": make_exp_dir(tmp_path / "codec"),
              "uslm": make_uslm_exp(tmp_path, token_list=symbols)}
    prompt = write_noise(tmp_path / "prompt.wav", 1.2)
    out = tmp_path / "out.wav"
    assert run(models, "--prompt_wav", str(prompt), "--prompt_text", "a test", "--text",
               "test a test", "--out", str(out)) == 0
    assert run(models, "--prompt_wav", str(prompt), "--prompt_text", "a test", "--text",
               "a zoo", "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert "'a zoo'" in err and "'Z'" in err and "not in the model's token table" in err


def test_codec_and_models_must_fit(tmp_path):
    from sptok import SpeechTokenizer
    from sptok.tasks.uslm import load_uslm

    (tmp_path / "codec").mkdir()
    codec = SpeechTokenizer.from_pretrained(make_exp_dir(tmp_path / "codec"))
    wrong = make_uslm_exp(tmp_path / "a", codebook_size=8)
    with pytest.raises(ValueError, match="codebooks of 4: not the codec"):
        tts.Synthesizer(load_uslm(wrong), codec)
    deep = make_uslm_exp(tmp_path / "b", n_q=5)
    with pytest.raises(ValueError, match="predicts 5 levels but the codec has only 3"):
        tts.Synthesizer(load_uslm(deep), codec)
    ar_only = make_uslm_exp(tmp_path / "c", train_nar=False)
    with pytest.raises(ValueError, match="no NAR model"):
        tts.Synthesizer(load_uslm(ar_only), codec)


def test_ar_and_nar_from_two_experiments(models, tmp_path):
    ar = make_uslm_exp(tmp_path / "ar", train_nar=False)
    nar = make_uslm_exp(tmp_path / "nar", train_ar=False)
    prompt = write_noise(tmp_path / "prompt.wav", 1.2)
    out = tmp_path / "out.wav"
    assert tts.main(["--uslm_exp", str(ar), str(nar), "--codec", str(models["codec"]),
                     "--max_frames", "4", "--prompt_wav", str(prompt), "--prompt_text",
                     "a test", "--text", "Hello.", "--out", str(out)]) == 0
    assert sf.info(out).frames == 4 * HOP


def test_immediate_eos_gives_a_frame_of_silence(models, tmp_path, caplog):
    eager = {"codec": models["codec"], "uslm": make_uslm_exp(tmp_path, eos_bias=30.0)}
    prompt = write_noise(tmp_path / "prompt.wav", 1.2)
    out = tmp_path / "out.wav"
    assert run(eager, "--prompt_wav", str(prompt), "--prompt_text", "a test", "--text",
               "Hello.", "--out", str(out)) == 0
    wav, rate = sf.read(out)
    assert rate == RATE and wav.shape == (HOP,) and not wav.any()
    assert "stopped at once" in caplog.text


# ------------------------------------------------------------------------------------------------
# Decode list of a data dir

# speaker -> [(utt, seconds, text)]
CORPUS = {
    "spkA": [("a1", 4.0, "one two three four five six seven eight"),
             ("a2", 2.0, "nine ten"), ("a3", 0.5, "short")],
    "spkB": [("b1", 3.5, "alone here")],
    "spkC": [("c1", 2.0, "cat one"), ("c2", 2.5, "cat two")],
    "spkD": [(f"d{i}", 1.5, f"dog {i}") for i in range(6)],
}


def write_data_dir(root: Path, rate: int = 22050) -> Path:
    data = root / "data"
    data.mkdir(parents=True)
    wav_scp, text, utt2spk = [], [], []
    for spk, utts in CORPUS.items():
        for index, (utt, seconds, words) in enumerate(utts):
            path = write_noise(root / "wav" / f"{utt}.wav", seconds, rate, seed=index)
            wav_scp.append(f"{utt} {path}")
            text.append(f"{utt} {words}")
            utt2spk.append(f"{utt} {spk}")
    for name, lines in (("wav.scp", wav_scp), ("text", text), ("utt2spk", utt2spk)):
        (data / name).write_text("\n".join(sorted(lines)) + "\n")
    return data


def test_decode_list_takes_prompts_from_other_utterances_of_the_speaker(tmp_path):
    data = write_data_dir(tmp_path)
    out = tmp_path / "decode"
    requests = tts.build_decode_list(data, out, RATE, prompt_seconds=3.0, min_prompt_seconds=1.0,
                                     seed=0)
    utt2spk = {u: s for s, utts in CORPUS.items() for u, _, _ in utts}
    seconds = {u: sec for utts in CORPUS.values() for u, sec, _ in utts}
    texts = {u: t for utts in CORPUS.values() for u, _, t in utts}
    keys = [r.key for r in requests]
    assert "b1" not in keys  # its speaker has no other utterance
    assert keys == sorted(set(utt2spk) - {"b1"})
    chosen = read_kv_file(out / "utt2prompt")
    for request in requests:
        prompt = chosen[request.key]
        assert prompt != request.key and utt2spk[prompt] == utt2spk[request.key]
        assert seconds[prompt] >= 1.0  # a3 (0.5 s) is never a prompt
        assert request.text == texts[request.key]
        wav, rate = sf.read(request.prompt_wav)
        assert rate == RATE and len(wav) == min(int(seconds[prompt] * RATE), 3 * RATE)
        assert Path(request.prompt_wav).name == f"{prompt}.wav"
    assert chosen["a1"] == "a2" and chosen["c1"] == "c2" and chosen["c2"] == "c1"
    # a1 (4 s) cut to 3 s: its transcript keeps the leading 3/4 of the words
    by_key = {r.key: r for r in requests}
    assert by_key["a2"].prompt_text == "one two three four five six"
    assert by_key["a1"].prompt_text == "nine ten"
    assert tts.read_batch_file(out / "decode_list.tsv") == requests
    assert read_kv_file(out / "prompt.scp")["c1"] == by_key["c1"].prompt_wav
    assert list(read_kv_file(out / "utt2spk")) == keys
    # deterministic for a seed, and the seed matters (spkD has 5 candidates per utterance)
    again = tts.build_decode_list(data, tmp_path / "again", RATE, seed=0)
    assert [(r.key, Path(r.prompt_wav).name) for r in again] == [
        (r.key, Path(r.prompt_wav).name) for r in requests]
    tts.build_decode_list(data, tmp_path / "other", RATE, seed=1)
    other_chosen = read_kv_file(tmp_path / "other" / "utt2prompt")
    assert any(other_chosen[f"d{i}"] != chosen[f"d{i}"] for i in range(6))


def test_data_dir_mode_of_the_command_line(models, tmp_path):
    data = write_data_dir(tmp_path, rate=RATE)
    out = tmp_path / "decode"
    assert tts.main(["--data_dir", str(data), "--out_dir", str(out), "--list_only", "true",
                     "--sample_rate", str(RATE)]) == 0
    assert (out / "decode_list.tsv").is_file() and not (out / "wav.scp").exists()
    assert run(models, "--data_dir", str(data), "--out_dir", str(out), "--batch_size", "4") == 0
    scp = read_kv_file(out / "wav.scp")
    assert list(scp) == list(read_kv_file(out / "text"))
    assert all(sf.info(p).samplerate == RATE for p in scp.values())
