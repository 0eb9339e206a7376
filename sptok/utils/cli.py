"""Small argparse helpers shared by the command-line programs (sptok/bin)."""
from __future__ import annotations

import argparse


def str2bool(value: str) -> bool:
    """argparse type of boolean options: true/false, 1/0, yes/no (any case)."""
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
