"""The sbatch script of a job array: one array task per job, each writing its log like the
local backend does."""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import List, Mapping, Optional, Sequence

from sptok.launch.job_array import JobArray


def job_name(jobs: JobArray) -> str:
    """Scheduler job name: the log's file name without the job variable and ``.log``."""
    name = Path(jobs.log).name
    if jobs.var:
        name = name.replace(f".{jobs.var}", "").replace(jobs.var, "")
    return re.sub(r"\.log$", "", name) or "job"


def _directive_lines(args: Sequence[str]) -> List[str]:
    """Group scheduler arguments into ``#SBATCH`` lines: an option with the values after it."""
    lines: List[List[str]] = []
    for a in args:
        if a.startswith("-") or not lines:
            lines.append([a])
        else:
            lines[-1].append(a)
    return ["#SBATCH " + " ".join(shlex.quote(w) for w in words) for words in lines]


def sbatch_script(jobs: JobArray, scheduler_args: Sequence[str], workdir: str, output: str,
                  max_jobs_run: Optional[int] = None,
                  env: Optional[Mapping[str, str]] = None) -> str:
    """Text of the sbatch script running ``jobs`` as one array (one task per job), each task
    writing header, output and footer to its log like the local backend.

    Args:
        jobs: the job array.
        scheduler_args: options from :func:`~sptok.launch.slurm_config.slurm_arguments`, written
            as ``#SBATCH`` lines.
        workdir: directory the tasks run in (relative paths in the command are relative to it).
        output: where slurm writes the tasks' own stdout/stderr (``%a`` = task id).
        max_jobs_run: at most this many tasks at once (``--array=A-B%M``).
        env: variables the tasks export (on top of the submitting shell's, which sbatch
            passes with --export=ALL).
    """
    has_name = any(a == "--job-name" or a.startswith("--job-name=") or a == "-J"
                   for a in scheduler_args)
    lines = ["#!/usr/bin/env bash"]
    if not has_name:
        lines.append(f"#SBATCH --job-name={shlex.quote(job_name(jobs))}")
    if jobs.var:
        throttle = f"%{max_jobs_run}" if max_jobs_run else ""
        lines.append(f"#SBATCH --array={jobs.start}-{jobs.end}{throttle}")
    lines.append(f"#SBATCH --output={shlex.quote(output)}")
    lines += _directive_lines(scheduler_args)
    job_expr = "${SLURM_ARRAY_TASK_ID}"
    command = jobs.command_template(job_expr)
    lines.append(f"cd {shlex.quote(workdir)} || exit 1")
    lines += [f"export {k}={shlex.quote(v)}" for k, v in (env or {}).items()]
    lines += [
        f"log={jobs.log_template(job_expr)}",
        'mkdir -p "$(dirname "${log}")" || exit 1',
        "start=${SECONDS}",
        "{",
        f"    echo {shlex.quote('# ' + command)}",
        '    echo "# Started at $(date) on $(hostname), slurm job ${SLURM_JOB_ID:-?}'
        + (' task ${SLURM_ARRAY_TASK_ID}' if jobs.var else '') + '"',
        '} > "${log}"',
        f"( {command} ) >> \"${{log}}\" 2>&1",
        "code=$?",
        'echo "# Ended (code ${code}) at $(date), elapsed $((SECONDS - start)) s" >> "${log}"',
        "exit ${code}",
    ]
    return "\n".join(lines) + "\n"
