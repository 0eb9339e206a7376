"""Every training YAML under egs/ resolves against its task and dry-runs (build + tiny forward).

Two checks, so that the dry runs cannot pass by finding nothing:

* every YAML in a ``conf/`` directory of a recipe (recursive, ``conf/tuning/`` included) is a
  training config: it has a top-level ``task:`` naming a registered task; the few YAMLs that
  are not (job-scheduler settings, decoding options) are listed in NON_TRAINING_CONFIGS;
* every YAML under egs/ with a top-level ``task:`` key is resolved and dry-run on CPU.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import sptok.tasks as tasks
from sptok.tasks import AbsTask, DryRunReport, get_task, load_config, register_task
from sptok.utils.config import ConfigError, Option, loads_yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
EGS = REPO_ROOT / "egs"

# Paths (relative to the repository root) of YAMLs in a recipe's conf/ that are not training
# configs, each with the reason.
NON_TRAINING_CONFIGS: dict[str, str] = {
    "egs/mini_synth/conf/slmtokbench.yaml":
        "SLMTokBench config; stage 8 merges it with the recipe's sources (the quick pass runs it)",
    "egs/librispeech/conf/slmtokbench.yaml":
        "SLMTokBench config; checked by test/egs/test_librispeech.py through make_config.py",
    "egs/TEMPLATE/conf/tuning/slmtokbench_paper.yaml":
        "SLMTokBench config; checked by test_sptok_stages through make_config.py",
}

# Training configs whose inputs only a recipe run provides (a teacher checkpoint, fitted k-means);
# the quick pass of the recipe trains with them (test/egs/test_mini_synth.py), each with why.
NEEDS_RECIPE_INPUTS: dict[str, str] = {
    "egs/mini_synth/conf/train_unit_vocoder.yaml":
        "the frozen teacher and k-means of stage 8 (--encoder_conf.teacher, --quantizer_conf.kmeans)",
    "egs/librispeech/conf/train_unit_vocoder.yaml":
        "the frozen teacher and k-means of stage 8; built with them in test/egs/test_librispeech.py",
}

# Made by running recipes (git-ignored); configs saved there are copies, not sources.
GENERATED_DIRS = {"data", "dump", "exp", "downloads"}


def find_yamls(egs: Path) -> list[Path]:
    """Every *.yaml / *.yml under ``egs``, outside generated directories; symlinked files are
    followed, symlinked directories are not (recipes link shared script folders)."""
    found = []
    for root, dirs, files in os.walk(egs):
        dirs[:] = sorted(d for d in dirs if d not in GENERATED_DIRS)
        found.extend(Path(root) / f for f in sorted(files) if f.endswith((".yaml", ".yml")))
    return found


def is_recipe_conf(path: Path, egs: Path) -> bool:
    """True for files inside a ``conf`` directory of a recipe (or of a template)."""
    return "conf" in path.relative_to(egs).parts[:-1]


def has_task_key(path: Path) -> bool:
    """Whether the YAML has a top-level ``task:`` key; unreadable files count as yes, so that
    their dry run reports the error."""
    try:
        data = loads_yaml(path.read_text(encoding="utf-8"), str(path))
    except (ConfigError, OSError, UnicodeDecodeError):
        return True
    return isinstance(data, dict) and "task" in data


def coverage_problems(egs: Path, allow: dict[str, str], root: Path) -> list[str]:
    """Why YAMLs in recipe conf/ directories are not registered training configs."""
    problems = []
    for entry in allow:
        if not (root / entry).is_file():
            problems.append(f"{entry}: listed in NON_TRAINING_CONFIGS but does not exist")
    for path in find_yamls(egs):
        rel = path.relative_to(root).as_posix()
        if not is_recipe_conf(path, egs) or rel in allow:
            continue
        try:
            data = loads_yaml(path.read_text(encoding="utf-8"), rel)
        except ConfigError as e:
            problems.append(str(e))
            continue
        if not isinstance(data, dict) or "task" not in data:
            problems.append(f"{rel}: no top-level 'task:' key (add one, or list the file in "
                            "NON_TRAINING_CONFIGS with the reason)")
            continue
        try:
            get_task(data["task"])
        except ConfigError as e:
            problems.append(f"{rel}: {e}")
    return problems


def dry_run_config(path: Path) -> DryRunReport:
    task, config = load_config(path)
    return task.dry_run(config)


ALL_YAMLS = find_yamls(EGS) if EGS.is_dir() else []
TASK_YAMLS = [p for p in ALL_YAMLS if has_task_key(p)]


def test_recipe_confs_are_registered_training_configs():
    if not ALL_YAMLS:
        pytest.skip("no YAML files under egs/ yet: no recipe has been written")
    problems = coverage_problems(EGS, NON_TRAINING_CONFIGS, REPO_ROOT)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.relative_to(REPO_ROOT).as_posix()) for p in TASK_YAMLS]
    or [pytest.param(None, marks=pytest.mark.skip(
        reason="no YAML under egs/ has a top-level 'task:' key yet"))])
def test_dry_run(path):
    rel = path.relative_to(REPO_ROOT).as_posix()
    if rel in NEEDS_RECIPE_INPUTS:
        # Without those inputs the build must fail naming the missing option.
        with pytest.raises(Exception, match="encoder_conf.teacher"):
            dry_run_config(path)
        return
    report = dry_run_config(path)
    print(report)
    assert report.num_params > 0


# --- the checks above, on a made-up recipe tree ------------------------------------------------

class _Scale(AbsTask):
    options = [Option("size", 2)]

    @classmethod
    def build_model(cls, config):
        import torch
        return torch.nn.Linear(config["size"], 1)

    @classmethod
    def dry_run_inputs(cls, config):
        import torch
        return (torch.zeros(1, config["size"]),)


def test_checks_on_a_fake_recipe_tree(tmp_path, monkeypatch):
    monkeypatch.setattr(tasks, "_TASKS", dict(tasks._TASKS))
    register_task("scale_for_test", _Scale)
    egs = tmp_path / "egs"
    files = {
        "egs/a/conf/train.yaml": "task: scale_for_test\nsize: 3\n",
        "egs/a/conf/tuning/big.yaml": "task: scale_for_test\nsize: 5\n",
        "egs/a/conf/slurm.yaml": "partition: gpu\n",            # allow-listed
        "egs/a/conf/decode.yaml": "beam: 3\n",                  # not allow-listed: a problem
        "egs/a/conf/other.yaml": "task: nosuchtask\n",          # unknown task: a problem
        "egs/a/conf/broken.yaml": "task: [\n",                  # bad YAML: a problem
        "egs/a/exp/run1/config.yaml": "task: nosuchtask\n",     # generated: ignored
        "egs/b/codec1/dump/x/config.yaml": "task: nosuchtask\n",  # generated: ignored
        "egs/TEMPLATE/codec/conf/base.yaml": "task: scale_for_test\n",
        "egs/a/local/notes.yaml": "x: 1\n",                     # not in conf/: ignored
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    allow = {"egs/a/conf/slurm.yaml": "scheduler settings", "egs/a/conf/gone.yaml": "stale"}

    found = [p.relative_to(tmp_path).as_posix() for p in find_yamls(egs)]
    assert "egs/a/exp/run1/config.yaml" not in found and len(found) == len(files) - 2
    problems = coverage_problems(egs, allow, tmp_path)
    assert len(problems) == 4, problems
    assert problems[0] == "egs/a/conf/gone.yaml: listed in NON_TRAINING_CONFIGS but does not exist"
    text = "\n".join(problems)
    assert "egs/a/conf/decode.yaml: no top-level 'task:' key" in text
    assert "egs/a/conf/other.yaml: unknown task 'nosuchtask'" in text
    assert "egs/a/conf/broken.yaml:2:1: invalid YAML" in text
    assert "slurm" not in text and "train.yaml" not in text and "big.yaml" not in text

    with_task = sorted(p.relative_to(tmp_path).as_posix() for p in find_yamls(egs)
                       if has_task_key(p))
    assert "egs/a/conf/decode.yaml" not in with_task and "egs/a/conf/broken.yaml" in with_task
    report = str(dry_run_config(tmp_path / "egs/a/conf/tuning/big.yaml"))
    assert "6 parameters" in report and "forward (float32[1, 5]) -> float32[1, 1]" in report
    with pytest.raises(ConfigError, match="unknown task 'nosuchtask'"):
        dry_run_config(tmp_path / "egs/a/conf/other.yaml")
