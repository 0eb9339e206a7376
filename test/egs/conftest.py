"""Fixtures for the recipe framework tests: a toy recipe made by egs/TEMPLATE/setup.sh whose
local/data.sh writes a few short sine-wave utterances at 16 kHz, or at ${TOY_FS} Hz when set
(then stage 2 resamples them, which is slower: it loads torch)."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable

import pytest

# Utterances per set: (utterance, speaker, seconds). train and dev each hold one utterance
# shorter than the default --min_wav_duration 0.1 s; test keeps its short one (tests are not
# filtered).
TOY_SETS = {
    "train": [("spk1_a", "spk1", 0.5), ("spk1_b", "spk1", 0.3), ("spk2_a", "spk2", 0.05),
              ("spk2_b", "spk2", 0.4)],
    "dev": [("spk3_a", "spk3", 0.3), ("spk3_b", "spk3", 0.06)],
    "test": [("spk4_a", "spk4", 0.2), ("spk4_b", "spk4", 0.05)],
}

TOY_DATA_SH = r'''#!/usr/bin/env bash
# Toy corpus: sine waves at ${TOY_FS:-16000} Hz. Counts its runs in local/runs.txt.
set -euo pipefail
. ./path.sh
sets=TOY_SETS_REPR
echo run >> local/runs.txt
python - "${sets}" "${TOY_FS:-16000}" << 'PYEOF'
import ast, os, sys
import numpy as np
import soundfile as sf
fs = int(sys.argv[2])
for name, utts in ast.literal_eval(sys.argv[1]).items():
    d = os.path.join("data", name)
    os.makedirs(d, exist_ok=True)
    os.makedirs("downloads", exist_ok=True)
    with open(f"{d}/wav.scp", "w") as w, open(f"{d}/text", "w") as t, open(f"{d}/utt2spk", "w") as u:
        for utt, spk, sec in sorted(utts):
            path = os.path.abspath(f"downloads/{utt}.wav")
            x = 0.3 * np.sin(2 * np.pi * 440 * np.arange(round(fs * sec)) / fs)
            sf.write(path, x.astype(np.float32), fs, subtype="PCM_16")
            w.write(f"{utt} {path}\n"); t.write(f"{utt} hello {utt}\n"); u.write(f"{utt} {spk}\n")
    spk2utt = {}
    for utt, spk, _ in sorted(utts):
        spk2utt.setdefault(spk, []).append(utt)
    with open(f"{d}/spk2utt", "w") as f:
        for spk in sorted(spk2utt):
            f.write(f"{spk} {' '.join(spk2utt[spk])}\n")
PYEOF
'''

TOY_RUN_SH = '''#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
./sptok.sh --train_set train --valid_set dev --test_sets test --fs 16000 --nj 2 \\
    --skip_install true "$@"
'''


@pytest.fixture(scope="session")
def toy_sets() -> dict:
    return TOY_SETS


@pytest.fixture(scope="session")
def template_dir(repo_root: Path) -> Path:
    return repo_root / "egs" / "TEMPLATE"


@pytest.fixture
def toy_recipe(tmp_path: Path, template_dir: Path, venv_env: dict) -> Path:
    """A recipe at tmp_path/egs/toy made by setup.sh, with the toy local/data.sh and run.sh."""
    recipe = tmp_path / "egs" / "toy"
    subprocess.run([str(template_dir / "setup.sh"), str(recipe)], check=True, env=venv_env,
                   capture_output=True)
    data_sh = recipe / "local" / "data.sh"
    data_sh.write_text(TOY_DATA_SH.replace("TOY_SETS_REPR", _shell_single_quoted(repr(TOY_SETS))))
    (recipe / "run.sh").write_text(TOY_RUN_SH)
    return recipe


def _shell_single_quoted(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


@pytest.fixture
def run_recipe(venv_env: dict) -> Callable[..., subprocess.CompletedProcess]:
    """run_recipe(recipe, *options) -> CompletedProcess of recipe/run.sh (text output)."""

    def run(recipe: Path, *args: str, env: dict | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(recipe / "run.sh"), *args], cwd=recipe, env=env or venv_env,
                              capture_output=True, text=True, timeout=timeout)

    return run
