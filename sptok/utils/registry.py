"""Components chosen by name in a config (ESPnet's ``ClassChoices``).

A task declares, for each swappable part of its model, one :class:`ClassChoices`::

    quantizer_choices = ClassChoices("quantizer", {"rvq": ResidualVQ}, default="rvq")

and a training YAML then selects a class by name and passes its keyword arguments::

    quantizer: rvq
    quantizer_conf:
        n_q: 8

Users swap in their own classes without editing sptok, either from Python
(``quantizer_choices.register("mine", MyQuantizer)``) or straight from the YAML with an import
path (``quantizer: mypkg.quantizers:MyQuantizer``).

Every error names the option (``quantizer`` or ``quantizer_conf``), the class concerned and the
accepted alternatives, so that a typo in a YAML file is fixed without reading code.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Any, Iterable, Mapping, Optional, Sequence

_NONE_NAMES = (None, "none")


class ConfigError(ValueError):
    """An invalid configuration value: unknown option, bad type, unknown component or keyword."""


def import_object(path: str) -> Any:
    """Import ``package.module:attr`` (or ``package.module.attr``) and return the attribute.

    The ``module:attr`` form is unambiguous and allows nested attributes (``mod:Outer.Inner``);
    the all-dots form is split at its last dot.
    """
    if ":" in path:
        module_name, _, attr_path = path.partition(":")
    else:
        module_name, _, attr_path = path.rpartition(".")
    if not module_name or not attr_path:
        raise ConfigError(f"'{path}' is not an import path of the form 'package.module:Name'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"cannot import module '{module_name}' (from '{path}'): {e}") from e
    for attr in attr_path.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise ConfigError(
                f"'{path}': module '{module_name}' has no attribute '{attr_path}'") from None
    return obj


def is_import_path(key: str) -> bool:
    """Registered names are plain words; anything with ':' or '.' is read as an import path."""
    return ":" in key or "." in key


def qualified_name(cls: type) -> str:
    """``package.module.Class``: where a class comes from, for error messages."""
    return f"{cls.__module__}.{cls.__qualname__}"


def close_matches(word: str, candidates: Iterable[str]) -> str:
    """A ``" (did you mean 'x'?)"`` hint for typos, or an empty string."""
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{found[0]}'?)" if found else ""


def to_yaml_value(value: Any) -> tuple[bool, Any]:
    """Convert a Python default to plain YAML data.

    Returns ``(ok, converted)``; tuples become lists, and ``ok`` is False for values YAML cannot
    hold (classes, functions, tensors, ...), which a printed config therefore leaves out.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return True, value
    if isinstance(value, (list, tuple)):
        items = [to_yaml_value(v) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if isinstance(value, dict):
        if not all(isinstance(k, (str, int, float, bool)) for k in value):
            return False, None
        items = {k: to_yaml_value(v) for k, v in value.items()}
        return all(ok for ok, _ in items.values()), {k: v for k, (_, v) in items.items()}
    return False, None


class ClassChoices:
    """A named set of interchangeable classes for one component of a model.

    Args:
        name: option name in the config, e.g. ``"quantizer"``; its keyword arguments are read
            from ``"<name>_conf"``.
        classes: registered name -> class.
        default: name chosen when the config does not say; None makes the choice mandatory
            (unless ``optional``).
        optional: the component may be switched off with ``<name>: none`` (or null); then
            :meth:`build` returns None.
        type_check: base class every chosen class must derive from (also checked for classes
            given by import path).
        injected: constructor arguments the task supplies itself at build time (an input
            dimension derived from another component, an optimizer's ``params``); they are
            not settable in ``<name>_conf`` and not printed as defaults.
    """

    def __init__(self, name: str, classes: Mapping[str, type], default: Optional[str] = None,
                 optional: bool = False, type_check: Optional[type] = None,
                 injected: Sequence[str] = ()):
        if not name.isidentifier():
            raise ValueError(f"ClassChoices: name must be an identifier, got {name!r}")
        self.name = name
        self.optional = optional
        self.type_check = type_check
        self.injected = tuple(injected)
        self._classes: dict[str, type] = {}
        for key, cls in classes.items():
            self.register(key, cls)
        if default is not None and default not in self._classes:
            raise ValueError(f"ClassChoices '{name}': default '{default}' is not one of "
                             f"{self.choices()}")
        self.default = default

    @property
    def conf_key(self) -> str:
        """The config key holding the chosen class's keyword arguments."""
        return f"{self.name}_conf"

    def choices(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._classes)

    def _choices_text(self) -> str:
        names = ", ".join(self.choices()) or "(none registered)"
        off = ", 'none' (switched off)" if self.optional else ""
        return f"{names}{off}; or an import path 'package.module:Class'"

    def describe(self) -> str:
        """One line for a printed config: what values the option takes."""
        return f"{self.name}: one of {self._choices_text()}"

    def register(self, key: str, cls: Optional[type] = None) -> Any:
        """Register ``cls`` under ``key``; without ``cls``, return a class decorator.

        Registering the same class twice under one name is harmless (module reloads); a
        different class under a taken name is an error.
        """
        if cls is None:
            def decorator(klass: type) -> type:
                self.register(key, klass)
                return klass
            return decorator
        if not isinstance(key, str) or not key or is_import_path(key) or key == "none":
            raise ValueError(f"{self.name}: cannot register under {key!r}: names are non-empty "
                             "words without ':' or '.', and 'none' is reserved")
        self._check_class(cls, key)
        taken = self._classes.get(key)
        if taken is not None and taken is not cls:
            raise ValueError(f"{self.name}: '{key}' is already registered to "
                             f"{qualified_name(taken)}; cannot register {qualified_name(cls)}")
        self._classes[key] = cls
        return cls

    def _check_class(self, cls: Any, key: str) -> None:
        if not inspect.isclass(cls):
            raise ConfigError(f"{self.name}: '{key}' is not a class (got {cls!r})")
        if self.type_check is not None and not issubclass(cls, self.type_check):
            raise ConfigError(f"{self.name}: '{key}' ({qualified_name(cls)}) is not a subclass "
                              f"of {qualified_name(self.type_check)}")

    def is_off(self, key: Optional[str]) -> bool:
        """True when ``key`` switches an optional component off."""
        return self.optional and key in _NONE_NAMES

    def get_class(self, key: Optional[str]) -> Optional[type]:
        """The class selected by ``key`` (a registered name or an import path); None when an
        optional component is switched off."""
        if self.is_off(key):
            return None
        if key is None:
            raise ConfigError(f"{self.name}: no class chosen; set '{self.name}:' to one of "
                              f"{self._choices_text()}")
        if not isinstance(key, str):
            raise ConfigError(f"{self.name}: expected a class name, got {key!r} "
                              f"({type(key).__name__}); choose from: {self._choices_text()}")
        if key in self._classes:
            return self._classes[key]
        if is_import_path(key):
            try:
                cls = import_object(key)
            except ConfigError as e:
                raise ConfigError(f"{self.name}: {e}") from e.__cause__
            self._check_class(cls, key)
            return cls
        raise ConfigError(f"{self.name}: unknown choice '{key}'{close_matches(key, self._classes)}"
                          f"; choose from: {self._choices_text()}")

    def _signature(self, cls: type) -> Optional[inspect.Signature]:
        try:
            return inspect.signature(cls)
        except (TypeError, ValueError):
            return None  # some extension types have no signature: accept any keyword

    def default_conf(self, key: Optional[str]) -> dict[str, Any]:
        """The chosen class's constructor defaults, as plain YAML data.

        Arguments without defaults, injected arguments and defaults YAML cannot hold (classes,
        functions) are left out.
        """
        cls = self.get_class(key)
        sig = self._signature(cls) if cls is not None else None
        if sig is None:
            return {}
        conf: dict[str, Any] = {}
        for p in sig.parameters.values():
            if (p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                    and p.default is not p.empty and p.name not in self.injected):
                ok, value = to_yaml_value(p.default)
                if ok:
                    conf[p.name] = value
        return conf

    def check_conf(self, key: Optional[str], conf: Optional[Mapping[str, Any]]) -> None:
        """Raise ConfigError unless ``conf`` is a valid set of keyword arguments for ``key``."""
        cls = self.get_class(key)
        if cls is None:
            if conf:
                raise ConfigError(f"{self.conf_key}: given ({sorted(conf)}) but {self.name} is "
                                  "'none'; remove it or choose a class")
            return
        if conf is not None and not isinstance(conf, Mapping):
            raise ConfigError(f"{self.conf_key}: expected a mapping of keyword arguments for "
                              f"{cls.__name__}, got {type(conf).__name__}")
        conf = conf or {}
        bad_keys = [k for k in conf if not isinstance(k, str)]
        if bad_keys:
            raise ConfigError(f"{self.conf_key}: keyword names must be strings, got {bad_keys}")
        for k in conf:
            if k in self.injected:
                raise ConfigError(f"{self.conf_key}: '{k}' of {cls.__name__} is set by the task "
                                  "at build time; remove it from the config")
        sig = self._signature(cls)
        if sig is None:
            return
        params = sig.parameters.values()
        if any(p.kind == p.VAR_KEYWORD for p in params):
            accepted = None  # **kwargs: any name goes through
        else:
            accepted = [p.name for p in params
                        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                        and p.name not in self.injected]
        if accepted is not None:
            for k in conf:
                if k not in accepted:
                    raise ConfigError(
                        f"{self.conf_key}: unknown keyword '{k}'{close_matches(k, accepted)} for "
                        f"{cls.__name__} ({qualified_name(cls)}); accepted keywords: "
                        f"{', '.join(accepted) or '(none)'}")
        for p in params:
            if (p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                    and p.name not in conf and p.name not in self.injected):
                raise ConfigError(f"{self.conf_key}: missing required keyword '{p.name}' for "
                                  f"{cls.__name__} ({qualified_name(cls)})")
            if p.default is p.empty and p.kind == p.POSITIONAL_ONLY:
                raise ConfigError(f"{self.name}: {qualified_name(cls)} needs the positional-only "
                                  f"argument '{p.name}', which a config cannot give")

    def complete_conf(self, key: Optional[str],
                      conf: Optional[Mapping[str, Any]]) -> dict[str, Any]:
        """``conf`` checked and filled with every constructor default it does not set.

        Completion is per keyword (a dict-valued argument given in ``conf`` replaces the default
        whole), so building from the completed conf is building from ``conf``; the one
        difference is that YAML has no tuples, so tuple defaults come back as lists (component
        classes must accept either).
        """
        self.check_conf(key, conf)
        cls = self.get_class(key)
        if cls is None:
            return {}
        conf = dict(conf or {})
        defaults = self.default_conf(key)
        sig = self._signature(cls)
        # constructor order, so a printed conf reads like the class signature
        order = [p for p in sig.parameters if p in conf or p in defaults] if sig else []
        completed = {p: conf[p] if p in conf else defaults[p] for p in order}
        completed.update((k, v) for k, v in conf.items() if k not in completed)
        return completed

    def build(self, key: Optional[str], conf: Optional[Mapping[str, Any]] = None,
              **injected: Any) -> Any:
        """Instantiate the class chosen by ``key`` with ``conf`` plus the task's ``injected``
        arguments; None when an optional component is off."""
        undeclared = [k for k in injected if k not in self.injected]
        if undeclared:
            raise TypeError(f"ClassChoices '{self.name}': build() got {undeclared}, which are not "
                            f"declared in injected={list(self.injected)}")
        self.check_conf(key, conf)
        cls = self.get_class(key)
        if cls is None:
            return None
        try:
            return cls(**dict(conf or {}), **injected)
        except Exception as e:
            if hasattr(e, "add_note"):
                e.add_note(f"while building {self.name} '{key}' ({qualified_name(cls)}) "
                           f"from {self.conf_key}={dict(conf or {})}")
            raise


def build_registry_error(kind: str, key: str, names: Iterable[str]) -> ConfigError:
    """The error for an unknown name in a plain name -> object registry (tasks)."""
    names = list(names)
    return ConfigError(f"unknown {kind} '{key}'{close_matches(key, names)}; registered: "
                       f"{', '.join(names) or '(none yet)'}, or an import path "
                       "'package.module:Class'")

