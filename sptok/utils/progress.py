"""How often long-running programs redraw their tqdm progress bars."""
from __future__ import annotations

import os
import sys


def progress_mininterval(interactive_seconds: float = 1.0, batch_seconds: float = 60.0) -> float:
    """Seconds between progress-bar redraws.

    ``TQDM_MININTERVAL`` wins when set (the recipes' ``path.sh`` sets 30 for batch jobs). Without
    it: ``interactive_seconds`` when stderr is a terminal, else ``batch_seconds``, because a bar
    redrawn every second would fill a job's log file. A passed ``mininterval=`` argument would
    override tqdm's own reading of the variable, which is why callers ask here instead.
    """
    value = os.environ.get("TQDM_MININTERVAL")
    if value:
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"TQDM_MININTERVAL={value!r}: not a number of seconds") from None
    return interactive_seconds if sys.stderr.isatty() else batch_seconds
