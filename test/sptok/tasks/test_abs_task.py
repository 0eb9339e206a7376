"""AbsTask, the task registry and the sptok.bin.train command line, with dummy components."""
import os
import re
import subprocess
import sys
import textwrap

import pytest
import torch

import sptok.tasks as tasks
from sptok.bin import train as train_cli
from sptok.tasks import AbsTask, get_task, load_config, register_task, resolve_config, task_names
from sptok.tasks.abs_task import summarize
from sptok.utils.config import ConfigError, Option, load_yaml, loads_yaml, parse_overrides
from sptok.utils.registry import ClassChoices


class ConvEncoder(torch.nn.Module):
    """[B, 1, T] -> [B, channels, T // stride]"""

    def __init__(self, channels: int, stride: int = 2, kernel_size: int = 4):
        super().__init__()
        self.channels = channels
        self.conv = torch.nn.Conv1d(1, channels, kernel_size, stride=stride)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.conv(wav)


class TinyRVQ(torch.nn.Module):
    """[B, D, T] -> (quantized [B, D, T], codes [B, n_q, T])"""

    def __init__(self, dim: int, n_q: int = 2, codebook_size: int = 4):
        super().__init__()
        self.codebooks = torch.nn.Parameter(torch.randn(n_q, codebook_size, dim))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        residual, quantized, codes = z, torch.zeros_like(z), []
        for codebook in self.codebooks:
            idx = torch.cdist(residual.transpose(1, 2), codebook[None]).argmin(-1)  # [B, T]
            q = codebook[idx].transpose(1, 2)
            quantized, residual = quantized + q, residual - q
            codes.append(idx)
        return quantized, torch.stack(codes, 1)


class TinyCodec(torch.nn.Module):
    def __init__(self, encoder: torch.nn.Module, quantizer: torch.nn.Module | None):
        super().__init__()
        self.encoder, self.quantizer = encoder, quantizer

    def forward(self, wav: torch.Tensor) -> dict:
        z = self.encoder(wav)
        if self.quantizer is None:
            return {"z": z}
        quantized, codes = self.quantizer(z)
        return {"quantized": quantized, "codes": codes}


encoder_choices = ClassChoices("encoder", {"conv": ConvEncoder}, default="conv")
quantizer_choices = ClassChoices("quantizer", {"rvq": TinyRVQ}, default="rvq", optional=True,
                                 injected=["dim"])


class TrainerBase(AbsTask):
    """Options a shared trainer would add to several tasks."""

    options = [Option("max_epoch", 1, help="passes over the training data"),
               Option("optim_conf", {"lr": 1e-3, "betas": [0.5, 0.9]})]


class DummyCodecTask(TrainerBase):
    options = [Option("segment_samples", 64, help="samples per training crop")]
    class_choices_list = [encoder_choices, quantizer_choices]
    trained: list = []

    @classmethod
    def build_model(cls, config):
        encoder = encoder_choices.build(config["encoder"], config["encoder_conf"])
        quantizer = quantizer_choices.build(config["quantizer"], config["quantizer_conf"],
                                            dim=encoder.channels)
        return TinyCodec(encoder, quantizer)

    @classmethod
    def dry_run_inputs(cls, config):
        return (torch.randn(2, 1, config["segment_samples"]),)

    @classmethod
    def train(cls, config, output_dir):
        cls.trained.append((config, output_dir))


class NoForwardTask(AbsTask):
    class_choices_list = [encoder_choices]

    @classmethod
    def build_model(cls, config):
        return encoder_choices.build(config["encoder"], config["encoder_conf"])


@pytest.fixture
def registered(monkeypatch):
    """The dummy tasks registered for one test only."""
    monkeypatch.setattr(tasks, "_TASKS", dict(tasks._TASKS))
    register_task("dummy_codec", DummyCodecTask)
    register_task("no_forward", NoForwardTask)
    DummyCodecTask.trained = []
    yield


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


CONFIG = """\
    task: dummy_codec
    segment_samples: 32
    encoder_conf:
      channels: 3
    quantizer_conf:
      n_q: 3
    optim_conf:
      lr: 1e-4
"""


# --- schema and config resolution --------------------------------------------------------------

def test_schema_collects_inherited_options_and_choices():
    assert DummyCodecTask.schema().known_keys() == [
        "task", "max_epoch", "optim_conf", "segment_samples",
        "encoder", "encoder_conf", "quantizer", "quantizer_conf"]
    assert DummyCodecTask.choices("quantizer") is quantizer_choices
    with pytest.raises(KeyError, match="DummyCodecTask has no component 'decoder'"):
        DummyCodecTask.choices("decoder")


def test_schema_rejects_reserved_and_duplicate_names():
    class Reserved(AbsTask):
        options = [Option("output_dir", "exp")]

    class TaskKey(AbsTask):
        options = [Option("task", "x")]

    class Twice(TrainerBase):
        options = [Option("lr", 1.0), Option("lr", 2.0)]

    class Clash(AbsTask):
        options = [Option("encoder_conf", {})]
        class_choices_list = [encoder_choices]

    with pytest.raises(TypeError, match="Reserved: option name 'output_dir' is reserved"):
        Reserved.schema()
    with pytest.raises(TypeError, match="TaskKey: option name 'task' is reserved"):
        TaskKey.schema()
    with pytest.raises(TypeError, match="Twice: 'lr' is declared twice"):
        Twice.schema()
    with pytest.raises(TypeError, match="Clash: ConfigSchema: key 'encoder_conf' is declared "
                                        "twice"):
        Clash.schema()


def test_subclass_redeclaration_replaces_in_place():
    other_encoders = ClassChoices("encoder", {"wide": ConvEncoder}, default="wide")

    class Longer(DummyCodecTask):
        options = [Option("max_epoch", 10)]
        class_choices_list = [other_encoders]

    schema = Longer.schema()
    assert schema.known_keys() == DummyCodecTask.schema().known_keys()
    assert schema.defaults()["max_epoch"] == 10 and schema.defaults()["encoder"] == "wide"
    assert DummyCodecTask.schema().defaults()["max_epoch"] == 1


def test_load_config_resolves_everything(registered, tmp_path):
    path = write(tmp_path / "train.yaml", CONFIG)
    task, config = load_config(path, parse_overrides(["--quantizer_conf.codebook_size", "8"]))
    assert task is DummyCodecTask
    assert config == {
        "task": "dummy_codec", "max_epoch": 1, "optim_conf": {"lr": 1e-4, "betas": [0.5, 0.9]},
        "segment_samples": 32,
        "encoder": "conv", "encoder_conf": {"channels": 3, "stride": 2, "kernel_size": 4},
        "quantizer": "rvq", "quantizer_conf": {"n_q": 3, "codebook_size": 8}}


def test_missing_or_unknown_task(registered, tmp_path):
    path = write(tmp_path / "notask.yaml", "encoder_conf: {channels: 2}\n")
    with pytest.raises(ConfigError, match=rf"^{path}: missing top-level 'task:' key .*registered "
                                          r"tasks: .*dummy_codec, no_forward"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"^x.yaml: unknown task 'dummy_codex' \(did you mean "
                                          r"'dummy_codec'\?\); registered: .*dummy_codec"):
        resolve_config({"task": "dummy_codex"}, source="x.yaml")
    with pytest.raises(ConfigError, match=r"--task: the task is fixed by the config file"):
        resolve_config({"task": "dummy_codec"}, parse_overrides(["--task", "no_forward"]))
    with pytest.raises(ConfigError, match=r"missing top-level 'task:' key"):
        DummyCodecTask.resolve_config({"encoder_conf": {"channels": 1}})


def test_unknown_top_level_key_in_task_config(registered, tmp_path):
    path = write(tmp_path / "typo.yaml", textwrap.dedent(CONFIG) + "max_epochs: 3\n")
    with pytest.raises(ConfigError, match=rf"^{path}: unknown option 'max_epochs' \(did you mean "
                                          r"'max_epoch'\?\); known options: task, max_epoch, "):
        load_config(path)


# --- task registry -----------------------------------------------------------------------------

def test_register_task_checks(registered):
    class NoModel(AbsTask):
        pass

    with pytest.raises(ConfigError, match=r"does not implement build_model\(\)"):
        register_task("no_model", NoModel)
    with pytest.raises(ConfigError, match=r"is not a subclass of sptok.tasks.abs_task.AbsTask"):
        register_task("not_a_task", dict)
    with pytest.raises(ValueError, match="'dummy_codec' is already registered"):
        register_task("dummy_codec", NoForwardTask)
    with pytest.raises(ValueError, match="not a plain task name"):
        register_task("a.b", NoForwardTask)
    register_task("dummy_codec", DummyCodecTask)  # again, same class: harmless

    @register_task("decorated")
    class Decorated(NoForwardTask):
        pass

    assert get_task("decorated") is Decorated
    assert {"dummy_codec", "no_forward", "decorated"} <= set(task_names())


@pytest.fixture
def user_tasks(tmp_path, monkeypatch):
    """A user's own task module outside sptok."""
    write(tmp_path / "usertasks.py", """\
        import torch

        from sptok.tasks import AbsTask
        from sptok.utils.registry import ClassChoices


        class Projection(torch.nn.Module):
            def __init__(self, channels: int, stride: int = 2):
                super().__init__()
                self.conv = torch.nn.Conv1d(1, channels, 1, stride=stride)


        encoder_choices = ClassChoices("encoder", {"proj": Projection}, default="proj")


        class UserTask(AbsTask):
            class_choices_list = [encoder_choices]

            @classmethod
            def build_model(cls, config):
                return encoder_choices.build(config["encoder"], config["encoder_conf"])


        not_a_task = 1
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "usertasks"
    sys.modules.pop("usertasks", None)


def test_task_by_import_path_and_lazy_registration(registered, user_tasks):
    task, config = resolve_config({"task": "usertasks:UserTask", "encoder_conf": {"channels": 2}})
    assert task.__name__ == "UserTask" and config["task"] == "usertasks:UserTask"
    register_task("lazy", "usertasks:UserTask")  # imported on first use
    assert tasks._TASKS["lazy"] == "usertasks:UserTask"
    assert get_task("lazy") is task and tasks._TASKS["lazy"] is task
    with pytest.raises(ConfigError, match=r"task: cannot import module 'nowhere'"):
        get_task("nowhere:Task")
    with pytest.raises(ConfigError, match=r"task 'usertasks:not_a_task': 1 is not a subclass"):
        get_task("usertasks:not_a_task")
    register_task("broken", "usertasks:missing")
    with pytest.raises(ConfigError, match=r"module 'usertasks' has no attribute 'missing'"):
        get_task("broken")


def test_builtin_tasks_import_and_implement_build_model():
    for name in task_names():
        assert issubclass(get_task(name), AbsTask)


# --- print_config round trip and dry run -------------------------------------------------------

def test_print_config_round_trip_builds_the_same_model(registered, tmp_path):
    _, config = load_config(write(tmp_path / "train.yaml", CONFIG))
    text = DummyCodecTask.format_config(config)
    assert text.startswith("# Config of task 'dummy_codec'")
    assert "# passes over the training data\nmax_epoch: 1\n" in text
    printed = write(tmp_path / "printed.yaml", text)
    task, again = load_config(printed)
    assert task is DummyCodecTask and again == config
    torch.manual_seed(0)
    model_a = DummyCodecTask.build_model(config)
    torch.manual_seed(0)
    model_b = DummyCodecTask.build_model(again)
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert list(state_a) == list(state_b) == ["encoder.conv.weight", "encoder.conv.bias",
                                              "quantizer.codebooks"]
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert state_a["quantizer.codebooks"].shape == (3, 4, 3)


def test_dry_run_builds_counts_and_runs_forward(registered):
    _, config = resolve_config({"task": "dummy_codec", "encoder_conf": {"channels": 2}})
    report = DummyCodecTask.dry_run(config)
    model = DummyCodecTask.build_model(config)
    assert report.num_params == sum(p.numel() for p in model.parameters()) == 2 * 4 + 2 + 2 * 4 * 2
    assert report.num_trainable == report.num_params
    assert report.model.endswith("TinyCodec")
    assert report.inputs == "(float32[2, 1, 64])"
    assert report.outputs == "{quantized: float32[2, 2, 31], codes: int64[2, 2, 31]}"
    assert "forward (float32[2, 1, 64]) -> {quantized" in str(report)
    assert DummyCodecTask.dry_run(config, forward=False).outputs is None


def test_dry_run_without_input_and_bad_model(registered):
    _, config = resolve_config({"task": "no_forward", "encoder_conf": {"channels": 2}})
    report = NoForwardTask.dry_run(config)
    assert report.inputs is None and "no forward pass" in str(report)

    class BadModel(NoForwardTask):
        @classmethod
        def build_model(cls, config):
            return "not a module"

    with pytest.raises(TypeError, match="BadModel.build_model returned str, not a torch.nn.Module"):
        BadModel.dry_run(config)


def test_base_train_is_abstract(registered):
    _, config = resolve_config({"task": "no_forward", "encoder_conf": {"channels": 2}})
    with pytest.raises(NotImplementedError, match=r"NoForwardTask does not implement train\(\)"):
        NoForwardTask.train(config, "exp")


def test_summarize():
    assert summarize({"a": torch.zeros(2, 3, dtype=torch.int32), "b": [None, 1.5]}) == \
        "{a: int32[2, 3], b: (None, 1.5)}"
    assert summarize(object()) == "object"


# --- the command line --------------------------------------------------------------------------

def test_cli_print_config(registered, tmp_path, capsys):
    path = write(tmp_path / "train.yaml", CONFIG)
    assert train_cli.main(["--config", str(path), "--print_config", "--max_epoch", "7",
                           "--encoder_conf.kernel_size=2"]) == 0
    printed = loads_yaml(capsys.readouterr().out)
    assert printed["max_epoch"] == 7 and printed["encoder_conf"]["kernel_size"] == 2
    _, expected = load_config(path, parse_overrides(["--max_epoch", "7",
                                                     "--encoder_conf.kernel_size", "2"]))
    assert printed == expected


def test_cli_print_config_of_task_defaults(registered, capsys):
    assert train_cli.main(["--task", "no_forward", "--print_config",
                           "--encoder_conf.channels", "5"]) == 0
    assert loads_yaml(capsys.readouterr().out) == {
        "task": "no_forward", "encoder": "conv",
        "encoder_conf": {"channels": 5, "stride": 2, "kernel_size": 4}}


def test_cli_dry_run(registered, tmp_path, capsys):
    path = write(tmp_path / "train.yaml", CONFIG)
    assert train_cli.main(["--config", str(path), "--dry_run"]) == 0
    out = capsys.readouterr().out
    assert "task dummy_codec: built" in out and "codes: int64[2, 3, 15]" in out
    assert not any(tmp_path.glob("**/config.yaml"))  # a dry run writes nothing


def test_cli_train_saves_the_config_it_uses(registered, tmp_path):
    path = write(tmp_path / "train.yaml", CONFIG)
    out_dir = tmp_path / "exp" / "codec"
    assert train_cli.main(["--config", str(path), "--output_dir", str(out_dir),
                           "--quantizer", "none", "--quantizer_conf", "{}"]) == 0
    [(used, used_dir)] = DummyCodecTask.trained
    assert used_dir == out_dir
    assert used["quantizer"] == "none" and used["quantizer_conf"] == {}
    assert load_yaml(out_dir / "config.yaml") == used
    # the saved config trains the same thing again
    assert load_config(out_dir / "config.yaml") == (DummyCodecTask, used)


@pytest.mark.parametrize("argv, message", [
    (["--config", "{cfg}", "--encoder", "cnv"],
     r"error: {cfg} \+ command line: encoder: unknown choice 'cnv' \(did you mean 'conv'\?\)"),
    (["--config", "{cfg}", "--task", "no_forward", "--print_config"],
     r"error: --task no_forward: {cfg} says task: dummy_codec; drop --task"),
    (["--config", "{cfg}", "stray"], r"error: unexpected command-line argument 'stray'"),
    (["--config", "{cfg}", "--max_epoch", "many", "--dry_run"],
     r"error: {cfg} \+ command line: max_epoch: expected int, got 'many'"),
    (["--config", "{dir}/missing.yaml", "--dry_run"], r"error: {dir}/missing.yaml: no such"),
])
def test_cli_config_errors(registered, tmp_path, capsys, argv, message):
    cfg = write(tmp_path / "train.yaml", CONFIG)
    argv = [a.format(cfg=cfg, dir=tmp_path) for a in argv]
    assert train_cli.main(argv) == 2
    assert re.search(message.format(cfg=cfg, dir=tmp_path), capsys.readouterr().err)
    assert DummyCodecTask.trained == []


@pytest.mark.parametrize("argv, message", [
    ([], "give --config FILE"),
    (["--task", "dummy_codec", "--output_dir", "exp"], "training needs --config"),
    (["--config", "{cfg}"], "training needs --output_dir"),
    (["--conf", "{cfg}", "--dry_run"], "give --config FILE"),  # no prefix matching
])
def test_cli_usage_errors(registered, tmp_path, capsys, argv, message):
    cfg = write(tmp_path / "train.yaml", CONFIG)
    argv = [a.format(cfg=cfg) for a in argv]
    try:
        rc = train_cli.main(argv)
    except SystemExit as e:
        rc = e.code
    assert rc == 2
    assert message in capsys.readouterr().err
    assert DummyCodecTask.trained == []


def test_cli_runs_as_a_module(tmp_path, user_tasks):
    cfg = write(tmp_path / "train.yaml", """\
        task: usertasks:UserTask
        encoder_conf: {channels: 2}
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path)] + sys.path))
    proc = subprocess.run([sys.executable, "-m", "sptok.bin.train", "--config", str(cfg),
                           "--dry_run", "--print_config"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "encoder_conf:\n  channels: 2\n  stride: 2\n" in proc.stdout
    assert "task usertasks:UserTask: built" in proc.stdout
