"""Training configs: YAML files, command-line overrides, defaults and their validation.

A config is resolved in three layers, later ones winning::

    defaults of the task  <-  the YAML file (--config)  <-  command-line --key value

``--key value`` sets a top-level option, ``--quantizer_conf.n_q 4`` one key inside a mapping;
values are read as YAML (``4`` is an int, ``1e-4`` a float, ``[2, 4]`` a list, ``null`` None).
A value given for a whole mapping (``--optim_conf '{lr: 1e-4}'``) replaces it; the YAML file is
merged into mapping defaults key by key.

The resolved config is complete: every option, and for each component chosen by name
(:class:`~sptok.utils.registry.ClassChoices`) every constructor default in its ``<name>_conf``.
That is what ``--print_config`` shows and what is saved as ``config.yaml`` next to a model.
"""
from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import yaml

from sptok.utils.fileio import atomic_open
from sptok.utils.registry import ClassChoices, ConfigError, close_matches

__all__ = [
    "ConfigError", "Option", "ConfigSchema", "Override", "load_yaml", "loads_yaml", "dump_yaml",
    "save_config", "parse_overrides", "apply_overrides", "deep_merge",
]

PathLike = Union[str, os.PathLike]
Override = tuple[list[str], Any]

# YAML 1.1 reads "1e-4" (no dot) as a string; learning rates are written like that all the time.
_FLOAT_WITHOUT_DOT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_FLOAT_TAG = "tag:yaml.org,2002:float"


class _Loader(yaml.SafeLoader):
    """Safe loader that reads 1e-4 as a float and refuses duplicate keys (PyYAML silently keeps
    the last one, which hides a typo'd config)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *base" keys may legitimately be overridden
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # unhashable key: the base class reports it
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (first given at line {first.line + 1})",
                    key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(_FLOAT_TAG, _FLOAT_WITHOUT_DOT, list("-+0123456789"))


class _Dumper(yaml.SafeDumper):
    """Block mappings, flow lists of scalars (``strides: [8, 5, 4, 2]``), no anchors/aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(v is None or isinstance(v, (bool, int, float, str)) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(tuple, _represent_list)
# The dumper must quote strings such as "1e-4" that our loader would read back as floats.
_Dumper.add_implicit_resolver(_FLOAT_TAG, _FLOAT_WITHOUT_DOT, list("-+0123456789"))


def loads_yaml(text: str, source: str = "<string>") -> Any:
    """Parse YAML text; errors become ConfigError naming ``source``, line and column."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        context = ""
        if e.context:
            context = f" ({e.context}"
            if e.context_mark is not None and e.context_mark is not mark:
                context += f" at line {e.context_mark.line + 1}"
            context += ")"
        raise ConfigError(f"{where}: invalid YAML: {e.problem}{context}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: invalid YAML: {e}") from None


def load_yaml(path: PathLike) -> dict[str, Any]:
    """Load a YAML config file whose top level is a mapping with string keys (empty file: {})."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config file: {e}") from None
    data = loads_yaml(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of options, "
                          f"got {type(data).__name__}")
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"{path}: top-level keys must be strings, got {bad}")
    return data


def dump_yaml(data: Any) -> str:
    """YAML text for plain data, keys in insertion order."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100)


def save_config(config: Mapping[str, Any], path: PathLike) -> Path:
    """Write ``config`` as YAML to ``path`` atomically (a reader never sees half a file)."""
    path = Path(path)
    with atomic_open(path) as f:
        f.write(dump_yaml(dict(config)))
    return path


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` merged in recursively; neither input is modified."""
    merged = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_overrides(args: Sequence[str]) -> list[Override]:
    """Parse ``--key value``, ``--key=value`` and ``--a.b value`` into ``(["a", "b"], value)``.

    Values are read as YAML, so ``4`` is an int, ``1e-4`` a float, ``true`` a bool and
    ``[2, 4]`` a list; quote a string that would read as something else (``--name "'4'"``).
    """
    overrides: list[Override] = []
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--") or len(token) == 2:
            raise ConfigError(f"unexpected command-line argument '{token}': options are given as "
                              "--key value or --key=value")
        body = token[2:]
        if "=" in body:
            key, raw = body.split("=", 1)
            i += 1
        else:
            key = body
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise ConfigError(f"--{key}: needs a value (booleans too: --{key} true)")
            raw = args[i + 1]
            i += 2
        path = key.split(".")
        if not all(part.isidentifier() for part in path):
            raise ConfigError(f"--{key}: not an option name (expected --name or --name_conf.key)")
        overrides.append((path, loads_yaml(raw, f"--{key} value")))
    return overrides


def apply_overrides(config: dict[str, Any], overrides: Iterable[Override]) -> dict[str, Any]:
    """Set each override's path in ``config`` (in place, creating mappings on the way)."""
    for path, value in overrides:
        node = config
        for depth, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"--{'.'.join(path)}: '{'.'.join(path[:depth + 1])}' is "
                                  f"{child!r}, not a mapping")
            node = child
        node[path[-1]] = copy.deepcopy(value)
    return config


def _type_name(t: Union[type, tuple[type, ...]]) -> str:
    if isinstance(t, tuple):
        return " or ".join(x.__name__ for x in t)
    return t.__name__


@dataclass(frozen=True)
class Option:
    """One top-level config option of a task.

    Args:
        name: key in the YAML file.
        default: value when the config does not set it; plain YAML data (tuples become lists).
        help: one or a few lines, printed as a comment by --print_config.
        type: accepted type(s); inferred from ``default`` when not given (an int default
            accepts ints, a float default ints and floats; a None default anything).
        nullable: also accept null (always true when the default is None).
        choices: the accepted values, for enumerations such as a precision name.
    """

    name: str
    default: Any
    help: str = ""
    type: Optional[Union[type, tuple[type, ...]]] = None
    nullable: bool = False
    choices: Optional[Sequence[Any]] = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"Option name must be an identifier, got {self.name!r}")
        if isinstance(self.default, tuple):
            object.__setattr__(self, "default", list(self.default))
        if self.type is None and self.default is not None:
            object.__setattr__(self, "type", type(self.default))
        if self.default is not None:
            self.check(self.default)  # a declaration error, caught when the task is imported

    def check(self, value: Any) -> Any:
        """Return ``value`` (an int given for a float option as float), or raise ConfigError."""
        if value is None:
            if self.nullable or self.default is None:
                return None
            raise ConfigError(f"{self.name}: must not be null (default: {self.default!r})")
        if self.type is not None:
            accepted = self.type if isinstance(self.type, tuple) else (self.type,)
            if float in accepted and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            ok = isinstance(value, accepted) and not (
                isinstance(value, bool) and bool not in accepted)
            if not ok:
                raise ConfigError(f"{self.name}: expected {_type_name(self.type)}, got {value!r} "
                                  f"({type(value).__name__})")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{self.name}: {value!r} is not one of {list(self.choices)}"
                              f"{close_matches(str(value), map(str, self.choices))}")
        return value


class ConfigSchema:
    """The options a config may hold: plain options plus components chosen by name.

    Args:
        options: top-level options, in the order they are printed.
        choices: one ClassChoices per component; each adds the keys ``<name>`` and
            ``<name>_conf``.
    """

    def __init__(self, options: Sequence[Option] = (), choices: Sequence[ClassChoices] = ()):
        self.options = list(options)
        self.choices = list(choices)
        keys: list[str] = []
        for key in [o.name for o in self.options] + [
                k for c in self.choices for k in (c.name, c.conf_key)]:
            if key in keys:
                raise ValueError(f"ConfigSchema: key '{key}' is declared twice")
            keys.append(key)
        self._keys = keys

    def known_keys(self) -> list[str]:
        """Every top-level key, in declaration order."""
        return list(self._keys)

    def defaults(self) -> dict[str, Any]:
        """Option defaults, default component names and empty component confs."""
        config: dict[str, Any] = {o.name: copy.deepcopy(o.default) for o in self.options}
        for c in self.choices:
            config[c.name] = c.default
            config[c.conf_key] = {}
        return config

    def _check_known(self, keys: Iterable[str], where: str) -> None:
        known = self._keys
        for key in keys:
            if key not in known:
                raise ConfigError(f"{where}unknown option '{key}'{close_matches(key, known)}; "
                                  f"known options: {', '.join(known)}")

    def resolve(self, file_config: Optional[Mapping[str, Any]] = None,
                overrides: Sequence[Override] = (), source: str = "<config>") -> dict[str, Any]:
        """Defaults <- ``file_config`` <- ``overrides``, validated and completed.

        Errors name ``source`` (the YAML file) or the ``--key`` they come from.
        """
        config = self.defaults()
        option_names = {o.name for o in self.options}
        if file_config:
            self._check_known(file_config, f"{source}: ")
            for key, value in file_config.items():
                merge = key in option_names and isinstance(config[key], dict)
                if merge and isinstance(value, dict):
                    config[key] = deep_merge(config[key], value)
                else:
                    config[key] = copy.deepcopy(value)
        for path, _ in overrides:
            self._check_known([path[0]], f"--{'.'.join(path)}: ")
        apply_overrides(config, overrides)
        where = source + (" + command line" if overrides else "")
        try:
            return self.complete(config)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from e

    def complete(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a config holding every key and fill in component defaults."""
        self._check_known(config, "")
        missing = [k for k in self._keys if k not in config]
        if missing:
            raise ConfigError(f"missing options: {', '.join(missing)}")
        resolved: dict[str, Any] = {}
        for option in self.options:
            resolved[option.name] = option.check(config[option.name])
        for c in self.choices:
            name = config[c.name]
            resolved[c.name] = name
            resolved[c.conf_key] = c.complete_conf(name, config[c.conf_key])
        return {key: resolved[key] for key in self._keys}

    def format(self, config: Mapping[str, Any], header: Sequence[str] = ()) -> str:
        """YAML text of a resolved config with each option's help as a comment above it."""
        parts = [f"# {line}\n" for line in header]
        for option in self.options:
            parts.extend(f"# {line}\n" for line in option.help.splitlines() if line.strip())
            parts.append(dump_yaml({option.name: config[option.name]}))
        for c in self.choices:
            parts.append(f"# {c.describe()}\n")
            parts.append(dump_yaml({c.name: config[c.name]}))
            parts.append(dump_yaml({c.conf_key: config[c.conf_key]}))
        return "".join(parts)
