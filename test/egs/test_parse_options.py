"""egs/TEMPLATE/utils/parse_options.sh, alone and through sptok.sh."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = """#!/usr/bin/env bash
set -euo pipefail
help_message="Usage: $0 [options] ARG..."

# General
stage=1          # first stage
use_gpu=false    # a boolean
# Data
train_set=       # training set
test_sets="a b"  # evaluation sets
. {parse_options}
echo "stage=${{stage}} use_gpu=${{use_gpu}} train_set=${{train_set}} test_sets=${{test_sets}} rest=$*"
"""


@pytest.fixture
def script(tmp_path: Path, template_dir: Path) -> Path:
    path = tmp_path / "opts.sh"
    path.write_text(SCRIPT.format(parse_options=template_dir / "utils" / "parse_options.sh"))
    path.chmod(0o755)
    return path


def run(script: Path, *args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env)


def test_sets_variables_in_every_form(script):
    res = run(script, "--stage", "3", "--use-gpu", "true", "--train_set=tr x", "--test_sets", "",
              "pos1", "--not-an-option-after-positionals")
    assert res.returncode == 0, res.stderr
    assert res.stdout == ("stage=3 use_gpu=true train_set=tr x test_sets= "
                          "rest=pos1 --not-an-option-after-positionals\n")


def test_unknown_option_is_named_and_help_listed(script):
    res = run(script, "--stage", "2", "--stgae", "3")
    assert res.returncode == 1
    assert "unknown option --stgae" in res.stderr
    assert "--stage 1          # first stage" in res.stderr  # the list of options


@pytest.mark.parametrize("args", [["--PATH", "/x"], ["--HOME", "/x"], ["--help_messagex", "1"]])
def test_environment_and_undefined_names_are_not_options(script, args):
    res = run(script, *args)
    assert res.returncode == 1 and f"unknown option {args[0]}" in res.stderr


def test_exported_lowercase_variable_is_not_an_option(script):
    import os
    res = run(script, "--some_proxy", "x", env=dict(os.environ, some_proxy="y"))
    assert res.returncode == 1 and "unknown option --some_proxy" in res.stderr


def test_boolean_must_be_true_or_false(script):
    res = run(script, "--use_gpu", "yes")
    assert res.returncode == 1
    assert "option --use_gpu takes true or false, got 'yes'" in res.stderr


def test_missing_value(script):
    res = run(script, "--stage")
    assert res.returncode == 1 and "option --stage needs a value" in res.stderr


def test_help_prints_commented_defaults(script):
    res = run(script, "--help")
    assert res.returncode == 0
    lines = res.stdout.splitlines()
    assert lines[0].endswith("opts.sh [options] ARG...")
    assert lines[2:] == ["  # General",
                         "  --stage 1          # first stage",
                         "  --use_gpu false    # a boolean",
                         "  # Data",
                         "  --train_set        # training set",
                         '  --test_sets "a b"  # evaluation sets']


def test_sptok_sh_options(toy_recipe, run_recipe):
    res = run_recipe(toy_recipe, "--help")
    assert res.returncode == 0
    for expected in ("# General configuration", "--stage 1 ", "--stop_stage 10000",
                     "--skip_install false", "--quick false", "--fs 16000", "--train_set "):
        assert expected in res.stdout
    assert "--SECONDS" not in res.stdout and "help_message" not in res.stdout

    res = run_recipe(toy_recipe, "--stop_stage", "1", "--nj_max", "3")
    assert res.returncode == 1 and "unknown option --nj_max" in res.stderr
    res = run_recipe(toy_recipe, "--quick", "1")
    assert res.returncode == 1 and "option --quick takes true or false, got '1'" in res.stderr
    res = run_recipe(toy_recipe, "--nj", "0")
    assert res.returncode == 1 and "--nj takes an integer >= 1, got '0'" in res.stderr
    res = run_recipe(toy_recipe, "--fs", "16 kHz")
    assert res.returncode == 1 and "--fs takes a sampling rate" in res.stderr
    res = run_recipe(toy_recipe, "extra")
    assert res.returncode == 1 and "unexpected arguments: extra" in res.stderr
