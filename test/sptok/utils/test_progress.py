import pytest

from sptok.utils.progress import progress_mininterval


def test_environment_variable_wins(monkeypatch):
    monkeypatch.setenv("TQDM_MININTERVAL", "30")
    assert progress_mininterval() == 30.0


def test_log_file_gets_the_batch_interval(monkeypatch):
    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)
    # pytest captures stderr, so it is not a terminal here
    assert progress_mininterval(interactive_seconds=1.0, batch_seconds=45.0) == 45.0


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("TQDM_MININTERVAL", "soon")
    with pytest.raises(ValueError, match="TQDM_MININTERVAL"):
        progress_mininterval()
