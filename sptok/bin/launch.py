"""Job launcher behind cmd.sh's ``$train_cmd`` / ``$cuda_cmd`` / ``$decode_cmd`` (Kaldi's run.pl and
slurm.pl, in Python).

Usage (the interface every backend shares)::

    python -m sptok.bin.launch --backend local|slurm [--gpu N] [--mem M] [--num_threads N]
        [--max_jobs_run N] [--config conf/slurm.conf] [--srun true|false]
        [JOB=1:NJ] LOG program args ...

``JOB=1:NJ`` runs NJ jobs; the name left of ``=`` (here JOB) is replaced by the job number in the
log name and in every argument. Without it one job runs. Options come before the job range and
the log; ``--name value`` and ``--name=value`` both work, dashes count as underscores.

The command is run by ``bash -c``. Each argument reaches the program exactly as given (it is
shell-quoted), except arguments that are a shell operator by themselves (``|``, ``>``, ``2>&1``,
``&&``, ``;`` ...), which stay operators: ``$cmd log/x.log prog a "|" gzip ">" out.gz``.

Every job log gets a header (the command, start time, host) and a footer
``# Ended (code N) at ..., elapsed S s``. When jobs fail the launcher exits 1 and names each
failed job with its log and the log's last lines.

Backends:
    local: runs the jobs on this machine, at most --max_jobs_run at once (default: the number of
        CPUs). --num_threads N sets OMP_NUM_THREADS / MKL_NUM_THREADS for the jobs; --gpu and
        --mem are accepted and ignored (a local job sees every GPU), as are options only a
        scheduler understands (--time ...), so one $cmd line works with every backend.
    slurm: one ``sbatch --wait`` job array (``--array=1-NJ%max_jobs_run``) whose script is written
        to LOGDIR/q/; options are mapped to sbatch options by a config file in ESPnet's format
        (see DEFAULT_SLURM_CONFIG); an option the config does not map is an error. With
        --srun true each job runs through ``srun`` from here instead. Environment variables
        SPTOK_SBATCH, SPTOK_SRUN and SPTOK_SCANCEL override the programs.
"""
from __future__ import annotations

import concurrent.futures
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

USAGE = ("usage: python -m sptok.bin.launch --backend local|slurm [--gpu N] [--mem M] "
         "[--num_threads N] [--max_jobs_run N] [--config FILE] [--srun true|false] "
         "[JOB=1:NJ] LOG program args ...")

# Tokens that stay shell syntax instead of being quoted as arguments.
_SHELL_OPERATOR = re.compile(r"^(\||\|\||\|&|&&|;|&|[0-9]*>|[0-9]*>>|[0-9]*<|[0-9]*>&[0-9]+|&>|&>>)$")
_JOB_RANGE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=([0-9]+)(?::([0-9]+))?$")
_FOOTER = re.compile(r"^# Ended \(code (-?[0-9]+)\)", re.MULTILINE)
_TAIL_LINES = 20

# ESPnet's conf/slurm.conf format: `command PROGRAM ARGS` (the submit command),
# `option NAME=VALUE ARGS` (ARGS when the option has exactly VALUE), `option NAME=* ARGS` (any
# other value, written where ARGS say $0), `default NAME=VALUE` (the value when not given).
DEFAULT_SLURM_CONFIG = """\
command sbatch --export=ALL
option name=* --job-name $0
option time=* --time $0
option mem=* --mem $0
option mem=0
option num_threads=* --cpus-per-task $0
option num_threads=1 --cpus-per-task 1
option num_nodes=* --nodes $0
option partition=* --partition $0
default gpu=0
option gpu=0
option gpu=* --gpus $0
"""


class LaunchError(ValueError):
    """A usage error: bad options, job range, log name or config."""


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
    if _SHELL_OPERATOR.match(token):
        return token
    if not var or var not in token:
        return shlex.quote(token)
    pieces = token.split(var)
    return f'"{job_expr}"'.join(shlex.quote(p) if p else "" for p in pieces)


@dataclass
class Request:
    """A parsed command line: backend options (names with underscores) and the jobs."""

    options: Dict[str, str]
    jobs: JobArray


def parse_request(argv: Sequence[str]) -> Request:
    """Split ``[--name value ...] [VAR=A:B] LOG program args...`` into options and jobs."""
    args = list(argv)
    options: Dict[str, str] = {}
    while args and args[0].startswith("--"):
        token = args.pop(0)
        if token == "--":  # end of options
            break
        if "=" in token:
            name, value = token[2:].split("=", 1)
        else:
            if not args:
                raise LaunchError(f"option {token} needs a value")
            name, value = token[2:], args.pop(0)
        options[name.replace("-", "_")] = value
    var, start, end = None, 1, 1
    if args:
        m = _JOB_RANGE.match(args[0])
        if m:
            args.pop(0)
            var, start = m.group(1), int(m.group(2))
            end = int(m.group(3)) if m.group(3) is not None else start
            if end < start:
                raise LaunchError(f"job range {var}={start}:{end} is empty")
    if len(args) < 2:
        raise LaunchError(f"expected a log file and a command, got {args!r}\n{USAGE}")
    log, command = args[0], tuple(args[1:])
    if var is not None and end > start and var not in log:
        raise LaunchError(f"log name {log} must contain {var}: the {end - start + 1} jobs would "
                          f"share one log")
    return Request(options, JobArray(log=log, command=command, var=var, start=start, end=end))


def _bool_option(options: Mapping[str, str], name: str, default: bool) -> bool:
    value = options.get(name)
    if value is None:
        return default
    if value not in ("true", "false"):
        raise LaunchError(f"--{name} takes true or false, got {value!r}")
    return value == "true"


def _int_option(options: Mapping[str, str], name: str, default: int) -> int:
    value = options.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise LaunchError(f"--{name} takes an integer, got {value!r}") from None
    if number < 1:
        raise LaunchError(f"--{name} must be at least 1, got {number}")
    return number


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# ---------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Local backend (also runs srun jobs: the same with a prefix)
# ---------------------------------------------------------------------------------------------

class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class _Running:
    lock: threading.Lock = field(default_factory=threading.Lock)
    procs: Dict[int, subprocess.Popen] = field(default_factory=dict)
    stopping: bool = False


def run_jobs(jobs: JobArray, max_jobs_run: int, prefix: Sequence[str] = (),
             env: Optional[Mapping[str, str]] = None, where: str = "") -> Dict[int, int]:
    """Run every job of ``jobs`` (``prefix + bash -c COMMAND``), at most ``max_jobs_run`` at once,
    each writing header, output and footer to its log. Returns job -> exit code.

    Raises:
        Interrupted: on SIGINT/SIGTERM, after killing the running jobs (their logs get a footer
            with the signal's negative code) and starting no more.
    """
    state = _Running()
    where = where or socket.gethostname()
    progress = _Progress(len(jobs.ids))

    def run_one(job: int) -> int:
        log = jobs.log_for(job)
        log.parent.mkdir(parents=True, exist_ok=True)
        command = jobs.command_for(job)
        with open(log, "w", encoding="utf-8") as f:
            f.write(log_header(command, where))
            f.flush()
            start = time.monotonic()
            with state.lock:
                if state.stopping:
                    code = -signal.SIGTERM
                    f.write(log_footer(code, 0.0))
                    return code
                proc = subprocess.Popen([*prefix, "bash", "-c", command], stdout=f,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=None if env is None else dict(env))
                state.procs[job] = proc
            code = proc.wait()
            with state.lock:
                state.procs.pop(job, None)
            f.write(log_footer(code, time.monotonic() - start))
        progress.done(code)
        return code

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, max_jobs_run))
    futures = {pool.submit(run_one, j): j for j in jobs.ids}
    codes: Dict[int, int] = {}
    try:
        with _signals_raise():
            pending = set(futures)
            while pending:
                finished, pending = concurrent.futures.wait(pending, timeout=0.5)
                for fut in finished:
                    codes[futures[fut]] = fut.result()
    except Interrupted:
        with state.lock:
            state.stopping = True
            running = list(state.procs.values())
        _terminate(running)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    progress.finish()
    return codes


def _terminate(procs: Sequence[subprocess.Popen], grace_s: float = 5.0) -> None:
    """SIGTERM to every process, then SIGKILL to those still there after ``grace_s``."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()


class _signals_raise:
    """Within the block, SIGINT and SIGTERM raise Interrupted in the main thread."""

    def __enter__(self) -> "_signals_raise":
        self._old = {}
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._raise)
        return self

    @staticmethod
    def _raise(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)


class _Progress:
    """One line to stderr at most every ``every_s`` seconds while jobs finish, so a long array
    shows it is moving without a line per job."""

    def __init__(self, total: int, every_s: float = 30.0):
        self.total, self.every_s = total, every_s
        self.ok = self.failed = 0
        self.start = self.last = time.monotonic()
        self.lock = threading.Lock()

    def done(self, code: int) -> None:
        with self.lock:
            if code == 0:
                self.ok += 1
            else:
                self.failed += 1
            now = time.monotonic()
            if self.total > 1 and now - self.last >= self.every_s and self.ok + self.failed < self.total:
                self.last = now
                print(f"launch: {self.ok + self.failed}/{self.total} jobs done"
                      f"{f', {self.failed} failed' if self.failed else ''} "
                      f"({now - self.start:.0f} s)", file=sys.stderr, flush=True)

    def finish(self) -> None:
        elapsed = time.monotonic() - self.start
        if self.total > 1 and elapsed >= self.every_s:
            print(f"launch: {self.total} jobs finished in {elapsed:.0f} s", file=sys.stderr,
                  flush=True)


def launch_local(request: Request) -> int:
    """Run the jobs here; 0 when all succeed, else 1 with a failure report on stderr."""
    options = request.options
    max_jobs_run = _int_option(options, "max_jobs_run", _cpu_count())
    env = dict(os.environ)
    if "num_threads" in options:
        threads = str(_int_option(options, "num_threads", 1))
        env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    codes = run_jobs(request.jobs, max_jobs_run, env=env)
    if any(c != 0 for c in codes.values()):
        print(failure_report(request.jobs, codes), file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------------------------
# Slurm backend
# ---------------------------------------------------------------------------------------------

@dataclass
class SlurmConfig:
    """A conf/slurm.conf: the submit command and how each option maps to sbatch/srun options."""

    command: List[str]
    defaults: Dict[str, str]
    exact: Dict[Tuple[str, str], List[str]]
    wildcard: Dict[str, List[str]]


def parse_slurm_config(text: str, source: str = "slurm config") -> SlurmConfig:
    """Parse ESPnet's slurm.conf format (see DEFAULT_SLURM_CONFIG)."""
    config = SlurmConfig(command=["sbatch"], defaults={}, exact={}, wildcard={})
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, _, rest = line.partition(" ")
        words = rest.split()
        if kind == "command":
            if not words:
                raise LaunchError(f"{source}:{lineno}: 'command' needs a program")
            config.command = words
            continue
        if kind not in ("option", "default") or not words or "=" not in words[0]:
            raise LaunchError(f"{source}:{lineno}: expected 'command ...', 'option NAME=VALUE "
                              f"ARGS...' or 'default NAME=VALUE', got {raw.strip()!r}")
        name, value = words[0].split("=", 1)
        if kind == "default":
            config.defaults[name] = value
        elif value == "*":
            config.wildcard[name] = words[1:]
        else:
            config.exact[(name, value)] = words[1:]
    return config


def slurm_arguments(config: SlurmConfig, options: Mapping[str, str]) -> List[str]:
    """Scheduler arguments for ``options`` (defaults of the config filled in).

    Raises:
        LaunchError: an option the config does not map (names the option and the config).
    """
    merged = dict(config.defaults)
    merged.update(options)
    out: List[str] = []
    for name, value in merged.items():
        if (name, value) in config.exact:
            out += config.exact[(name, value)]
        elif name in config.wildcard:
            out += [w.replace("$0", value) for w in config.wildcard[name]]
        else:
            known = sorted({n for n, _ in config.exact} | set(config.wildcard))
            raise LaunchError(f"option --{name} {value}: the slurm config maps no such option "
                              f"(it maps: {', '.join('--' + k for k in known)})")
    return out


def _directive_lines(args: Sequence[str]) -> List[str]:
    """Group scheduler arguments into ``#SBATCH`` lines: an option with the values after it."""
    lines: List[List[str]] = []
    for a in args:
        if a.startswith("-") or not lines:
            lines.append([a])
        else:
            lines[-1].append(a)
    return ["#SBATCH " + " ".join(shlex.quote(w) for w in words) for words in lines]


def job_name(jobs: JobArray) -> str:
    """Scheduler job name: the log's file name without the job variable and ``.log``."""
    name = Path(jobs.log).name
    if jobs.var:
        name = name.replace(f".{jobs.var}", "").replace(jobs.var, "")
    return re.sub(r"\.log$", "", name) or "job"


def sbatch_script(jobs: JobArray, scheduler_args: Sequence[str], workdir: str, output: str,
                  max_jobs_run: Optional[int] = None) -> str:
    """Text of the sbatch script running ``jobs`` as one array (one task per job), each task
    writing header, output and footer to its log like the local backend.

    Args:
        jobs: the job array.
        scheduler_args: options from :func:`slurm_arguments`, written as ``#SBATCH`` lines.
        workdir: directory the tasks run in (relative paths in the command are relative to it).
        output: where slurm writes the tasks' own stdout/stderr (``%a`` = task id).
        max_jobs_run: at most this many tasks at once (``--array=A-B%M``).
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
    lines += [
        f"cd {shlex.quote(workdir)} || exit 1",
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


def _load_config(options: Dict[str, str]) -> SlurmConfig:
    path = options.pop("config", None)
    if path is None:
        return parse_slurm_config(DEFAULT_SLURM_CONFIG, "built-in slurm config")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LaunchError(f"--config {path}: no such file") from None
    return parse_slurm_config(text, path)


def launch_slurm(request: Request) -> int:
    """Run the jobs through Slurm (one sbatch array, or srun per job with --srun true)."""
    options = dict(request.options)
    use_srun = _bool_option(options, "srun", False)
    options.pop("srun", None)
    jobs = request.jobs
    max_jobs_run = _int_option(options, "max_jobs_run", len(jobs.ids))
    options.pop("max_jobs_run", None)
    config = _load_config(options)
    scheduler_args = slurm_arguments(config, options)

    if use_srun:
        srun = os.environ.get("SPTOK_SRUN", "srun")
        has_name = "name" in options
        prefix = [srun, "--ntasks=1", *([] if has_name else [f"--job-name={job_name(jobs)}"]),
                  *scheduler_args]
        codes = run_jobs(jobs, max_jobs_run, prefix=prefix, where=f"{socket.gethostname()} via srun")
        if any(c != 0 for c in codes.values()):
            print(failure_report(jobs, codes), file=sys.stderr)
            return 1
        return 0

    qdir = Path(jobs.log).parent / "q"
    qdir.mkdir(parents=True, exist_ok=True)
    name = job_name(jobs)
    script_path = qdir / f"{name}.sh"
    output = os.path.abspath(qdir / (f"{name}.%a.out" if jobs.var else f"{name}.out"))
    script = sbatch_script(jobs, scheduler_args, os.getcwd(), output,
                           max_jobs_run if max_jobs_run < len(jobs.ids) else None)
    script_path.write_text(script, encoding="utf-8")
    for j in jobs.ids:  # a stale log from an earlier run must not count as this run's result
        jobs.log_for(j).unlink(missing_ok=True)

    sbatch = [os.environ.get("SPTOK_SBATCH", config.command[0]), *config.command[1:],
              "--parsable", "--wait", str(script_path)]
    proc = subprocess.Popen(sbatch, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    job_id = ""
    try:
        with _signals_raise():
            assert proc.stdout is not None
            job_id = proc.stdout.readline().strip().split(";")[0]
            _, err = proc.communicate()
    except Interrupted:
        if job_id:
            subprocess.run([os.environ.get("SPTOK_SCANCEL", "scancel"), job_id], check=False)
        _terminate([proc])
        raise
    if not job_id:
        print(f"launch: {' '.join(sbatch)} submitted nothing (exit code {proc.returncode}):\n"
              f"{err.strip()}", file=sys.stderr)
        return 1
    codes = {j: read_exit_code(jobs.log_for(j)) for j in jobs.ids}
    if any(c != 0 for c in codes.values()):
        outs = {j: Path(output.replace("%a", str(j))) for j in jobs.ids}
        print(failure_report(jobs, codes, outs) + f"\n  (slurm job {job_id}, script "
              f"{script_path})", file=sys.stderr)
        return 1
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    try:
        request = parse_request(args)
        backend = request.options.pop("backend", "local")
        if backend == "local":
            return launch_local(request)
        if backend == "slurm":
            return launch_slurm(request)
        raise LaunchError(f"--backend must be local or slurm, got {backend!r}")
    except LaunchError as e:
        print(f"launch: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(f"launch: interrupted by {e}; running jobs were stopped", file=sys.stderr)
        return 128 + e.signum


if __name__ == "__main__":
    sys.exit(main())
