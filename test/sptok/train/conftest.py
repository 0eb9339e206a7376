"""The trainer tests import their tiny tasks from train_dummy_tasks.py in this directory."""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
