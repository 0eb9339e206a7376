import re
import sys
import textwrap

import pytest

from sptok.utils.registry import ClassChoices, ConfigError, import_object, to_yaml_value


class AbsQuantizer:
    pass


class ResidualVQ(AbsQuantizer):
    def __init__(self, dim: int, n_q: int = 2, codebook_size: int = 4,
                 strides: tuple = (2, 4), activation=len, opts: dict = {"a": 1}):  # noqa: B006
        self.dim, self.n_q, self.codebook_size = dim, n_q, codebook_size
        self.strides, self.opts = strides, opts


class FlatVQ(AbsQuantizer):
    def __init__(self, *, codebook_size: int = 8):
        self.codebook_size = codebook_size


class AnyKwargs(AbsQuantizer):
    def __init__(self, depth: int = 1, **kwargs):
        self.depth, self.kwargs = depth, kwargs


class NotAQuantizer:
    def __init__(self, x: int = 0):
        self.x = x


class Exploding(AbsQuantizer):
    def __init__(self, size: int = 1):
        raise ValueError(f"size {size} is not a power of two")


MOD = re.escape(__name__)  # the module name pytest gives this file, as in qualified names


def make_choices(**kwargs) -> ClassChoices:
    kwargs.setdefault("default", "rvq")
    return ClassChoices("quantizer", {"rvq": ResidualVQ, "flat": FlatVQ}, **kwargs)


def test_build_by_name_with_conf():
    q = make_choices().build("rvq", {"dim": 3, "n_q": 5})
    assert isinstance(q, ResidualVQ) and (q.dim, q.n_q, q.codebook_size) == (3, 5, 4)
    assert make_choices().build("flat", None).codebook_size == 8
    assert make_choices().conf_key == "quantizer_conf"


def test_unknown_name_lists_choices_and_names_option():
    with pytest.raises(ConfigError) as e:
        make_choices().build("rvg", {})
    msg = str(e.value)
    assert msg.startswith("quantizer: unknown choice 'rvg'")
    assert "did you mean 'rvq'" in msg
    assert "rvq, flat" in msg and "package.module:Class" in msg


def test_unknown_keyword_names_itself_class_and_accepted_keywords():
    with pytest.raises(ConfigError) as e:
        make_choices().build("rvq", {"dim": 2, "nq": 3})
    msg = str(e.value)
    assert "quantizer_conf: unknown keyword 'nq'" in msg
    assert "did you mean 'n_q'" in msg
    assert f"ResidualVQ ({__name__}.ResidualVQ)" in msg
    assert "accepted keywords: dim, n_q, codebook_size, strides, activation, opts" in msg


def test_missing_required_keyword_names_itself_and_class():
    with pytest.raises(ConfigError, match=r"quantizer_conf: missing required keyword 'dim' for "
                                          r"ResidualVQ"):
        make_choices().build("rvq", {"n_q": 2})


def test_var_keyword_class_accepts_any_keyword():
    choices = ClassChoices("quantizer", {"any": AnyKwargs})
    q = choices.build("any", {"depth": 2, "whatever": [1]})
    assert q.depth == 2 and q.kwargs == {"whatever": [1]}
    assert choices.complete_conf("any", {"whatever": 1}) == {"depth": 1, "whatever": 1}


def test_conf_must_be_a_mapping_with_string_keys():
    with pytest.raises(ConfigError, match=r"quantizer_conf: expected a mapping .* got list"):
        make_choices().build("rvq", [1, 2])
    with pytest.raises(ConfigError, match=r"keyword names must be strings, got \[1\]"):
        make_choices().build("rvq", {1: 2, "dim": 1})


def test_name_must_be_a_string():
    with pytest.raises(ConfigError, match=r"quantizer: expected a class name, got 3 \(int\)"):
        make_choices().get_class(3)


def test_mandatory_choice_without_default():
    choices = make_choices(default=None)
    with pytest.raises(ConfigError, match=r"quantizer: no class chosen; set 'quantizer:' to one "
                                          r"of rvq, flat"):
        choices.build(None, {})


def test_default_must_be_registered():
    with pytest.raises(ValueError, match=r"default 'rvx' is not one of \['rvq', 'flat'\]"):
        make_choices(default="rvx")


def test_optional_component_switched_off():
    choices = make_choices(optional=True)
    assert choices.build("none", {}) is None
    assert choices.build(None, None) is None
    assert choices.complete_conf("none", {}) == {}
    with pytest.raises(ConfigError, match=r"quantizer_conf: given \(\['n_q'\]\) but quantizer "
                                          r"is 'none'"):
        choices.build("none", {"n_q": 2})
    # a mandatory component cannot be switched off
    with pytest.raises(ConfigError, match=r"unknown choice 'none'"):
        make_choices().build("none", {})


def test_register_and_decorator():
    choices = make_choices()
    choices.register("any", AnyKwargs)

    @choices.register("other")
    class Other(AbsQuantizer):
        def __init__(self, k: int = 3):
            self.k = k

    assert choices.choices() == ["rvq", "flat", "any", "other"]
    assert choices.build("other", {"k": 5}).k == 5
    choices.register("any", AnyKwargs)  # same class again: harmless
    with pytest.raises(ValueError, match=rf"'any' is already registered to "
                                         rf"{MOD}.AnyKwargs; cannot register"):
        choices.register("any", FlatVQ)


@pytest.mark.parametrize("bad", ["a.b", "pkg:cls", "none", ""])
def test_register_rejects_names_that_read_as_something_else(bad):
    with pytest.raises(ValueError, match="cannot register under"):
        make_choices().register(bad, FlatVQ)


def test_type_check_on_register_and_import_path():
    choices = make_choices(type_check=AbsQuantizer)
    with pytest.raises(ConfigError, match=rf"quantizer: 'bad' \({MOD}.NotAQuantizer\) is "
                                          rf"not a subclass of {MOD}.AbsQuantizer"):
        choices.register("bad", NotAQuantizer)
    with pytest.raises(ConfigError, match=rf"is not a subclass of {MOD}.AbsQuantizer"):
        choices.get_class(f"{__name__}:NotAQuantizer")
    with pytest.raises(ConfigError, match=r"quantizer: 'x' is not a class"):
        choices.register("x", ResidualVQ(dim=1))


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    """A user's own package outside sptok, importable by dotted path."""
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(textwrap.dedent("""
        class MyQuantizer:
            def __init__(self, levels: int, scale: float = 0.5):
                self.levels, self.scale = levels, scale

            class Inner:
                def __init__(self, size: int = 2):
                    self.size = size

        not_a_class = 3
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "mypkg"
    for name in [m for m in sys.modules if m == "mypkg" or m.startswith("mypkg.")]:
        del sys.modules[name]


def test_dotted_import_path(user_package):
    choices = make_choices()
    for path in ("mypkg.mod:MyQuantizer", "mypkg.mod.MyQuantizer"):
        q = choices.build(path, {"levels": 3})
        assert type(q).__name__ == "MyQuantizer" and (q.levels, q.scale) == (3, 0.5)
    assert choices.build("mypkg.mod:MyQuantizer.Inner", {}).size == 2
    assert choices.default_conf("mypkg.mod:MyQuantizer") == {"scale": 0.5}
    with pytest.raises(ConfigError, match=r"unknown keyword 'level' \(did you mean 'levels'\?\) "
                                          r"for MyQuantizer \(mypkg.mod.MyQuantizer\)"):
        choices.build("mypkg.mod:MyQuantizer", {"level": 3})
    assert choices.choices() == ["rvq", "flat"]  # an import path does not register anything


def test_dotted_import_path_errors(user_package):
    choices = make_choices()
    with pytest.raises(ConfigError, match=r"quantizer: cannot import module 'mypkg.nope' "
                                          r"\(from 'mypkg.nope:X'\)"):
        choices.get_class("mypkg.nope:X")
    with pytest.raises(ConfigError, match=r"quantizer: 'mypkg.mod:Missing': module 'mypkg.mod' "
                                          r"has no attribute 'Missing'"):
        choices.get_class("mypkg.mod:Missing")
    with pytest.raises(ConfigError, match=r"quantizer: 'mypkg.mod:not_a_class' is not a class"):
        choices.get_class("mypkg.mod:not_a_class")
    with pytest.raises(ConfigError, match=r"not an import path"):
        import_object(":X")


def test_injected_arguments():
    choices = make_choices(injected=["dim"])
    assert choices.build("rvq", {"n_q": 3}, dim=7).dim == 7
    assert "dim" not in choices.default_conf("rvq")
    with pytest.raises(ConfigError, match=r"quantizer_conf: 'dim' of ResidualVQ is set by the "
                                          r"task at build time"):
        choices.build("rvq", {"dim": 3}, dim=7)
    with pytest.raises(TypeError, match=r"build\(\) got \['size'\], which are not declared"):
        choices.build("rvq", {}, dim=1, size=2)
    # the accepted keywords listed in an error leave the injected one out
    with pytest.raises(ConfigError, match=r"accepted keywords: n_q, codebook_size, strides, "
                                          r"activation, opts$"):
        choices.build("rvq", {"x": 1}, dim=1)


def test_default_conf_and_complete_conf():
    choices = make_choices()
    # no required args, no non-YAML defaults (a function), tuples as lists
    assert choices.default_conf("rvq") == {
        "n_q": 2, "codebook_size": 4, "strides": [2, 4], "opts": {"a": 1}}
    completed = choices.complete_conf("rvq", {"opts": {"b": 2}, "dim": 5})
    # constructor order; a dict-valued argument is replaced whole, like a Python call would
    assert list(completed) == ["dim", "n_q", "codebook_size", "strides", "opts"]
    assert completed["opts"] == {"b": 2}
    assert choices.default_conf("flat") == {"codebook_size": 8}


def test_constructor_error_keeps_its_type_and_gains_context():
    choices = ClassChoices("quantizer", {"boom": Exploding})
    with pytest.raises(ValueError, match="size 3 is not a power of two") as e:
        choices.build("boom", {"size": 3})
    assert not isinstance(e.value, ConfigError)
    if hasattr(e.value, "__notes__"):
        assert "while building quantizer 'boom'" in e.value.__notes__[0]


def test_to_yaml_value():
    assert to_yaml_value((1, (2.0, "a"), None)) == (True, [1, [2.0, "a"], None])
    assert to_yaml_value({"a": (1,)}) == (True, {"a": [1]})
    assert to_yaml_value(len)[0] is False
    assert to_yaml_value([1, object()])[0] is False
    assert to_yaml_value({(1, 2): 3})[0] is False
