import pytest

from sptok.text import numbers


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (20, "twenty"), (42, "forty two"),
    (100, "one hundred"), (101, "one hundred one"), (999, "nine hundred ninety nine"),
    (1000, "one thousand"), (1234, "one thousand two hundred thirty four"),
    (1_000_000, "one million"), (2_500_000_001, "two billion five hundred million one"),
    (-5, "minus five"),
])
def test_cardinal(n, words):
    assert numbers.cardinal(n) == words


def test_huge_numbers_are_read_digit_by_digit():
    assert numbers.cardinal(10 ** 15) == "one" + " zero" * 15


@pytest.mark.parametrize("n, words", [
    (1, "first"), (2, "second"), (3, "third"), (5, "fifth"), (8, "eighth"), (9, "ninth"),
    (12, "twelfth"), (20, "twentieth"), (21, "twenty first"), (100, "one hundredth"),
    (103, "one hundred third"),
])
def test_ordinal(n, words):
    assert numbers.ordinal(n) == words


@pytest.mark.parametrize("n, words", [
    (1999, "nineteen ninety nine"), (1905, "nineteen oh five"), (1900, "nineteen hundred"),
    (2000, "two thousand"), (2005, "two thousand five"), (2024, "twenty twenty four"),
    (1066, "ten sixty six"), (999, "nine hundred ninety nine"),
])
def test_year(n, words):
    assert numbers.year(n) == words


def test_decimal_fraction_plural_digits():
    assert numbers.decimal("3.14") == "three point one four"
    assert numbers.decimal(".5") == "point five"
    assert numbers.fraction(1, 2) == "one half"
    assert numbers.fraction(3, 4) == "three quarters"
    assert numbers.fraction(5, 8) == "five eighths"
    assert numbers.fraction(1, 3) == "one third"
    assert numbers.plural("nineteen ninety") == "nineteen nineties"
    assert numbers.plural("six") == "sixes"
    assert numbers.digits("007") == "zero zero seven"
