"""Every shell script of egs/ and tools/ is shellcheck-clean (shellcheck -x)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# Outputs of recipe runs and the virtual environment are not ours to check.
SKIP_DIRS = {"venv", "data", "dump", "exp", "downloads", "__pycache__"}


def shell_scripts(root: Path) -> list:
    found = []
    for top in ("egs", "tools"):
        for dirpath, dirnames, filenames in os.walk(root / top):  # symlinked dirs not followed
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if name.endswith(".sh") or _has_shell_shebang(path):
                    found.append(path)
    return found


def _has_shell_shebang(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            first = f.readline(100)
    except OSError:
        return False
    return first.startswith(b"#!") and (b"bash" in first or first.rstrip().endswith(b"/sh"))


def test_shell_scripts_are_found(repo_root):
    names = {str(p.relative_to(repo_root)) for p in shell_scripts(repo_root)}
    assert {"egs/TEMPLATE/sptok.sh", "egs/TEMPLATE/utils/parse_options.sh",
            "egs/mini_synth/run.sh", "tools/install.sh"} <= names


@pytest.mark.skipif(shutil.which("shellcheck") is None,
                    reason="shellcheck is not installed (tools/install.sh installs it)")
def test_shellcheck_clean(repo_root):
    scripts = [str(p.relative_to(repo_root)) for p in shell_scripts(repo_root)]
    res = subprocess.run(["shellcheck", "-x", *scripts], cwd=repo_root, capture_output=True,
                         text=True)
    assert res.returncode == 0, "shellcheck findings:\n" + res.stdout + res.stderr
