"""The launcher's command line: options, job range, log and command."""
from __future__ import annotations

import pytest

from sptok.launch.errors import LaunchError
from sptok.launch.request import bool_option, int_option, parse_request


def test_parse_request_options_range_log_command():
    req = parse_request(["--gpu", "1", "--max-jobs-run=3", "JOB=2:5", "log/a.JOB.log", "prog",
                         "--x", "JOB"])
    assert req.options == {"gpu": "1", "max_jobs_run": "3"}
    assert (req.jobs.var, req.jobs.start, req.jobs.end) == ("JOB", 2, 5)
    assert req.jobs.log == "log/a.JOB.log"
    assert req.jobs.command == ("prog", "--x", "JOB")
    single = parse_request(["log/b.log", "echo", "hi"])
    assert single.jobs.var is None and list(single.jobs.ids) == [1]


@pytest.mark.parametrize("argv, message", [
    (["JOB=1:3", "log/a.log", "prog"], "must contain JOB"),
    (["JOB=3:1", "log/a.JOB.log", "prog"], "is empty"),
    (["log/a.log"], "expected a log file and a command"),
    (["--gpu"], "needs a value"),
])
def test_parse_request_errors(argv, message):
    with pytest.raises(LaunchError, match=message):
        parse_request(argv)


def test_typed_options():
    assert bool_option({"srun": "true"}, "srun", False) is True
    assert bool_option({}, "srun", True) is True
    assert int_option({"max_jobs_run": "4"}, "max_jobs_run", 1) == 4
    assert int_option({}, "max_jobs_run", 7) == 7
    with pytest.raises(LaunchError, match="--srun takes true or false, got 'yes'"):
        bool_option({"srun": "yes"}, "srun", False)
    with pytest.raises(LaunchError, match="--num_threads takes an integer, got 'x'"):
        int_option({"num_threads": "x"}, "num_threads", 1)
    with pytest.raises(LaunchError, match="--max_jobs_run must be at least 1, got 0"):
        int_option({"max_jobs_run": "0"}, "max_jobs_run", 1)
