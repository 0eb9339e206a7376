import pytest

from sptok.utils.config import (ConfigError, ConfigSchema, Option, apply_overrides, deep_merge,
                                dump_yaml, load_yaml, loads_yaml, parse_overrides, save_config)
from sptok.utils.registry import ClassChoices


class Encoder:
    def __init__(self, channels: int, strides: tuple = (2, 4), causal: bool = False):
        self.channels, self.strides, self.causal = channels, strides, causal


class Decoder:
    def __init__(self, channels: int = 8):
        self.channels = channels


def make_schema() -> ConfigSchema:
    return ConfigSchema(
        options=[Option("task", None, type=str),
                 Option("batch_size", 8, help="utterances per batch\nper GPU"),
                 Option("lr", 1e-3),
                 Option("optim_conf", {"betas": [0.5, 0.9], "eps": 1e-8}),
                 Option("precision", "fp32", choices=["fp32", "bf16"])],
        choices=[ClassChoices("encoder", {"seanet": Encoder}, default="seanet"),
                 ClassChoices("decoder", {"seanet": Decoder}, default="seanet", optional=True)])


# --- YAML --------------------------------------------------------------------------------------

def test_floats_without_a_dot_are_floats():
    data = loads_yaml("lr: 1e-4\nb: -2E3\nc: 1.5e-3\nd: '1e-4'\ne: 10\nf: 1_000\n")
    assert data == {"lr": 1e-4, "b": -2000.0, "c": 1.5e-3, "d": "1e-4", "e": 10, "f": 1000}
    assert isinstance(data["lr"], float) and isinstance(data["e"], int)


def test_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("task: codec\nencoder_conf:\n  channels: [1, 2\nlr: 3\n")
    with pytest.raises(ConfigError, match=rf"^{path}:4:3: invalid YAML: "):
        load_yaml(path)


def test_duplicate_key_is_an_error_with_both_lines(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("task: codec\nlr: 1\nbatch_size: 2\nlr: 2\n")
    with pytest.raises(ConfigError, match=rf"^{path}:4:1: invalid YAML: duplicate key 'lr' "
                                          r"\(first given at line 2\)"):
        load_yaml(path)
    # YAML merge keys may be overridden on purpose
    assert loads_yaml("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n")["c"] == {"x": 3, "y": 2}


def test_load_yaml_top_level_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: no such config file"):
        load_yaml(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"list.yaml: the top level must be a mapping of "
                                          r"options, got list"):
        load_yaml(tmp_path / "list.yaml")
    (tmp_path / "keys.yaml").write_text("1: a\n")
    with pytest.raises(ConfigError, match=r"top-level keys must be strings, got \[1\]"):
        load_yaml(tmp_path / "keys.yaml")
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    assert load_yaml(tmp_path / "empty.yaml") == {}


def test_dump_yaml_round_trip_and_layout():
    shared = [1, 2]
    data = {"s": "1e-4", "t": (8, 5), "f": 1e-8, "nested": {"a": shared, "b": shared},
            "none": None, "yes": "yes", "deep": [[1, 2], {"k": "v"}]}
    text = dump_yaml(data)
    assert "&" not in text and "*" not in text  # no anchors for shared objects
    assert "t: [8, 5]\n" in text
    back = loads_yaml(text)
    assert back == {**data, "t": [8, 5]}
    assert back["s"] == "1e-4" and back["yes"] == "yes"


def test_save_config_is_atomic_and_round_trips(tmp_path):
    config = {"task": "codec", "lr": 1e-4, "encoder_conf": {"strides": [2, 4]}}
    path = save_config(config, tmp_path / "exp" / "config.yaml")
    assert load_yaml(path) == config
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.yaml"]


# --- command-line overrides --------------------------------------------------------------------

def test_parse_overrides_forms_and_yaml_values():
    assert parse_overrides(["--lr", "1e-4", "--encoder_conf.strides", "[2, 4]",
                            "--name=abc", "--x", "-1", "--y", "null", "--z", "true"]) == [
        (["lr"], 1e-4), (["encoder_conf", "strides"], [2, 4]), (["name"], "abc"),
        (["x"], -1), (["y"], None), (["z"], True)]


@pytest.mark.parametrize("args, message", [
    (["lr", "1"], r"unexpected command-line argument 'lr'"),
    (["--", "1"], r"unexpected command-line argument '--'"),
    (["--lr"], r"--lr: needs a value"),
    (["--lr", "--x", "1"], r"--lr: needs a value"),
    (["--a..b", "1"], r"--a..b: not an option name"),
    (["--a-b", "1"], r"--a-b: not an option name"),
    (["--lr", "[1, 2"], r"^--lr value:1:\d+: invalid YAML"),
])
def test_parse_overrides_errors(args, message):
    with pytest.raises(ConfigError, match=message):
        parse_overrides(args)


def test_apply_overrides_creates_and_refuses_non_mappings():
    config = {"lr": 1.0, "enc": None, "dec": {"a": 1}}
    apply_overrides(config, [(["enc", "x"], 1), (["dec", "b"], 2), (["dec", "a"], 3)])
    assert config == {"lr": 1.0, "enc": {"x": 1}, "dec": {"a": 3, "b": 2}}
    with pytest.raises(ConfigError, match=r"--lr.x: 'lr' is 1.0, not a mapping"):
        apply_overrides(config, [(["lr", "x"], 1)])


def test_deep_merge_does_not_touch_inputs():
    base = {"a": {"b": 1, "c": [1]}, "d": 1}
    update = {"a": {"b": 2}, "e": {"f": 1}}
    merged = deep_merge(base, update)
    assert merged == {"a": {"b": 2, "c": [1]}, "d": 1, "e": {"f": 1}}
    merged["a"]["c"].append(2)
    assert base == {"a": {"b": 1, "c": [1]}, "d": 1} and update == {"a": {"b": 2}, "e": {"f": 1}}


# --- options -----------------------------------------------------------------------------------

def test_option_types_inferred_from_default():
    assert Option("lr", 0.1).check(1) == 1.0 and isinstance(Option("lr", 0.1).check(1), float)
    assert Option("n", 1).check(3) == 3
    with pytest.raises(ConfigError, match=r"n: expected int, got 'ten' \(str\)"):
        Option("n", 1).check("ten")
    with pytest.raises(ConfigError, match=r"n: expected int, got True \(bool\)"):
        Option("n", 1).check(True)
    with pytest.raises(ConfigError, match=r"flag: expected bool, got 1 \(int\)"):
        Option("flag", False).check(1)
    with pytest.raises(ConfigError, match=r"lr: expected float, got '1e-3x' \(str\)"):
        Option("lr", 0.1).check("1e-3x")
    assert Option("strides", (2, 4)).default == [2, 4]
    assert Option("anything", None).check({"x": 1}) == {"x": 1}
    assert Option("either", None, type=(int, str)).check("a") == "a"


def test_option_null_and_choices():
    with pytest.raises(ConfigError, match=r"n: must not be null \(default: 1\)"):
        Option("n", 1).check(None)
    assert Option("n", 1, nullable=True).check(None) is None
    with pytest.raises(ConfigError, match=r"precision: 'bf61' is not one of \['fp32', 'bf16'\] "
                                          r"\(did you mean 'bf16'\?\)"):
        Option("precision", "fp32", choices=["fp32", "bf16"]).check("bf61")
    with pytest.raises(ConfigError, match="precision: 'x' is not one of"):
        Option("precision", "x", choices=["fp32"])  # a bad declaration fails at once
    with pytest.raises(ValueError, match="identifier"):
        Option("a-b", 1)


# --- schema: layering, validation, printing ----------------------------------------------------

def test_known_keys_and_duplicates():
    assert make_schema().known_keys() == [
        "task", "batch_size", "lr", "optim_conf", "precision",
        "encoder", "encoder_conf", "decoder", "decoder_conf"]
    with pytest.raises(ValueError, match="key 'encoder_conf' is declared twice"):
        ConfigSchema([Option("encoder_conf", {})], [ClassChoices("encoder", {"e": Encoder})])


def test_unknown_top_level_key_names_it_and_lists_known_keys():
    with pytest.raises(ConfigError) as e:
        make_schema().resolve({"task": "t", "batchsize": 4}, source="conf/a.yaml")
    assert str(e.value) == (
        "conf/a.yaml: unknown option 'batchsize' (did you mean 'batch_size'?); known options: "
        "task, batch_size, lr, optim_conf, precision, encoder, encoder_conf, decoder, "
        "decoder_conf")
    with pytest.raises(ConfigError, match=r"^--encoderconf.x: unknown option 'encoderconf'"):
        make_schema().resolve({}, parse_overrides(["--encoderconf.x", "1"]))


def test_resolve_layers_defaults_file_overrides():
    file_config = {"task": "t", "lr": 1e-4, "optim_conf": {"eps": 1e-6},
                   "encoder_conf": {"channels": 4, "causal": True}}
    overrides = parse_overrides(["--batch_size", "3", "--encoder_conf.channels", "16",
                                 "--decoder", "none"])
    config = make_schema().resolve(file_config, overrides, source="a.yaml")
    assert config == {
        "task": "t", "batch_size": 3, "lr": 1e-4,
        "optim_conf": {"betas": [0.5, 0.9], "eps": 1e-6},  # file merged into the default
        "precision": "fp32",
        "encoder": "seanet", "encoder_conf": {"channels": 16, "strides": [2, 4], "causal": True},
        "decoder": "none", "decoder_conf": {}}
    assert file_config["encoder_conf"] == {"channels": 4, "causal": True}  # input untouched
    # a whole mapping on the command line replaces it
    replaced = make_schema().resolve(file_config, parse_overrides(["--optim_conf", "{eps: 1}"]))
    assert replaced["optim_conf"] == {"eps": 1}
    # component defaults are completed for the chosen class
    assert replaced["decoder_conf"] == {"channels": 8}


def test_resolve_errors_name_the_source_and_key():
    schema = make_schema()
    with pytest.raises(ConfigError, match=r"^a.yaml: lr: expected float, got 'fast'"):
        schema.resolve({"lr": "fast", "encoder_conf": {"channels": 1}}, source="a.yaml")
    with pytest.raises(ConfigError, match=r"^a.yaml \+ command line: encoder_conf: missing "
                                          r"required keyword 'channels' for Encoder"):
        schema.resolve({}, parse_overrides(["--lr", "1"]), source="a.yaml")
    with pytest.raises(ConfigError, match=r"^a.yaml: decoder_conf: unknown keyword 'chanels'"):
        schema.resolve({"encoder_conf": {"channels": 1}, "decoder_conf": {"chanels": 2}},
                       source="a.yaml")


def test_null_component_conf_means_empty():
    config = make_schema().resolve({"encoder_conf": {"channels": 2}, "decoder_conf": None})
    assert config["decoder_conf"] == {"channels": 8}


def test_format_round_trips_and_shows_help():
    schema = make_schema()
    config = schema.resolve({"task": "t", "encoder_conf": {"channels": 4}})
    text = schema.format(config, header=["header line"])
    assert text.startswith("# header line\n")
    assert "# utterances per batch\n# per GPU\nbatch_size: 8\n" in text
    assert "# encoder: one of seanet; or an import path 'package.module:Class'\n" in text
    assert "decoder: one of seanet, 'none' (switched off)" in text
    assert "optim_conf:\n  betas: [0.5, 0.9]\n  eps: 1.0e-08\n" in text
    back = loads_yaml(text)
    assert back == config
    assert schema.resolve(back) == config  # resolving is idempotent
