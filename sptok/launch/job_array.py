"""The jobs of one launcher call, and their command lines as bash text."""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

# Tokens that stay shell syntax instead of being quoted as arguments.
SHELL_OPERATOR = re.compile(
    r"^(\||\|\||\|&|&&|;|&|[0-9]*>|[0-9]*>>|[0-9]*<|[0-9]*>&[0-9]+|&>|&>>)$")


@dataclass(frozen=True)
class JobArray:
    """Jobs ``start..end`` of one command; ``var`` (e.g. "JOB") stands for the job number in the
    log name and the command. ``var`` is None for a single job."""

    log: str
    command: Tuple[str, ...]
    var: Optional[str] = None
    start: int = 1
    end: int = 1

    @property
    def ids(self) -> range:
        return range(self.start, self.end + 1)

    def log_for(self, job: int) -> Path:
        return Path(self._substitute(self.log, job))

    def command_for(self, job: int) -> str:
        """Shell text of job ``job`` (for ``bash -c``)."""
        return " ".join(shell_word(self._substitute(t, job)) for t in self.command)

    def command_template(self, job_expr: str) -> str:
        """Shell text in which ``job_expr`` (e.g. ``${SLURM_ARRAY_TASK_ID}``) gives the job number
        at run time, also inside quoted arguments."""
        return " ".join(shell_word(t, self.var, job_expr) for t in self.command)

    def log_template(self, job_expr: str) -> str:
        return shell_word(self.log, self.var, job_expr)

    def _substitute(self, text: str, job: int) -> str:
        return text.replace(self.var, str(job)) if self.var else text


def shell_word(token: str, var: Optional[str] = None, job_expr: str = "") -> str:
    """Quote ``token`` for bash unless it is a shell operator; occurrences of ``var`` become
    ``job_expr``, left unquoted so that it expands."""
    if SHELL_OPERATOR.match(token):
        return token
    if not var or var not in token:
        return shlex.quote(token)
    pieces = token.split(var)
    return f'"{job_expr}"'.join(shlex.quote(p) if p else "" for p in pieces)
