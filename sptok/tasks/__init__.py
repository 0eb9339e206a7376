"""Training tasks by name: the ``task:`` key at the top of every training YAML.

Built-in tasks are listed in ``_BUILTIN_TASKS`` by import path and imported on first use, so
``import sptok.tasks`` stays light and a task module may import anything. Adding a task is one
line there, e.g. ``"codec": "sptok.tasks.codec:CodecTask",``.

User code registers its own with :func:`register_task`, or a YAML names one by import path
(``task: mypkg.tasks:MyTask``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from sptok.tasks.abs_task import AbsTask, DryRunReport
from sptok.utils.config import ConfigError, Override, load_yaml
from sptok.utils.registry import (build_registry_error, import_object, is_import_path,
                                  qualified_name)

__all__ = ["AbsTask", "DryRunReport", "register_task", "task_names", "get_task",
           "resolve_config", "load_config"]

# One line per built-in task: "name": "sptok.tasks.<module>:<TaskClass>",
_BUILTIN_TASKS: dict[str, str] = {
    "codec": "sptok.tasks.codec:CodecTask",
    "uslm": "sptok.tasks.uslm:USLMTask",
}

# name -> task class, or its import path until first use
_TASKS: dict[str, Union[type[AbsTask], str]] = dict(_BUILTIN_TASKS)

TaskRef = Union[type[AbsTask], str]


def _check_task_class(obj: Any, where: str) -> type[AbsTask]:
    if not (isinstance(obj, type) and issubclass(obj, AbsTask)):
        raise ConfigError(f"{where}: {obj!r} is not a subclass of {qualified_name(AbsTask)}")
    if obj.build_model.__func__ is AbsTask.build_model.__func__:
        raise ConfigError(f"{where}: {qualified_name(obj)} does not implement build_model()")
    return obj


def register_task(name: str, task: Optional[TaskRef] = None) -> Any:
    """Register ``task`` (a class, or an import path ``package.module:Class`` imported on first
    use) under ``name``; without ``task``, return a class decorator."""
    if task is None:
        def decorator(cls: type[AbsTask]) -> type[AbsTask]:
            register_task(name, cls)
            return cls
        return decorator
    if not isinstance(name, str) or not name or is_import_path(name):
        raise ValueError(f"register_task: {name!r} is not a plain task name")
    if not isinstance(task, str):
        _check_task_class(task, f"task '{name}'")
    taken = _TASKS.get(name)
    if taken is not None and taken is not task and taken != task:
        raise ValueError(f"register_task: task '{name}' is already registered to {taken!r}")
    _TASKS[name] = task
    return task


def task_names() -> list[str]:
    """Names of the registered tasks (without importing them)."""
    return list(_TASKS)


def get_task(name: str) -> type[AbsTask]:
    """The task class registered under ``name``, or named by an import path."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"task: expected a task name, got {name!r}; registered: "
                          f"{', '.join(_TASKS) or '(none yet)'}")
    if name in _TASKS:
        task = _TASKS[name]
        if isinstance(task, str):
            task = _check_task_class(import_object(task), f"task '{name}'")
            _TASKS[name] = task
        return task
    if is_import_path(name):
        try:
            obj = import_object(name)
        except ConfigError as e:
            raise ConfigError(f"task: {e}") from e.__cause__
        return _check_task_class(obj, f"task '{name}'")
    raise build_registry_error("task", name, _TASKS)


def resolve_config(file_config: Optional[Mapping[str, Any]],
                   overrides: Sequence[Override] = (),
                   source: str = "<config>") -> tuple[type[AbsTask], dict[str, Any]]:
    """Find the task named by ``file_config['task']`` and resolve the config against it."""
    file_config = dict(file_config or {})
    name = file_config.get("task")
    if name is None:
        raise ConfigError(f"{source}: missing top-level 'task:' key (which task reads this "
                          f"config); registered tasks: {', '.join(_TASKS) or '(none yet)'}")
    if any(path[0] == "task" for path, _ in overrides):
        raise ConfigError("--task: the task is fixed by the config file and cannot be overridden")
    try:
        task = get_task(name)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from e
    return task, task.resolve_config(file_config, overrides, source)


def load_config(path: Union[str, Path],
                overrides: Sequence[Override] = ()) -> tuple[type[AbsTask], dict[str, Any]]:
    """Load a training YAML, find its task and resolve it (defaults <- file <- overrides)."""
    return resolve_config(load_yaml(path), overrides, source=str(path))
