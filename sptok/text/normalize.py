"""English text normalisation for TTS: what is written becomes what is said.

:func:`normalize_text` turns raw text into lower-case words and a few punctuation marks, for
example ``'Dr. Smith paid $3.50 on Jan. 21st, 1999 (at 5 p.m.)!'`` ->
``'doctor smith paid three dollars and fifty cents on january twenty first, nineteen ninety nine,
at five p m!'``.

Steps, in order:

1. Unicode: NFKC, typographic quotes and dashes to ASCII, accents stripped (``café`` -> ``cafe``);
   transcription markup without spaces inside dropped (``<NOISE>``, ``[laughter]``).
2. Abbreviations: ``e.g.``, ``i.e.``, initialisms (``U.S.A.`` -> letters ``U S A``), titles
   (``Mr.`` ``Mrs.`` ``Ms.`` ``Dr.`` ``Prof.`` ``St.`` ``Capt.`` ...), street and company words
   (``Ave.`` ``Rd.`` ``Inc.`` ``Ltd.`` ``Jr.`` ...), ``etc.``, ``vs.``, ``No. 5``, months before a
   day (``Jan. 21``). ``St.``/``Dr.`` followed by a capitalised word are ``saint``/``doctor``
   (``St. Louis``), unless a capitalised word inside the sentence comes just before them
   (``on Elm St.``); otherwise ``street``/``drive``. A title without its period (``Mr Smith``)
   is expanded when a capitalised word follows. A period eaten by an abbreviation at the very
   end is put back.
3. Numbers: currency (``$3.50`` -> "three dollars and fifty cents", ``£5``, ``€2``, ``¥100``,
   ``$2.5 million``), percentages, clock times (``5:30``, ``5 pm``), decades (``1990s``,
   ``'80s``), ordinals (``21st``), ranges (``1990-1995`` -> "... to ..."), fractions (``3/4``),
   negative numbers, thousands separators (``1,234``), decimals (``3.14`` -> "three point one
   four"), four-digit numbers 1000..2099 read as years (``1999`` -> "nineteen ninety nine",
   ``1500`` -> "fifteen hundred", which is also a fine reading of the quantity), numbers with a
   leading zero digit by digit, common units after a number (``5 km``, ``10 kg``, ``60 mph``).
   Digits glued to letters are split (``3D`` -> "three D", ``MP3`` -> "MP three").
4. Symbols: ``&`` ``@`` ``+`` ``=`` ``#`` ``%`` become words; everything else that is not a
   letter, an apostrophe inside a word, or kept punctuation is dropped (non-Latin scripts too).
5. Punctuation (prosody symbols for TTS, see :data:`PUNCTUATION`): ``,`` (pause), ``.``
   (statement end), ``?`` (question), ``!`` (exclamation). ``;`` ``:`` dashes, brackets and
   ellipses become ``,``; quotes are dropped; a run of marks keeps the strongest
   (``?`` > ``!`` > ``.`` > ``,``); marks at the start are dropped; a mark is glued to the word
   before it. With ``punctuation=False`` all marks are removed.
6. Case folding (unless ``lowercase=False``, which :class:`sptok.text.g2p.G2P` uses to spell out
   initialisms).

Limits: no sentence-level disambiguation (``1999 people`` is read as a year; ``St.`` and ``Dr.``
are guessed from capitalisation, so ``Mount St. Helens`` gets ``street``; a period after a single
capital before a capitalised word is taken for an initial, not a sentence end); dates like
``12/25/2020`` are read as separate numbers; phone numbers ``555-1234`` as a range; Roman
numerals are left as words; units only after a number and from a short list.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Callable, Dict, List, Match, Tuple

from sptok.text import numbers

#: Punctuation marks kept in normalised text, weakest first.
PUNCTUATION: Tuple[str, ...] = (",", ".", "!", "?")

_TRANSLATE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u00b4": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"', "\u2013": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2014": " , ", "\u2015": " , ", "\u2026": "...", "\u2044": "/", "\u00a0": " ",
})


#: Transcription markup that is not read aloud: ``<NOISE>``, ``[laughter]`` (no spaces inside).
_MARKUP_RE = re.compile(r"<[^<>\s]*>|\[[^\[\]\s]*\]")


def _unicode(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    text = _MARKUP_RE.sub(" ", text)
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def _at_end(m: Match[str]) -> bool:
    """True when only spaces, quotes and brackets follow the match."""
    return re.fullmatch(r"[\s\"')\]]*", m.string[m.end():]) is not None


def _with_period(words: str, m: Match[str]) -> str:
    """Put back a sentence-final period that an abbreviation's period absorbed."""
    return words + "." if m.group(0).endswith(".") and _at_end(m) else words


# ------------------------------------------------------------------------------------------------
# Abbreviations

_TITLES: Dict[str, str] = {
    "mr": "mister", "mrs": "missus", "ms": "miz", "messrs": "messieurs", "dr": "doctor",
    "prof": "professor", "st": "saint", "capt": "captain", "gen": "general", "col": "colonel",
    "lt": "lieutenant", "sgt": "sergeant", "rev": "reverend", "gov": "governor", "sen": "senator",
    "rep": "representative", "pres": "president", "hon": "honorable", "fr": "father",
    "mt": "mount",
}
#: Titles also recognised without their period (``Mr Smith``), before a capitalised word.
_BARE_TITLES = ("Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Mt", "MR", "MRS", "MS", "DR", "ST")
#: ``St.`` and ``Dr.`` when no capitalised word follows: ``Elm St.``, ``Mulholland Dr.``.
_AFTER_NAME = {"st": "street", "dr": "drive"}
_PERIOD_WORDS: Dict[str, str] = {
    "jr": "junior", "sr": "senior", "ave": "avenue", "rd": "road", "blvd": "boulevard",
    "co": "company", "inc": "incorporated", "ltd": "limited", "corp": "corporation",
    "bros": "brothers", "etc": "et cetera", "vs": "versus", "approx": "approximately",
    "dept": "department", "univ": "university", "assn": "association",
}
#: Before a number, with their period: ``No. 5``, ``Vol. 2``.
_BEFORE_NUMBER: Dict[str, str] = {
    "no": "number", "nos": "numbers", "vol": "volume", "fig": "figure", "ch": "chapter",
    "chap": "chapter", "p": "page", "pp": "pages",
}
#: Months before a day, period optional: ``Jan. 21``, ``Sept 3``.
_MONTHS: Dict[str, str] = {
    "jan": "january", "feb": "february",
    "mar": "march", "apr": "april", "jun": "june", "jul": "july", "aug": "august",
    "sep": "september", "sept": "september", "oct": "october", "nov": "november",
    "dec": "december",
}


def _words_re(words) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_EG_RE = re.compile(r"\be\.\s?g\.", re.IGNORECASE)
_IE_RE = re.compile(r"\bi\.\s?e\.", re.IGNORECASE)
_INITIALISM_RE = re.compile(r"\b(?:[A-Za-z]\.){2,}")
_INITIAL_RE = re.compile(r"\b([A-Z])\.(?=\s+[A-Z])")
_TITLE_RE = re.compile(rf"\b(?P<dot>{_words_re(_TITLES)})\.", re.IGNORECASE)
_BARE_TITLE_RE = re.compile(rf"\b(?P<bare>{_words_re(_BARE_TITLES)})(?=\s+[A-Z])")
_PERIOD_WORD_RE = re.compile(rf"\b({_words_re(_PERIOD_WORDS)})\.|\b(vs)\b", re.IGNORECASE)
_BEFORE_NUMBER_RE = re.compile(rf"\b({_words_re(_BEFORE_NUMBER)})\.(?=\s*#?\d)", re.IGNORECASE)
_MONTH_RE = re.compile(rf"\b({_words_re(_MONTHS)})\.?(?=\s+\d)", re.IGNORECASE)
_NEXT_CAPITALISED_RE = re.compile(r"\s+[A-Z]")
#: A capitalised word inside a sentence, just before ``St.``: ``on Elm St.`` (a street name).
_AFTER_NAME_RE = re.compile(r"[\w,]\s+[A-Z][a-z]+\s+$")


def _expand_title(m: Match[str]) -> str:
    key = (m.groupdict().get("dot") or m.group("bare")).lower()
    if key in _AFTER_NAME and (not _NEXT_CAPITALISED_RE.match(m.string, m.end())
                               or _AFTER_NAME_RE.search(m.string, 0, m.start())):
        return _with_period(_AFTER_NAME[key], m)
    return _with_period(_TITLES[key], m)


def _expand_abbreviations(text: str) -> str:
    text = _EG_RE.sub(lambda m: _with_period("for example", m), text)
    text = _IE_RE.sub(lambda m: _with_period("that is", m), text)
    text = _INITIALISM_RE.sub(
        lambda m: _with_period(" ".join(m.group(0).replace(".", "").upper()), m), text)
    text = _BEFORE_NUMBER_RE.sub(lambda m: _BEFORE_NUMBER[m.group(1).lower()] + " ", text)
    text = _MONTH_RE.sub(lambda m: _MONTHS[m.group(1).lower()], text)
    text = _TITLE_RE.sub(_expand_title, text)
    text = _BARE_TITLE_RE.sub(_expand_title, text)
    text = _PERIOD_WORD_RE.sub(
        lambda m: _with_period(_PERIOD_WORDS[(m.group(1) or m.group(2)).lower()], m), text)
    return _INITIAL_RE.sub(r"\1", text)


# ------------------------------------------------------------------------------------------------
# Numbers

_CURRENCIES: Dict[str, Tuple[str, str, str, str]] = {
    # symbol: (major singular, major plural, minor singular, minor plural)
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "", ""),
}
_SCALE_WORDS = ("thousand", "million", "billion", "trillion")
_UNITS: Dict[str, Tuple[str, str]] = {
    "km": ("kilometer", "kilometers"), "kg": ("kilogram", "kilograms"),
    "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"),
    "mph": ("mile per hour", "miles per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"),
    "ft": ("foot", "feet"), "kb": ("kilobyte", "kilobytes"), "mb": ("megabyte", "megabytes"),
    "gb": ("gigabyte", "gigabytes"), "hz": ("hertz", "hertz"), "khz": ("kilohertz", "kilohertz"),
}

_NUM = r"\d[\d,]*(?:\.\d+)?"
_CURRENCY_RE = re.compile(
    rf"([$£€¥])\s?({_NUM})(?:\s?({'|'.join(_SCALE_WORDS)})\b)?", re.IGNORECASE)
_PERCENT_RE = re.compile(rf"({_NUM})\s?%")
_TIME_RE = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_AM_PM_RE = re.compile(r"(\d)\s?([ap])\.?\s?m\b\.?", re.IGNORECASE)
_DECADE_RE = re.compile(r"(?<![\d'])(?:(\d{3}0)|'(\d0)|(\d0))s\b")
_ORDINAL_RE = re.compile(r"\b(\d{1,3}(?:,\d{3})+|\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_RANGE_RE = re.compile(r"(\d)\s?-\s?(?=\d)")
_FRACTION_RE = re.compile(r"(?<![\d/])(\d+)/(\d+)(?![\d/])")
_NEGATIVE_RE = re.compile(r"(?<![\w.])-(?=\d)")
_HASH_RE = re.compile(r"#\s?(?=\d)")
_UNIT_RE = re.compile(rf"({_NUM})\s?({_words_re(_UNITS)})\b", re.IGNORECASE)
_GROUPED_RE = re.compile(r"\b\d{1,3}(?:,\d{3})+(?:\.\d+)?\b")
_DECIMAL_RE = re.compile(r"(?<![\d.])\d*\.\d+")
_LETTER_HYPHEN_DIGIT_RE = re.compile(r"(?<=[A-Za-z])-(?=\d)|(?<=\d)-(?=[A-Za-z])")
_DIGIT_LETTER_RE = re.compile(r"(?<=\d)(?=[A-Za-z])|(?<=[A-Za-z])(?=\d)")
_INTEGER_RE = re.compile(r"\d+")


def _number(text: str) -> str:
    """Any numeral matched by ``_NUM`` (thousands separators allowed), read as a quantity."""
    plain = text.replace(",", "")
    if "." in plain:
        return numbers.decimal(plain)
    return numbers.cardinal(int(plain))


def _expand_currency(m: Match[str]) -> str:
    major, majors, minor, minors = _CURRENCIES[m.group(1)]
    amount, scale = m.group(2).replace(",", ""), m.group(3)
    if scale:
        return f"{_number(amount)} {scale.lower()} {majors}"
    whole, _, cents = amount.partition(".")
    if cents and (len(cents) != 2 or not minor):
        return f"{numbers.decimal(amount)} {majors}"
    units, hundredths = int(whole or 0), int(cents or 0)
    parts = []
    if units or not hundredths:
        parts.append(f"{numbers.cardinal(units)} {major if units == 1 else majors}")
    if hundredths:
        parts.append(f"{numbers.cardinal(hundredths)} {minor if hundredths == 1 else minors}")
    return " and ".join(parts)


def _expand_time(m: Match[str]) -> str:
    hours, minutes = int(m.group(1)), int(m.group(2))
    if hours > 24 or minutes > 59:
        return m.group(0)
    if minutes == 0:
        return f"{numbers.cardinal(hours)} o'clock"
    if minutes < 10:
        return f"{numbers.cardinal(hours)} oh {numbers.cardinal(minutes)}"
    return f"{numbers.cardinal(hours)} {numbers.cardinal(minutes)}"


def _expand_am_pm(m: Match[str]) -> str:
    # Upper-case letters so that G2P spells them ("A M"), not the article "a".
    return _with_period(f"{m.group(1)} {m.group(2).upper()} M", m)


def _expand_decade(m: Match[str]) -> str:
    if m.group(1):
        return numbers.plural(numbers.year(int(m.group(1))))
    return numbers.plural(numbers.cardinal(int(m.group(2) or m.group(3))))


def _expand_unit(m: Match[str]) -> str:
    one, many = _UNITS[m.group(2).lower()]
    amount = m.group(1)
    return f"{_number(amount)} {one if amount == '1' else many}"


def _expand_integer(m: Match[str]) -> str:
    text = m.group(0)
    if len(text) > 1 and text[0] == "0":
        return numbers.digits(text)
    value = int(text)
    if len(text) == 4 and 1000 <= value <= 2099:
        return numbers.year(value)
    return numbers.cardinal(value)


def _spaced(fn: Callable[[Match[str]], str]) -> Callable[[Match[str]], str]:
    """Surround the words of a numeral by spaces so they never fuse with a neighbour."""
    return lambda m: f" {fn(m)} "


def _expand_numbers(text: str) -> str:
    text = _LETTER_HYPHEN_DIGIT_RE.sub(" ", text)  # COVID-19, 20-year-old
    text = _CURRENCY_RE.sub(_spaced(_expand_currency), text)
    text = _PERCENT_RE.sub(_spaced(lambda m: f"{_number(m.group(1))} percent"), text)
    text = _AM_PM_RE.sub(_expand_am_pm, text)
    text = _TIME_RE.sub(_spaced(_expand_time), text)
    text = _DECADE_RE.sub(_spaced(_expand_decade), text)
    text = _ORDINAL_RE.sub(
        _spaced(lambda m: numbers.ordinal(int(m.group(1).replace(",", "")))), text)
    text = _UNIT_RE.sub(_spaced(_expand_unit), text)
    text = _HASH_RE.sub(" number ", text)
    text = _RANGE_RE.sub(r"\1 to ", text)
    text = _FRACTION_RE.sub(
        _spaced(lambda m: numbers.fraction(int(m.group(1)), int(m.group(2)))), text)
    text = _NEGATIVE_RE.sub("minus ", text)
    text = _GROUPED_RE.sub(_spaced(lambda m: _number(m.group(0))), text)
    text = _DECIMAL_RE.sub(_spaced(lambda m: numbers.decimal(m.group(0))), text)
    text = _DIGIT_LETTER_RE.sub(" ", text)
    return _INTEGER_RE.sub(_spaced(_expand_integer), text)


# ------------------------------------------------------------------------------------------------
# Symbols and punctuation

_SYMBOL_WORDS = {"&": " and ", "@": " at ", "+": " plus ", "=": " equals ", "%": " percent ",
                 "#": " "}
_PAUSE_RE = re.compile(r"\.{2,}|[;:()\[\]{}]|\s-+\s|\s-+|-+\s|--+")
_HYPHEN_RE = re.compile(r"-")
_DROP_RE = re.compile(r"[^A-Za-z',.!? ]")
_APOSTROPHE_RE = re.compile(r"(?<![A-Za-z])'|'(?![A-Za-z])")
_MARK_RUN_RE = re.compile(r"[\s,.!?]*[,.!?][\s,.!?]*")
_STRENGTH = {mark: rank for rank, mark in enumerate(PUNCTUATION)}


def _collapse_marks(m: Match[str]) -> str:
    marks = [c for c in m.group(0) if c in _STRENGTH]
    return max(marks, key=_STRENGTH.__getitem__) + " "


def _punctuate(text: str, punctuation: bool) -> str:
    for symbol, words in _SYMBOL_WORDS.items():
        text = text.replace(symbol, words)
    text = _PAUSE_RE.sub(" , ", text)
    text = _HYPHEN_RE.sub(" ", text)
    text = _DROP_RE.sub(" ", text)
    text = _APOSTROPHE_RE.sub(" ", text)
    if not punctuation:
        return " ".join(re.sub(r"[,.!?]", " ", text).split())
    text = _MARK_RUN_RE.sub(_collapse_marks, text)
    text = " ".join(text.split()).lstrip(",.!? ")
    # A pause mark cannot end an utterance: "I see..." ends as a statement.
    return text[:-1] + "." if text.endswith(",") else text


def normalize_text(text: str, punctuation: bool = True, lowercase: bool = True) -> str:
    """Normalise English text for TTS (see the module docstring).

    Args:
        text: raw text.
        punctuation: keep ``, . ! ?`` as prosody marks (glued to the word before them).
        lowercase: fold case; ``False`` keeps the case of the input words (number words and
            expansions are lower case, spelled letters upper case).

    Returns:
        Words ``[A-Za-z']+`` and marks separated by single spaces (marks glued to the word
        before), e.g. ``"hello, world."``; an empty string when nothing speakable is left.
    """
    text = _unicode(text)
    text = _expand_abbreviations(text)
    text = _expand_numbers(text)
    text = _punctuate(text, punctuation)
    return text.lower() if lowercase else text


_TOKEN_RE = re.compile(r"[A-Za-z']+|[,.!?]")


def split_words(normalized: str) -> List[str]:
    """Split normalised text into words and punctuation marks:
    ``"hello, world."`` -> ``["hello", ",", "world", "."]``."""
    return _TOKEN_RE.findall(normalized)


#: Text cleaners by name: ``english`` is :func:`normalize_text`, ``none`` only collapses spaces.
CLEANERS: Tuple[str, ...] = ("english", "none")


def clean_text(text: str, cleaner: str = "english", punctuation: bool = True) -> str:
    """Apply a cleaner from :data:`CLEANERS` (``punctuation`` applies to ``english`` only)."""
    if cleaner == "english":
        return normalize_text(text, punctuation=punctuation)
    if cleaner == "none":
        return " ".join(text.split())
    raise ValueError(f"unknown text cleaner {cleaner!r}; choose one of {', '.join(CLEANERS)}")
