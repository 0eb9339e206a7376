"""egs/TEMPLATE/setup.sh makes a working recipe skeleton."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path


def test_setup_makes_recipe_skeleton(tmp_path, template_dir, venv_env):
    recipe = tmp_path / "egs" / "newcorpus"
    res = subprocess.run([str(template_dir / "setup.sh"), str(recipe)], capture_output=True,
                         text=True, env=venv_env)
    assert res.returncode == 0, res.stderr
    for link in ("sptok.sh", "utils", "scripts"):
        target = os.readlink(recipe / link)
        assert not os.path.isabs(target)  # relative: the checkout can move
        assert (recipe / link).resolve() == (template_dir / link).resolve()
    for f in ("cmd.sh", "path.sh", "db.sh"):
        assert (recipe / f).read_text() == (template_dir / f).read_text()
        assert not (recipe / f).is_symlink()
    assert (recipe / "conf/slurm.conf").is_file()
    assert os.access(recipe / "run.sh", os.X_OK) and os.access(recipe / "local/data.sh", os.X_OK)
    assert not list(recipe.parent.glob(".*tmp*"))

    # run.sh works from another directory; --help lists sptok.sh's options.
    res = subprocess.run([str(recipe / "run.sh"), "--help"], cwd=tmp_path, capture_output=True,
                         text=True, env=venv_env)
    assert res.returncode == 0 and "--stop_stage 10000" in res.stdout
    # The skeleton local/data.sh says what to write and fails stage 1.
    res = subprocess.run([str(recipe / "run.sh"), "--skip_install", "true", "--stop_stage", "1"],
                         cwd=tmp_path, capture_output=True, text=True, env=venv_env)
    assert res.returncode != 0
    assert "local/data.sh is still the template's skeleton" in res.stderr
    assert not (recipe / "data/.done").exists()


def test_setup_refuses_existing_dir(tmp_path, template_dir):
    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "keep.txt").write_text("x")
    res = subprocess.run([str(template_dir / "setup.sh"), str(existing)], capture_output=True,
                         text=True)
    assert res.returncode == 1 and "already exists" in res.stderr
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
    res = subprocess.run([str(template_dir / "setup.sh")], capture_output=True, text=True)
    assert res.returncode == 2 and "Usage" in res.stderr


def test_mini_synth_recipe_layout(repo_root):
    recipe = repo_root / "egs" / "mini_synth"
    for link in ("sptok.sh", "utils", "scripts"):
        assert os.readlink(recipe / link) == f"../TEMPLATE/{link}"
    for f in ("run.sh", "cmd.sh", "path.sh", "db.sh", "conf/slurm.conf"):
        assert (recipe / f).is_file() and not (recipe / f).is_symlink()
    run_sh = (recipe / "run.sh").read_text()
    assert 'test_sets="test test_unseen"' in run_sh and '"$@"' in run_sh


def test_path_sh_finds_repo_and_venv(tmp_path, template_dir, repo_root):
    recipe = tmp_path / "r"
    subprocess.run([str(template_dir / "setup.sh"), str(recipe)], check=True, capture_output=True)
    out = subprocess.run(["bash", "-c", ". ./path.sh; echo $MAIN_ROOT; echo $PATH; echo $LC_ALL"],
                         cwd=recipe, capture_output=True, text=True, check=True).stdout.split("\n")
    assert Path(out[0]) == repo_root.resolve()
    if (repo_root / "tools/venv/bin/python").exists():
        assert out[1].startswith(str(repo_root.resolve() / "tools/venv/bin") + ":")
    assert out[2] == "C"
