"""Job logs: the header and footer every backend writes around a job's output, the exit code read
back from the footer, and the report naming failed jobs."""
from __future__ import annotations

import re
import shlex
import sys
import time
from pathlib import Path
from typing import Mapping, Optional

from sptok.launch.job_array import JobArray

_FOOTER = re.compile(r"^# Ended \(code (-?[0-9]+)\)", re.MULTILINE)
_TAIL_LINES = 20


def log_header(command: str, where: str) -> str:
    return f"# {command}\n# Started at {time.strftime('%a %b %d %H:%M:%S %Z %Y')} on {where}\n"


def log_footer(code: int, elapsed: float) -> str:
    return (f"# Ended (code {code}) at {time.strftime('%a %b %d %H:%M:%S %Z %Y')}, "
            f"elapsed {elapsed:.1f} s\n")


def read_exit_code(log: Path) -> Optional[int]:
    """Exit code recorded in a job log's footer; None when the log or its footer is missing
    (the job never ran, or was killed before it could finish the log)."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    codes = _FOOTER.findall(text)
    return int(codes[-1]) if codes else None


def log_tail(path: Path, lines: int = _TAIL_LINES) -> str:
    """The last ``lines`` lines of the job's own output (header and footer left out), indented."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return "    (no log)"
    if len(text) >= 2 and text[0].startswith("# ") and text[1].startswith("# Started at "):
        text = text[2:]
    while text and text[-1].startswith("# Ended (code "):
        text.pop()
    return "\n".join("    " + t for t in text[-lines:]) or "    (the log is empty)"


def failure_report(jobs: JobArray, codes: Mapping[int, Optional[int]],
                   extra_logs: Mapping[int, Path] | None = None) -> str:
    """Message naming every failed job (code != 0 or unknown) with its log and the log's tail."""
    failed = [j for j in jobs.ids if codes.get(j) != 0]
    total = len(jobs.ids)
    lines = [f"launch: {len(failed)} of {total} job{'s' if total > 1 else ''} failed: "
             f"{' '.join(shlex.quote(t) for t in jobs.command)}"]
    for j in failed:
        code = codes.get(j)
        status = f"exit code {code}" if code is not None else "no exit code in its log (killed?)"
        name = f"job {j}" if jobs.var else "the job"
        lines.append(f"  {name} ({status}): log {jobs.log_for(j)}")
        lines.append(log_tail(jobs.log_for(j)))
        if extra_logs and j in extra_logs and extra_logs[j].exists():
            lines.append(f"  scheduler output {extra_logs[j]}:")
            lines.append(log_tail(extra_logs[j], 5))
    return "\n".join(lines)


def report_failures(jobs: JobArray, codes: Mapping[int, Optional[int]],
                    extra_logs: Mapping[int, Path] | None = None, note: str = "") -> int:
    """The launcher's exit status for ``codes``: 0 when every job succeeded, else 1 after
    printing :func:`failure_report` (and ``note`` after it) to stderr."""
    if all(c == 0 for c in codes.values()):
        return 0
    print(failure_report(jobs, codes, extra_logs) + note, file=sys.stderr)
    return 1
