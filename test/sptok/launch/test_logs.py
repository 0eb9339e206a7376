"""Job logs: the exit code read back from the footer, and the report naming failed jobs."""
from __future__ import annotations

from sptok.launch.job_array import JobArray
from sptok.launch.logs import (failure_report, log_footer, log_header, read_exit_code,
                               report_failures)


def test_exit_code_and_failure_report(tmp_path, capsys):
    jobs = JobArray(log=str(tmp_path / "j.JOB.log"), command=("prog", "a b"), var="JOB", start=1,
                    end=3)
    for j, code in ((1, 0), (2, 3)):
        jobs.log_for(j).write_text(log_header("prog", "host") + f"output of {j}\n"
                                   + log_footer(code, 1.0))
    codes = {j: read_exit_code(jobs.log_for(j)) for j in jobs.ids}
    assert codes == {1: 0, 2: 3, 3: None}  # job 3 never wrote its log
    report = failure_report(jobs, codes)
    assert report.startswith("launch: 2 of 3 jobs failed: prog 'a b'")
    assert f"job 2 (exit code 3): log {jobs.log_for(2)}\n    output of 2\n" in report
    assert "job 3 (no exit code in its log (killed?))" in report and "    (no log)" in report
    assert "output of 1" not in report
    assert report_failures(jobs, {1: 0, 2: 0, 3: 0}) == 0 and capsys.readouterr().err == ""
    assert report_failures(jobs, codes, note="\n  (note)") == 1
    assert capsys.readouterr().err == report + "\n  (note)\n"
