import argparse
import logging

import pytest

from sptok.data.errors import DataError
from sptok.utils.cli import run_cli, str2bool


@pytest.mark.parametrize("text, value", [("true", True), ("Yes", True), ("1", True),
                                         ("false", False), ("NO", False), ("0", False)])
def test_accepted_spellings(text, value):
    assert str2bool(text) is value


def test_other_words_are_rejected_with_the_value():
    with pytest.raises(argparse.ArgumentTypeError, match="expected true or false, got 'maybe'"):
        str2bool("maybe")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toy")
    parser.add_argument("--status", type=int, default=None)
    return parser


def test_run_cli_passes_the_parsed_options_and_returns_0_on_success(capsys):
    seen = []
    assert run_cli(_parser(), seen.append, ["--status", "5"]) == 0
    assert seen[0].status == 5
    assert capsys.readouterr().err == ""


def test_what_work_returns_is_not_the_exit_status():
    assert run_cli(_parser(), lambda args: args.status, ["--status", "3"]) == 0


@pytest.mark.parametrize("error, message", [
    (DataError("bad line", path="wav.scp", line=2), "wav.scp:2: bad line"),
    (ValueError("--fs must be positive"), "--fs must be positive")])
def test_default_errors_print_prog_error_message_and_return_1(capsys, error, message):
    def work(args):
        raise error

    assert run_cli(_parser(), work, []) == 1
    assert capsys.readouterr().err == f"toy: error: {message}\n"


@pytest.mark.parametrize("error, message", [
    (FileNotFoundError(2, "No such file or directory", "x.wav"),
     "[Errno 2] No such file or directory: 'x.wav'"),
    (KeyError("utt1"), "'utt1'"),
    (ImportError("no module named whisper"), "no module named whisper")])
def test_extra_error_types_are_caught_when_listed(capsys, error, message):
    def work(args):
        raise error

    errors = (ValueError, FileNotFoundError, KeyError, ImportError)
    assert run_cli(_parser(), work, [], errors=errors) == 1
    assert capsys.readouterr().err == f"toy: error: {message}\n"


@pytest.mark.parametrize("error, errors", [(FileNotFoundError("x.wav"), (DataError, ValueError)),
                                           (RuntimeError("a bug"), (ValueError,)),
                                           (ValueError("bad"), (DataError,))])
def test_exceptions_outside_errors_propagate(capsys, error, errors):
    def work(args):
        raise error

    with pytest.raises(type(error)):
        run_cli(_parser(), work, [], errors=errors)
    assert capsys.readouterr().err == ""


def test_usage_errors_exit_2_as_argparse_does(capsys):
    parser = _parser()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(parser, lambda args: None, ["--status", "x"])
    assert exit_info.value.code == 2
    assert "toy: error: argument --status" in capsys.readouterr().err

    def work(args):
        parser.error("--status must be even")

    with pytest.raises(SystemExit) as exit_info:
        run_cli(parser, work, ["--status", "3"])
    assert exit_info.value.code == 2
    assert "toy: error: --status must be even" in capsys.readouterr().err


def test_log_format_sets_up_the_root_logger(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    run_cli(_parser(), lambda args: None, [], log_format="toy: %(levelname)s: %(message)s")
    assert root.level == logging.INFO
    record = logging.LogRecord("toy", logging.INFO, __file__, 1, "hello", None, None)
    assert root.handlers[0].format(record) == "toy: INFO: hello"


def test_without_log_format_logging_is_left_alone(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    run_cli(_parser(), lambda args: None, [])
    assert root.handlers == [] and root.level == logging.WARNING
