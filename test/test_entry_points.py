"""Every console script declared in setup.py points to an importable callable."""
import ast
import importlib
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parents[1] / "setup.py"


def console_scripts() -> list[str]:
    tree = ast.parse(SETUP.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "console_scripts":
                    return [elt.value for elt in value.elts]
    raise AssertionError("setup.py declares no console_scripts")


@pytest.mark.parametrize("spec", console_scripts())
def test_console_script_target_exists(spec):
    name, target = (part.strip() for part in spec.split("="))
    module, func = target.split(":")
    assert name.startswith("sptok-")
    assert callable(getattr(importlib.import_module(module), func))
