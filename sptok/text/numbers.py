"""Numbers spelled out as English words (American style: no "and" inside numbers).

These are the building blocks of :mod:`sptok.text.normalize`; each takes digits already parsed and
returns lower-case words separated by single spaces.
"""
from __future__ import annotations

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
         "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((10 ** 12, "trillion"), (10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand"))
#: Integers from here on are read digit by digit (they are identifiers, not quantities).
MAX_CARDINAL = 10 ** 15

_IRREGULAR_ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                       "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


def cardinal(n: int) -> str:
    """``1234`` -> ``"one thousand two hundred thirty four"``; negative numbers get "minus"."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n >= MAX_CARDINAL:
        return digits(str(n))
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (" " + _ONES[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + (" " + cardinal(rest) if rest else "")
    for scale, name in _SCALES:
        if n >= scale:
            high, rest = divmod(n, scale)
            return cardinal(high) + " " + name + (" " + cardinal(rest) if rest else "")
    raise AssertionError(n)  # unreachable: n >= 1000 meets a scale


def _ordinal_word(word: str) -> str:
    if word in _IRREGULAR_ORDINALS:
        return _IRREGULAR_ORDINALS[word]
    if word.endswith("y"):
        return word[:-1] + "ieth"
    return word + "th"


def ordinal(n: int) -> str:
    """``21`` -> ``"twenty first"``."""
    words = cardinal(n).split()
    words[-1] = _ordinal_word(words[-1])
    return " ".join(words)


def plural(words: str) -> str:
    """Plural of the last word of a number: ``"nineteen ninety"`` -> ``"nineteen nineties"``."""
    head, _, last = words.rpartition(" ")
    if last.endswith("y"):
        last = last[:-1] + "ies"
    elif last.endswith(("s", "x")):
        last += "es"
    else:
        last += "s"
    return f"{head} {last}" if head else last


def digits(text: str) -> str:
    """Digit by digit: ``"007"`` -> ``"zero zero seven"``."""
    return " ".join(_ONES[int(c)] for c in text if c.isdigit())


def year(n: int) -> str:
    """A year read in pairs: 1999 -> "nineteen ninety nine", 1905 -> "nineteen oh five",
    1900 -> "nineteen hundred", 2005 -> "two thousand five", 2024 -> "twenty twenty four".

    Only 1000..9999 are read as pairs; other values fall back to :func:`cardinal`.
    """
    if not 1000 <= n <= 9999 or n % 1000 == 0 or (2000 < n < 2010):
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return cardinal(high) + " hundred"
    if low < 10:
        return cardinal(high) + " oh " + _ONES[low]
    return cardinal(high) + " " + cardinal(low)


def decimal(text: str) -> str:
    """A decimal numeral (no thousands separators): ``"3.14"`` -> ``"three point one four"``,
    ``".5"`` -> ``"point five"``."""
    whole, _, fraction = text.partition(".")
    spoken = cardinal(int(whole)) if whole else ""
    if fraction:
        spoken = (spoken + " point " + digits(fraction)).strip()
    return spoken


def fraction(numerator: int, denominator: int) -> str:
    """``3/4`` -> ``"three quarters"``, ``1/2`` -> ``"one half"``, ``5/8`` -> ``"five eighths"``."""
    if denominator == 0:
        return f"{cardinal(numerator)} over zero"
    if denominator == 1:
        return f"{cardinal(numerator)} over one"
    if denominator == 2:
        name = "half" if numerator == 1 else "halves"
    elif denominator == 4:
        name = "quarter" if numerator == 1 else "quarters"
    else:
        name = ordinal(denominator)
        if numerator != 1:
            name = plural(name)
    return f"{cardinal(numerator)} {name}"
