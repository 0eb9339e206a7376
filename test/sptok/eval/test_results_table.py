"""Markdown result tables from score_audio summaries."""
from __future__ import annotations

import math

import pytest
import yaml

from sptok.eval.results_table import (SCORE_COLUMNS, ScoreSummary, format_value,
                                      read_score_summary, score_table, scorer_names, set_heading,
                                      write_markdown)


def _write_summary(path, data) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_read_score_summary(tmp_path):
    path = _write_summary(tmp_path / "summary.yaml", {
        "tag": "x", "n_utt": 3, "scorers": {"asr": "whisper_tiny", "spk_model": "resemblyzer"},
        "metrics": {"wer": {"value": 12.5, "errors": 4}, "spk_sim": {"value": "nan"}}})
    summary = read_score_summary(path, required=("wer", "spk_sim"))
    assert summary.n_utt == 3
    assert summary.scorers == {"asr": "whisper_tiny", "spk_model": "resemblyzer"}
    assert summary.values["wer"] == 12.5 and math.isnan(summary.values["spk_sim"])

    # A summary without scorers or n_utt still reads.
    bare = read_score_summary(_write_summary(tmp_path / "bare.yaml", {
        "scorers": None, "metrics": {"mel": {"value": 1}}}))
    assert bare == ScoreSummary(n_utt=None, scorers={}, values={"mel": 1.0})


def test_read_score_summary_errors_name_the_file(tmp_path):
    not_summary = _write_summary(tmp_path / "other.yaml", {"tag": "x"})
    with pytest.raises(ValueError, match="other.yaml: not a summary.yaml of sptok.bin.score_audio"):
        read_score_summary(not_summary)
    partial = _write_summary(tmp_path / "partial.yaml", {"metrics": {"stoi": {"value": 0.5}}})
    with pytest.raises(ValueError, match=r"partial.yaml: no wer and spk_sim among its metrics "
                                         r"\['stoi'\]: score with --metrics wer,spk_sim"):
        read_score_summary(partial, required=("wer", "spk_sim"))


def test_format_value():
    assert format_value(None, 2) == "-"
    assert format_value(math.nan, 3) == "nan"
    assert format_value(12.345, 2) == "12.35" and format_value(0.9, 3) == "0.900"


def test_scorer_names_and_set_heading():
    summaries = [ScoreSummary(3, {"asr": "b"}), ScoreSummary(4, {"asr": "a", "spk_model": "s"}),
                 ScoreSummary(None, {"asr": None}), ScoreSummary(3, {"asr": "a"})]
    assert scorer_names(summaries, "asr") == ["a", "b"]
    assert scorer_names(summaries, "spk_model") == ["s"]
    assert scorer_names(summaries, "other") == []
    assert set_heading("test", summaries) == "## test (3/4 utterances)"
    assert set_heading("test", [ScoreSummary()]) == "## test"


def test_score_table_shows_the_columns_any_row_has():
    rows = [("ground truth", ScoreSummary(values={"wer": 4.5})),
            ("codec", ScoreSummary(values={"wer": 12.345, "mel": 0.75, "spk_sim": math.nan}))]
    assert score_table(rows) == ["| system | WER (%) | SIM | mel distance |",
                                 "|---|---:|---:|---:|",
                                 "| ground truth | 4.50 | - | - |",
                                 "| codec | 12.35 | nan | 0.750 |"]
    wer_only = [c for c in SCORE_COLUMNS if c[0] == "wer"]
    assert score_table(rows, wer_only)[0] == "| system | WER (%) |"


def test_write_markdown(tmp_path, capsys):
    out = tmp_path / "sub" / "results.md"
    write_markdown("# Results\n", out)
    assert out.read_text() == "# Results\n"
    assert capsys.readouterr().out == "# Results\n"
