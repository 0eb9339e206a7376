import pytest

from sptok.text.normalize import clean_text, normalize_text, split_words


@pytest.mark.parametrize("text, expected", [
    # numbers
    ("I have 42 apples.", "i have forty two apples."),
    ("1,234,567 people", "one million two hundred thirty four thousand five hundred sixty seven "
                         "people"),
    ("the 21st and 2nd and 103rd", "the twenty first and second and one hundred third"),
    ("the 10,000th visitor", "the ten thousandth visitor"),
    ("pi is 3.14", "pi is three point one four"),
    ("born in 1999", "born in nineteen ninety nine"),
    ("in 1905 and 2005 and 2024", "in nineteen oh five and two thousand five and twenty twenty "
                                  "four"),
    ("the 1990s and the '80s", "the nineteen nineties and the eighties"),
    ("It costs $3.50.", "it costs three dollars and fifty cents."),
    ("$1 or $0.99 or $1.5", "one dollar or ninety nine cents or one point five dollars"),
    ("$2.5 million", "two point five million dollars"),
    ("£2.50 and €10 and ¥100", "two pounds and fifty pence and ten euros and one hundred yen"),
    ("50% and 3.5%", "fifty percent and three point five percent"),
    ("at 10:05 or 3:00 pm", "at ten oh five or three o'clock p m"),
    ("pages 10-20", "pages ten to twenty"),
    ("1/2 and 3/4", "one half and three quarters"),
    ("it was -5 degrees", "it was minus five degrees"),
    ("agent 007", "agent zero zero seven"),
    ("No. 5 and #1", "number five and number one"),
    ("COVID-19 and a 3D MP3", "covid nineteen and a three d mp three"),
    ("5 km and 1 kg", "five kilometers and one kilogram"),
    # abbreviations
    ("Mr. and Mrs. Smith met Dr. Jones.", "mister and missus smith met doctor jones."),
    ("Mr Smith", "mister smith"),
    ("St. Louis is big; Main St. is not.", "saint louis is big, main street is not."),
    ("I live on Elm St. It is nice.", "i live on elm street it is nice."),
    ("He lives on Mulholland Dr.", "he lives on mulholland drive."),
    ("Prof. Brown, Jr. and Acme Inc.", "professor brown, junior and acme incorporated."),
    ("apples, pears, etc.", "apples, pears, et cetera."),
    ("cats vs. dogs", "cats versus dogs"),
    ("e.g. cats, i.e. dogs", "for example cats, that is dogs"),
    ("the U.S.A. is big", "the u s a is big"),
    ("on Jan. 21st", "on january twenty first"),
    # punctuation, case, symbols, unicode
    ("Wait... what?!", "wait, what?"),
    ("He said: \u201cyes\u201d \u2014 and left", "he said, yes, and left"),
    ("(a poodle) barked", "a poodle, barked"),
    ("Tom & Jerry @ home", "tom and jerry at home"),
    ("caf\u00e9 na\u00efve", "cafe naive"),
    ("don't 'quote' me", "don't quote me"),
    ("well-known", "well known"),
    ("  HELLO   World  ", "hello world"),
    ("I see...", "i see."),
    ("<NOISE> hello [laughter] there", "hello there"),
])
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


def test_nothing_speakable_gives_empty_string():
    assert normalize_text("???") == ""
    assert normalize_text("\u041f\u0440\u0438\u0432\u0435\u0442") == ""
    assert normalize_text("") == ""


def test_punctuation_removed_on_request():
    assert normalize_text("Hello, world! Is it 5?", punctuation=False) == "hello world is it five"


def test_case_kept_on_request():
    assert normalize_text("The U.S.A. and Dr. Who", lowercase=False) == "The U S A and doctor Who"
    assert normalize_text("at 5 p.m.", lowercase=False) == "at five P M."


def test_normalisation_is_idempotent():
    for text in ["Dr. Smith paid $3.50 on Jan. 21st, 1999 (at 5 p.m.)!", "Wait... what?!",
                 "The 1990s, 50% and 3/4."]:
        once = normalize_text(text)
        assert normalize_text(once) == once


def test_split_words():
    assert split_words("hello, world. don't!") == ["hello", ",", "world", ".", "don't", "!"]


def test_clean_text():
    assert clean_text("  Dr.  Who  ", "none") == "Dr. Who"
    assert clean_text("Dr. Who", "english") == "doctor who"
    with pytest.raises(ValueError, match="unknown text cleaner 'nope'"):
        clean_text("x", "nope")
