import argparse

import pytest

from sptok.utils.cli import str2bool


@pytest.mark.parametrize("text, value", [("true", True), ("Yes", True), ("1", True),
                                         ("false", False), ("NO", False), ("0", False)])
def test_accepted_spellings(text, value):
    assert str2bool(text) is value


def test_other_words_are_rejected_with_the_value():
    with pytest.raises(argparse.ArgumentTypeError, match="expected true or false, got 'maybe'"):
        str2bool("maybe")
