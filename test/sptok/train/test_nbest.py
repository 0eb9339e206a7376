"""N-best bookkeeping: which step files exist, where the best links point, state round trip."""
import os

import pytest

from sptok.train.nbest import Criterion, NBestKeeper, parse_criteria


def writer(path):
    path.write_text(path.name)


def files(d):
    return sorted(p.name for p in d.iterdir())


def test_parse_criteria():
    assert parse_criteria(["valid", "mel_distance", "min"]) == [
        Criterion("valid", "mel_distance", "min")]
    both = parse_criteria([["valid", "loss", "min"], ["train", "acc", "max"]])
    assert [c.link_name for c in both] == ["valid.loss.best.pth", "train.acc.best.pth"]
    for bad in (["test", "x", "min"], ["valid", "x", "lowest"], [], "valid",
                [["valid", "x", "min"], ["valid", "x", "max"]]):
        with pytest.raises(ValueError, match="best_criterion"):
            parse_criteria(bad)


def test_keeps_n_best_and_links_the_best(tmp_path):
    keeper = NBestKeeper(tmp_path, parse_criteria(["valid", "loss", "min"]), keep=2)
    for step, loss in [(10, 5.0), (20, 3.0), (30, 4.0), (40, 6.0), (50, 1.0)]:
        keeper.update(step, {"valid": {"loss": loss}}, writer)
    assert files(tmp_path) == ["20steps.pth", "50steps.pth", "valid.loss.best.pth"]
    assert os.readlink(tmp_path / "valid.loss.best.pth") == "50steps.pth"
    assert keeper.best(keeper.criteria[0]) == [(1.0, 50), (3.0, 20)]


def test_several_criteria_share_files_and_max_mode(tmp_path):
    criteria = parse_criteria([["valid", "loss", "min"], ["valid", "acc", "max"]])
    keeper = NBestKeeper(tmp_path, criteria, keep=1)
    keeper.update(1, {"valid": {"loss": 2.0, "acc": 0.5}}, writer)
    keeper.update(2, {"valid": {"loss": 1.0, "acc": 0.4}}, writer)
    keeper.update(3, {"valid": {"loss": 3.0, "acc": 0.3}}, writer)
    assert files(tmp_path) == ["1steps.pth", "2steps.pth", "valid.acc.best.pth",
                               "valid.loss.best.pth"]
    assert (tmp_path / "valid.acc.best.pth").read_text() == "1steps.pth"
    assert (tmp_path / "valid.loss.best.pth").read_text() == "2steps.pth"


def test_ties_keep_the_earlier_step_and_nan_is_not_ranked(tmp_path):
    keeper = NBestKeeper(tmp_path, parse_criteria(["valid", "loss", "min"]), keep=1)
    keeper.update(1, {"valid": {"loss": 1.0}}, writer)
    keeper.update(2, {"valid": {"loss": 1.0}}, writer)
    keeper.update(3, {"valid": {"loss": float("nan")}}, writer)
    assert files(tmp_path) == ["1steps.pth", "valid.loss.best.pth"]


def test_missing_stat_names_the_available_ones(tmp_path):
    keeper = NBestKeeper(tmp_path, parse_criteria(["valid", "mel_distance", "min"]), keep=1)
    with pytest.raises(ValueError, match="no stat 'mel_distance'.*available: loss"):
        keeper.update(1, {"valid": {"loss": 1.0}}, writer)


def test_state_round_trip_and_keep_zero(tmp_path):
    criteria = parse_criteria(["valid", "loss", "min"])
    keeper = NBestKeeper(tmp_path, criteria, keep=2)
    keeper.update(1, {"valid": {"loss": 2.0}}, writer)
    keeper.update(2, {"valid": {"loss": 1.0}}, writer)
    restored = NBestKeeper(tmp_path, criteria, keep=2)
    restored.load_state_dict(keeper.state_dict())
    restored.update(3, {"valid": {"loss": 0.5}}, writer)
    assert files(tmp_path) == ["2steps.pth", "3steps.pth", "valid.loss.best.pth"]
    empty = tmp_path / "none"
    empty.mkdir()
    NBestKeeper(empty, criteria, keep=0).update(1, {"valid": {"loss": 1.0}}, writer)
    assert files(empty) == []
