"""Job launcher behind cmd.sh's ``$train_cmd`` / ``$cuda_cmd`` / ``$decode_cmd`` (Kaldi's run.pl and
slurm.pl, in Python).

Usage (the interface every backend shares)::

    python -m sptok.bin.launch --backend local|slurm [--gpu N] [--mem M] [--num_threads N]
        [--max_jobs_run N] [--config conf/slurm.conf] [--srun true|false]
        [--ddp true [--num_nodes M] [--nproc_per_node N] [--rdzv_endpoint HOST:PORT]
         [--rdzv_id ID]] [JOB=1:NJ] LOG program args ...

``JOB=1:NJ`` runs NJ jobs; the name left of ``=`` (here JOB) is replaced by the job number in the
log name and in every argument. Without it one job runs. Options come before the job range and
the log; ``--name value`` and ``--name=value`` both work, dashes count as underscores.

The command is run by ``bash -c``. Each argument reaches the program exactly as given (it is
shell-quoted), except arguments that are a shell operator by themselves (``|``, ``>``, ``2>&1``,
``&&``, ``;`` ...), which stay operators: ``$cmd log/x.log prog a "|" gzip ">" out.gz``.

Every job log gets a header (the command, start time, host) and a footer
``# Ended (code N) at ..., elapsed S s``. When jobs fail the launcher exits 1 and names each
failed job with its log and the log's last lines.

Distributed training (``--ddp true``, one job): the command is one training process, ``PYTHON -m
MODULE args`` or ``PYTHON SCRIPT.py args``; the launcher runs it under torchrun
(``PYTHON -m torch.distributed.run``) as ``--nproc_per_node`` processes (default: ``--gpu``, at
least 1; CPU training uses gloo) on each of ``--num_nodes`` nodes:

* one node: ``torchrun --standalone``;
* several nodes: a c10d rendezvous at ``--rdzv_endpoint HOST:PORT`` with id ``--rdzv_id``.
  The local backend runs this node's share: start the same command on every node (the endpoint
  may also come from SPTOK_RDZV_ENDPOINT); the rendezvous host writes LOG, the others
  ``<LOG without .log>.<host>.log``. Slurm allocates the nodes (``--nodes M
  --ntasks-per-node 1``) and ``srun`` starts one torchrun per node; the rendezvous is on the
  first node of the allocation, at a port derived from the job id, with the job id as its id.

``--num_threads`` is per process (Slurm gets ``--cpus-per-task`` = nproc_per_node x
num_threads), ``--gpu`` per node.

Backends:
    local: runs the jobs on this machine, at most --max_jobs_run at once (default: the number of
        CPUs). --num_threads N sets OMP_NUM_THREADS / MKL_NUM_THREADS for the jobs. --gpu N
        gives each running job N GPUs of its own (CUDA_VISIBLE_DEVICES; the GPUs are those of
        CUDA_VISIBLE_DEVICES, else of ``nvidia-smi -L``), so at most (GPUs / N) jobs run at
        once; without a GPU it is ignored. --mem and options only a scheduler understands
        (--time ...) are accepted and ignored, so one $cmd line works with every backend.
    slurm: one ``sbatch --wait`` job array (``--array=1-NJ%max_jobs_run``) whose script is written
        to LOGDIR/q/; options are mapped to sbatch options by a config file in ESPnet's format
        (see DEFAULT_SLURM_CONFIG); an option the config does not map is an error. With
        --srun true each job runs through ``srun`` from here instead. Environment variables
        SPTOK_SBATCH, SPTOK_SRUN, SPTOK_SCANCEL and SPTOK_SCONTROL override the
        programs. Jobs get OMP_NUM_THREADS / MKL_NUM_THREADS from --num_threads here too.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import os
import queue
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
         "[--ddp true [--num_nodes M] [--nproc_per_node N] [--rdzv_endpoint HOST:PORT] "
         "[--rdzv_id ID]] [JOB=1:NJ] LOG program args ...")

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
option gpu=* --gpus-per-node $0
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
# Distributed training: the command under torchrun
# ---------------------------------------------------------------------------------------------

#: HOST, HOST:PORT or [IPv6]:PORT of a c10d rendezvous.
_ENDPOINT = re.compile(r"[A-Za-z0-9_.\-]+(:[0-9]+)?|\[[0-9a-fA-F:]+\](:[0-9]+)?")
#: First port of the rendezvous ports a Slurm job derives from its id (20000-39999).
RDZV_PORT_BASE = 20000
RDZV_PORT_SPAN = 20000


@dataclass(frozen=True)
class DDPRequest:
    """One training process (``python -m MODULE args`` or ``python SCRIPT args``) to run as
    ``nproc_per_node`` DDP processes on each of ``num_nodes`` nodes."""

    python: str
    program: Tuple[str, ...]
    nproc_per_node: int
    num_nodes: int
    rdzv_endpoint: Optional[str]
    rdzv_id: Optional[str]

    def torchrun(self, rdzv_endpoint: Optional[str], rdzv_id: Optional[str]) -> List[str]:
        """The torchrun command line: standalone for one node (``rdzv_endpoint`` None), else a
        c10d rendezvous at ``rdzv_endpoint`` named ``rdzv_id``."""
        words = [self.python, "-m", "torch.distributed.run", "--nnodes", str(self.num_nodes),
                 "--nproc_per_node", str(self.nproc_per_node)]
        if rdzv_endpoint is None:
            words.append("--standalone")
        else:
            words += ["--rdzv_backend", "c10d", "--rdzv_endpoint", rdzv_endpoint,
                      "--rdzv_id", rdzv_id or "sptok"]
        return words + list(self.program)


def pop_ddp_request(options: Dict[str, str], jobs: JobArray) -> Optional[DDPRequest]:
    """Take the options of a ``--ddp true`` job out of ``options`` (num_nodes too: the launcher
    places the nodes itself); None when the job is not distributed.

    Raises:
        LaunchError: DDP options without --ddp true, a job range, a command that is not
            ``PYTHON -m MODULE ...`` / ``PYTHON SCRIPT ...``, or bad numbers.
    """
    ddp = _bool_option(options, "ddp", False)
    options.pop("ddp", None)
    if not ddp:
        stray = [n for n in ("nproc_per_node", "rdzv_endpoint", "rdzv_id") if n in options]
        if stray:
            raise LaunchError(f"--{stray[0]} is an option of distributed training: add --ddp true")
        return None
    if len(jobs.ids) > 1:
        raise LaunchError(f"--ddp true runs one training, not a job range "
                          f"({jobs.var}={jobs.start}:{jobs.end})")
    command = jobs.command
    if any(_SHELL_OPERATOR.match(t) for t in command):
        raise LaunchError("--ddp true: the command must be one python program, without shell "
                          f"operators; got {' '.join(command)}")
    is_python = Path(command[0]).name.startswith("python")
    if not is_python or len(command) < 2 or (command[1] == "-m" and len(command) < 3) \
            or (command[1].startswith("-") and command[1] != "-m"):
        raise LaunchError("--ddp true: the command must be 'PYTHON -m MODULE args' or 'PYTHON "
                          f"SCRIPT args' (torchrun starts it once per process); got "
                          f"{' '.join(command)}")
    gpus = int(options.get("gpu", "0")) if options.get("gpu", "0").isdigit() else None
    if gpus is None:
        raise LaunchError(f"--gpu takes an integer, got {options['gpu']!r}")
    nproc = _int_option(options, "nproc_per_node", max(gpus, 1))
    options.pop("nproc_per_node", None)
    num_nodes = _int_option(options, "num_nodes", 1)
    options.pop("num_nodes", None)
    endpoint = options.pop("rdzv_endpoint", None)
    if endpoint is not None:
        check_endpoint(endpoint, "--rdzv_endpoint")
    return DDPRequest(python=command[0], program=tuple(command[1:]), nproc_per_node=nproc,
                      num_nodes=num_nodes, rdzv_endpoint=endpoint,
                      rdzv_id=options.pop("rdzv_id", None))


def check_endpoint(endpoint: str, source: str) -> None:
    if not _ENDPOINT.fullmatch(endpoint):
        raise LaunchError(f"{source} takes HOST or HOST:PORT, got {endpoint!r}")


def _endpoint_host(endpoint: str) -> str:
    host = endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 or "]" in endpoint else endpoint
    return host.strip("[]")


def is_this_host(host: str) -> bool:
    """True when ``host`` names this machine (by name or a loopback / own address)."""
    names = {"localhost", socket.gethostname(), socket.gethostname().split(".")[0]}
    if host in names or host.startswith("127.") or host == "::1":
        return True
    try:
        own = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None)}
        return bool(own & {a[4][0] for a in socket.getaddrinfo(host, None)})
    except OSError:
        return False


def node_log(log: str, host: str) -> str:
    """Log of a non-rendezvous node: ``train.log`` -> ``train.<host>.log``."""
    path = Path(log)
    stem, suffix = (path.stem, path.suffix) if path.suffix == ".log" else (path.name, "")
    return str(path.with_name(f"{stem}.{host}{suffix or '.log'}"))


def default_rdzv_id(log: str) -> str:
    """A rendezvous id every node computes alike: from the absolute log path (the recipe
    directory is shared between the nodes)."""
    return "sptok-" + hashlib.sha1(os.path.abspath(log).encode("utf-8")).hexdigest()[:12]


def slurm_ddp_text(ddp: DDPRequest, scontrol: str) -> str:
    """Shell text one Slurm task runs on each node: find the rendezvous host (the first node of
    the allocation) and start this node's torchrun."""
    endpoint_mark, id_mark = "\0endpoint", "\0id"
    words = ddp.torchrun(endpoint_mark, id_mark)
    rendered = []
    for w in words:
        if w == endpoint_mark:
            rendered.append('"${rdzv_endpoint}"')
        elif w == id_mark:
            rendered.append(shlex.quote(ddp.rdzv_id) if ddp.rdzv_id else '"sptok-${SLURM_JOB_ID}"')
        else:
            rendered.append(shlex.quote(w))
    if ddp.rdzv_endpoint:
        endpoint = f"rdzv_endpoint={shlex.quote(ddp.rdzv_endpoint)}"
    else:
        # Every node derives the same port from the job id (jobs whose ids differ by less
        # than the span never share one).
        endpoint = (f'rdzv_host=$({shlex.quote(scontrol)} show hostnames "${{SLURM_JOB_NODELIST}}" '
                    f"| head -n 1) && [ -n \"${{rdzv_host}}\" ] || exit 1; "
                    f"rdzv_endpoint=${{rdzv_host}}:$(({RDZV_PORT_BASE} + SLURM_JOB_ID % "
                    f"{RDZV_PORT_SPAN}))")
    return (f'{endpoint}; echo "# node $(hostname): torchrun, rendezvous ${{rdzv_endpoint}}"; '
            f"exec {' '.join(rendered)}")


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
             env: Optional[Mapping[str, str]] = None, where: str = "",
             gpu_groups: Optional[Sequence[str]] = None) -> Dict[int, int]:
    """Run every job of ``jobs`` (``prefix + bash -c COMMAND``), at most ``max_jobs_run`` at once,
    each writing header, output and footer to its log. Returns job -> exit code.

    With ``gpu_groups`` (CUDA_VISIBLE_DEVICES values, e.g. ``["0", "1"]``) each running job
    holds one group of its own, and at most ``len(gpu_groups)`` jobs run at once.

    Raises:
        Interrupted: on SIGINT/SIGTERM, after killing the running jobs (their logs get a footer
            with the signal's negative code) and starting no more.
    """
    state = _Running()
    where = where or socket.gethostname()
    progress = _Progress(len(jobs.ids))
    free_gpus: "queue.Queue[str]" = queue.Queue()
    for group in gpu_groups or ():
        free_gpus.put(group)
    if gpu_groups:
        max_jobs_run = min(max_jobs_run, len(gpu_groups))

    def run_one(job: int) -> int:
        if not gpu_groups:
            return run_on(job, None)
        group = free_gpus.get()
        try:
            return run_on(job, group)
        finally:
            free_gpus.put(group)

    def run_on(job: int, gpus: Optional[str]) -> int:
        log = jobs.log_for(job)
        log.parent.mkdir(parents=True, exist_ok=True)
        command = jobs.command_for(job)
        job_env = None if env is None and gpus is None else dict(env or os.environ)
        if gpus is not None:
            job_env["CUDA_VISIBLE_DEVICES"] = gpus
        with open(log, "w", encoding="utf-8") as f:
            f.write(log_header(command, where + (f", GPUs {gpus}" if gpus is not None else "")))
            f.flush()
            start = time.monotonic()
            with state.lock:
                if state.stopping:
                    code = -signal.SIGTERM
                    f.write(log_footer(code, 0.0))
                    return code
                proc = subprocess.Popen([*prefix, "bash", "-c", command], stdout=f,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=job_env)
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


def thread_env(threads: Optional[int]) -> Dict[str, str]:
    """Environment limiting each process to ``threads`` CPU threads (nothing for None)."""
    return {} if threads is None else {"OMP_NUM_THREADS": str(threads),
                                       "MKL_NUM_THREADS": str(threads)}


def visible_gpus() -> List[str]:
    """The GPUs jobs here may use: CUDA_VISIBLE_DEVICES when set, else those ``nvidia-smi -L``
    lists (none without it)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    try:
        out = subprocess.run([os.environ.get("SPTOK_NVIDIA_SMI", "nvidia-smi"), "-L"],
                             capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, _ in enumerate(l for l in out.stdout.splitlines()
                                         if l.startswith("GPU "))]


def gpu_groups_for(gpus_per_job: int, gpus: Sequence[str]) -> Optional[List[str]]:
    """Disjoint CUDA_VISIBLE_DEVICES values of ``gpus_per_job`` GPUs each (one per job running
    at once); None when this machine shows no GPU (the jobs then see what they see)."""
    if gpus_per_job < 1 or not gpus:
        return None
    if gpus_per_job > len(gpus):
        raise LaunchError(f"--gpu {gpus_per_job}: only {len(gpus)} GPU(s) here "
                          f"({','.join(gpus)})")
    return [",".join(gpus[i:i + gpus_per_job])
            for i in range(0, len(gpus) - gpus_per_job + 1, gpus_per_job)]


def launch_local(request: Request) -> int:
    """Run the jobs here; 0 when all succeed, else 1 with a failure report on stderr. Jobs
    asking ``--gpu N`` get N GPUs of their own each (CUDA_VISIBLE_DEVICES), so that an array of
    GPU jobs spreads over the GPUs, as many at once as there are groups of N."""
    options = dict(request.options)
    jobs = request.jobs
    ddp = pop_ddp_request(options, jobs)
    max_jobs_run = _int_option(options, "max_jobs_run", _cpu_count())
    threads = _int_option(options, "num_threads", 1) if "num_threads" in options else None
    env = dict(os.environ, **thread_env(threads))
    gpu_groups = None
    if ddp is not None:
        jobs = local_ddp_jobs(ddp, jobs)
        max_jobs_run = 1
    elif options.get("gpu", "0") != "0":
        if not options["gpu"].isdigit():
            raise LaunchError(f"--gpu takes an integer, got {options['gpu']!r}")
        gpu_groups = gpu_groups_for(int(options["gpu"]), visible_gpus())
    codes = run_jobs(jobs, max_jobs_run, env=env, gpu_groups=gpu_groups)
    if any(c != 0 for c in codes.values()):
        print(failure_report(jobs, codes), file=sys.stderr)
        return 1
    return 0


def local_ddp_jobs(ddp: DDPRequest, jobs: JobArray) -> JobArray:
    """This node's torchrun as a single job (see the module docstring)."""
    if ddp.num_nodes == 1:
        return JobArray(log=jobs.log_for(jobs.start).as_posix(),
                        command=tuple(ddp.torchrun(None, None)))
    endpoint = ddp.rdzv_endpoint or os.environ.get("SPTOK_RDZV_ENDPOINT") or None
    if endpoint is None:
        raise LaunchError(f"--num_nodes {ddp.num_nodes} with the local backend: give the "
                          "rendezvous --rdzv_endpoint HOST:PORT (or SPTOK_RDZV_ENDPOINT), the "
                          "same on every node, and start the command on every node")
    check_endpoint(endpoint, "--rdzv_endpoint" if ddp.rdzv_endpoint else "SPTOK_RDZV_ENDPOINT")
    log = jobs.log_for(jobs.start).as_posix()
    if not is_this_host(_endpoint_host(endpoint)):
        log = node_log(log, socket.gethostname().split(".")[0])
    rdzv_id = ddp.rdzv_id or default_rdzv_id(jobs.log_for(jobs.start).as_posix())
    return JobArray(log=log, command=tuple(ddp.torchrun(endpoint, rdzv_id)))


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
                  max_jobs_run: Optional[int] = None,
                  env: Optional[Mapping[str, str]] = None) -> str:
    """Text of the sbatch script running ``jobs`` as one array (one task per job), each task
    writing header, output and footer to its log like the local backend.

    Args:
        jobs: the job array.
        scheduler_args: options from :func:`slurm_arguments`, written as ``#SBATCH`` lines.
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
    ddp = pop_ddp_request(options, jobs)
    max_jobs_run = _int_option(options, "max_jobs_run", len(jobs.ids))
    options.pop("max_jobs_run", None)
    threads = _int_option(options, "num_threads", 1) if "num_threads" in options else None
    env = thread_env(threads)
    placement: List[str] = []
    if ddp is not None:
        # One task per node holds the node's torchrun and the CPUs of all its processes.
        options["num_threads"] = str(ddp.nproc_per_node * (threads or 1))
        placement = [f"--nodes={ddp.num_nodes}", "--ntasks-per-node=1"]
    config = _load_config(options)
    scheduler_args = placement + slurm_arguments(config, options)
    srun = os.environ.get("SPTOK_SRUN", "srun")

    if ddp is not None:
        inner = slurm_ddp_text(ddp, os.environ.get("SPTOK_SCONTROL", "scontrol"))
        if use_srun:
            jobs = JobArray(log=jobs.log_for(jobs.start).as_posix(), command=("bash", "-c", inner))
        else:
            # srun inside the allocation: one task per node, each with the job's CPUs (srun
            # does not inherit sbatch's --cpus-per-task since Slurm 22.05).
            jobs = JobArray(log=jobs.log_for(jobs.start).as_posix(), command=(
                srun, "--ntasks-per-node=1", "--kill-on-bad-exit=1",
                f"--cpus-per-task={options['num_threads']}", "bash", "-c", inner))

    if use_srun:
        has_name = "name" in options
        tasks = ["--kill-on-bad-exit=1"] if ddp else ["--ntasks=1"]  # ddp: placement above
        prefix = [srun, *tasks, *([] if has_name else [f"--job-name={job_name(jobs)}"]),
                  *scheduler_args]
        codes = run_jobs(jobs, max_jobs_run, prefix=prefix, env=dict(os.environ, **env),
                         where=f"{socket.gethostname()} via srun")
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
                           max_jobs_run if max_jobs_run < len(jobs.ids) else None, env=env)
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
