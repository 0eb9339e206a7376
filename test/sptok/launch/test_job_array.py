"""Jobs as bash text: arguments quoted, shell operators kept, the job variable substituted."""
from __future__ import annotations

import subprocess

from sptok.launch.job_array import JobArray


def test_command_quoting_keeps_arguments_and_operators():
    jobs = JobArray(log="l.JOB.log", command=("printf", "%s|", "a b", "it's $HOME", "JOB", "|",
                                              "tr", "a", "A"), var="JOB", start=1, end=2)
    out = subprocess.run(["bash", "-c", jobs.command_for(2)], capture_output=True, text=True)
    assert out.stdout == "A b|it's $HOME|2|"


def test_templates_expand_the_job_number_at_run_time():
    jobs = JobArray(log="log/x.JOB.log", command=("echo", "in.JOB", "a JOB b"), var="JOB",
                    start=1, end=3)
    assert jobs.log_for(3).as_posix() == "log/x.3.log"
    text = f"n=2; {jobs.command_template('${n}')}; echo {jobs.log_template('${n}')}"
    out = subprocess.run(["bash", "-c", text], capture_output=True, text=True)
    assert out.stdout == "in.2 a 2 b\nlog/x.2.log\n"
