"""The base of every training task (ESPnet's AbsTask): config schema, model building, dry run.

A task is a class, never instantiated, that declares

* ``class_choices_list``: one :class:`~sptok.utils.registry.ClassChoices` per swappable
  component (``quantizer: rvq`` + ``quantizer_conf: {...}``);
* ``options``: its own top-level :class:`~sptok.utils.config.Option` s with defaults;
* :meth:`build_model`: the model from a resolved config;
* optionally :meth:`dry_run_inputs`: a short random input, so that a dry run also checks
  that the configured parts fit together;
* :meth:`train`: the training loop.

Options and choices declared by base classes are inherited (a shared trainer base can add
its options to several tasks); redeclaring one by name replaces it. Tasks are found by name
through :mod:`sptok.tasks`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, Optional, Sequence, Union

import torch

from sptok.utils.config import ConfigError, ConfigSchema, Option, Override
from sptok.utils.registry import ClassChoices, qualified_name

# Command-line arguments of sptok.bin.train; a task option of the same name could not be set.
RESERVED_NAMES = ("config", "output_dir", "print_config", "dry_run", "help")

TASK_OPTION = Option(
    "task", None, type=str,
    help="Task that reads this config (sptok.tasks); required at the top of every training YAML.")

DryRunInputs = Union[tuple, dict]


def summarize(obj: Any) -> str:
    """Short description of nested outputs: tensors as ``float32[2, 8, 50]``."""
    if isinstance(obj, torch.Tensor):
        return f"{str(obj.dtype).replace('torch.', '')}{list(obj.shape)}"
    if isinstance(obj, Mapping):
        return "{" + ", ".join(f"{k}: {summarize(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "(" + ", ".join(summarize(v) for v in obj) + ")"
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = ", ".join(f"{f.name}={summarize(getattr(obj, f.name))}"
                           for f in dataclasses.fields(obj))
        return f"{type(obj).__name__}({fields})"
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return repr(obj)
    return type(obj).__name__


@dataclass
class DryRunReport:
    """What a dry run found out: the model built, its size, and the shapes of a forward pass."""

    task: str
    model: str
    num_params: int
    num_trainable: int
    inputs: Optional[str] = None
    outputs: Optional[str] = None

    def __str__(self) -> str:
        lines = [f"task {self.task}: built {self.model} with {self.num_params:,} parameters "
                 f"({self.num_trainable:,} trainable)"]
        if self.inputs is None:
            lines.append("no forward pass (the task gives no dry-run input)")
        else:
            lines.append(f"forward {self.inputs} -> {self.outputs}")
        return "\n".join(lines)


class AbsTask:
    """Base class of training tasks; see the module docstring. All methods are classmethods."""

    class_choices_list: ClassVar[Sequence[ClassChoices]] = ()
    options: ClassVar[Sequence[Option]] = ()

    @classmethod
    def schema(cls) -> ConfigSchema:
        """Every top-level key of this task's config: ``task``, then options and components
        from the most basic class to this one. A subclass redeclaring an option or component
        of a base class replaces it (e.g. another default) in its place."""
        options: dict[str, Option] = {TASK_OPTION.name: TASK_OPTION}
        choices: dict[str, ClassChoices] = {}
        for klass in reversed(cls.__mro__):
            own_options = klass.__dict__.get("options", ())
            own_choices = klass.__dict__.get("class_choices_list", ())
            names = [o.name for o in own_options] + [c.name for c in own_choices]
            for name in names:
                if name in RESERVED_NAMES or name == TASK_OPTION.name:
                    raise TypeError(f"{qualified_name(klass)}: option name '{name}' is reserved "
                                    "(the task key and sptok.bin.train's own arguments)")
                if names.count(name) > 1:
                    raise TypeError(f"{qualified_name(klass)}: '{name}' is declared twice")
            options.update((o.name, o) for o in own_options)
            choices.update((c.name, c) for c in own_choices)
        try:
            return ConfigSchema(list(options.values()), list(choices.values()))
        except ValueError as e:
            raise TypeError(f"{qualified_name(cls)}: {e}") from None

    @classmethod
    def choices(cls, name: str) -> ClassChoices:
        """The component choices registered under ``name`` (to register user classes)."""
        for c in cls.schema().choices:
            if c.name == name:
                return c
        raise KeyError(f"{cls.__name__} has no component '{name}'")

    @classmethod
    def resolve_config(cls, file_config: Optional[Mapping[str, Any]] = None,
                       overrides: Sequence[Override] = (),
                       source: str = "<config>") -> dict[str, Any]:
        """Defaults <- file <- command-line overrides, validated, with every component default
        filled in. Raises ConfigError naming ``source`` and the offending key."""
        config = cls.schema().resolve(file_config, overrides, source)
        if not config["task"]:
            raise ConfigError(f"{source}: missing top-level 'task:' key (which task reads this "
                              "config, e.g. 'task: codec')")
        return config

    @classmethod
    def format_config(cls, config: Mapping[str, Any]) -> str:
        """YAML of a resolved config, each option with its help as a comment (--print_config)."""
        header = [f"Config of task '{config['task']}' ({qualified_name(cls)}): every option "
                  "with its value.",
                  "Save it, edit it and pass it back with --config."]
        return cls.schema().format(config, header)

    @classmethod
    def build_model(cls, config: Mapping[str, Any]) -> torch.nn.Module:
        """The model described by a resolved config (random initialisation, on CPU)."""
        raise NotImplementedError(f"{qualified_name(cls)} must implement build_model()")

    @classmethod
    def dry_run_inputs(cls, config: Mapping[str, Any]) -> Optional[DryRunInputs]:
        """A short random input for :meth:`dry_run_forward` (positional tuple or keyword dict),
        or None to skip the forward pass. Keep it tiny: it runs on CPU in the test suite."""
        return None

    @classmethod
    def dry_run_forward(cls, model: torch.nn.Module, inputs: DryRunInputs) -> Any:
        """Run ``model`` on :meth:`dry_run_inputs`; override when training calls something
        other than ``forward``."""
        return model(**inputs) if isinstance(inputs, dict) else model(*inputs)

    @classmethod
    def dry_run(cls, config: Mapping[str, Any], forward: bool = True) -> DryRunReport:
        """Build the model from ``config``, count its parameters and, if the task provides an
        input and ``forward`` is true, run one forward pass without gradients. Needs no data."""
        model = cls.build_model(config)
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"{qualified_name(cls)}.build_model returned "
                            f"{type(model).__name__}, not a torch.nn.Module")
        report = DryRunReport(task=str(config["task"]), model=qualified_name(type(model)),
                              num_params=0, num_trainable=0)
        inputs = cls.dry_run_inputs(config) if forward else None
        if inputs is not None:
            with torch.no_grad():
                outputs = cls.dry_run_forward(model, inputs)
            report.inputs = summarize(inputs)
            report.outputs = summarize(outputs)
        # counted after the forward pass, which initialises lazy modules
        params = list(model.parameters())
        report.num_params = sum(p.numel() for p in params)
        report.num_trainable = sum(p.numel() for p in params if p.requires_grad)
        return report

    @classmethod
    def train(cls, config: Mapping[str, Any], output_dir: Path) -> None:
        """Train a model from a resolved config, writing checkpoints and logs to ``output_dir``
        (``config.yaml`` is already there). Each task implements its own loop."""
        raise NotImplementedError(f"{qualified_name(cls)} does not implement train()")
