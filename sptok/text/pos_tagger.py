"""A small rule-based part-of-speech tagger, standing in for ``nltk.pos_tag`` (whose model data is
not available offline).

Tags are Penn Treebank tags. They only matter to :mod:`sptok.text.g2p` for homographs, where the
question is almost always "verb or not?" (``to record`` / ``a record``), plus past tense versus
present for ``read`` (``he read`` / ``they read``). So the tagger knows the closed word classes
(determiners, pronouns, prepositions, auxiliaries and modals, conjunctions, common adverbs) by
list, guesses open-class words from their ending (``-ly`` adverb, ``-ing``, ``-ed``, ``-s``), and
decides verb versus noun/adjective from the nearest words, skipping adverbs:

- after ``to``, a modal (``will``, ``can``, ``'ll``) or ``do``/``did``: a verb (``VB``);
- after a form of ``be``: ``-ing`` is ``VBG``, ``-ed`` and irregular participles are ``VBN``,
  other words are adjectives (``is present``, ``is close``);
- after a form of ``have``: participles are ``VBN`` (``has read``), other words nouns;
- after a determiner, possessive, preposition, number or adjective: a noun (``a record``,
  ``the used car`` is ``JJ``);
- after a subject pronoun (``I``, ``they``, ``she``) or ``who``: a verb (``VB`` in a question,
  ``did they record``); an ``-s`` form after ``that``/``which`` is ``VBZ``;
- an ``-s`` form after a singular noun is ``VBZ`` (``the band records an album``) unless an
  auxiliary or the end of the clause follows (``the old records are here``); a base form after a
  plural noun is a verb (``people live here``), after a singular noun part of a compound
  (``music record``);
- before an object (a determiner, possessive or object pronoun), with no cue before it: a verb
  (``Record the song.``, ``John read the book``);
- after ``and``/``or``: the class of the word before the conjunction (``to read and record``).

``read`` after a subject is past (``VBD``) with a singular third person (``she read``, since the
present would be ``reads``) or when the sentence has a past-time cue (``yesterday``, ``ago``,
``was``, another past-tense verb), otherwise present (``VBP``). ``used to`` is an adjective
(``yoost``).

Limits: no real syntax. Noun/verb ambiguity of the words around a homograph (``fish live``),
reduced relative clauses, questions with inverted auxiliaries (``did they record it`` works,
``have they read`` does not) and long-range agreement are beyond it; then the homograph gets its
non-verb reading (the dictionary's noun/adjective form).
"""
from __future__ import annotations

from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

_CLOSED: Dict[str, str] = {}


def _add(tag: str, words: str) -> FrozenSet[str]:
    items = frozenset(words.split())
    for word in items:
        _CLOSED.setdefault(word, tag)
    return items


DETERMINERS = _add("DT", "the a an this that these those every each some any no another either "
                         "neither all both half such what whatever which whichever")
POSSESSIVES = _add("PRP$", "my your his her its our their whose")
SUBJECTS = _add("PRP", "i you he she it we they")
THIRD_SINGULAR = frozenset("he she it".split())
OBJECTS = _add("PRP", "me him us them myself yourself himself herself itself ourselves "
                      "yourselves themselves")
PREPOSITIONS = _add("IN", "of in on at by for with from about into onto over under above below "
                          "between among through during before after since until without within "
                          "against toward towards upon across behind beyond near off like than "
                          "as because although though if unless while whether per via")
_add("TO", "to")
MODALS = _add("MD", "will would shall should can could may might must cannot won't can't "
                    "couldn't shouldn't wouldn't mustn't i'll you'll he'll she'll it'll we'll "
                    "they'll that'll i'd you'd he'd she'd we'd they'd")
DO_FORMS = frozenset("do does did don't doesn't didn't".split())
BE_FORMS = frozenset("be am is are was were been being i'm you're he's she's it's we're they're "
                     "that's there's isn't aren't wasn't weren't".split())
HAVE_FORMS = frozenset("have has had having i've you've we've they've haven't hasn't hadn't"
                       .split())
_AUX_TAGS = {"do": "VBP", "does": "VBZ", "did": "VBD", "don't": "VBP", "doesn't": "VBZ",
             "didn't": "VBD", "be": "VB", "am": "VBP", "is": "VBZ", "are": "VBP", "was": "VBD",
             "were": "VBD", "been": "VBN", "being": "VBG", "isn't": "VBZ", "aren't": "VBP",
             "wasn't": "VBD", "weren't": "VBD", "have": "VBP", "has": "VBZ", "had": "VBD",
             "having": "VBG", "haven't": "VBP", "hasn't": "VBZ", "hadn't": "VBD"}
for _word in DO_FORMS | BE_FORMS | HAVE_FORMS:
    _CLOSED.setdefault(_word, _AUX_TAGS.get(_word, "VBZ" if "'s" in _word else "VBP"))
CONJUNCTIONS = _add("CC", "and or but nor")
# "that" and "which" stay determiners ("that record"); as relatives they make an -s word VBZ.
RELATIVES = _add("WDT", "who whom which that")
_add("WRB", "where when why how")
ADVERBS = _add("RB", "not never always often also just still already usually sometimes really "
                     "even only soon probably rarely seldom ever very too quite almost again "
                     "here there now then today tomorrow tonight yesterday once later finally "
                     "actually certainly simply n't")
_add("CD", "zero one two three four five six seven eight nine ten eleven twelve thirteen "
           "fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty "
           "sixty seventy eighty ninety hundred thousand million billion trillion")
_add("UH", "please oh yes hello")

#: Nouns that are plural without an -s.
IRREGULAR_PLURALS = frozenset("people children men women police mice feet teeth geese cattle"
                              .split())
#: Past tenses that do not end in -ed (also participles where identical).
IRREGULAR_PAST = frozenset(
    "went saw said came took made got gave found knew thought told became left felt brought "
    "began kept held wrote stood heard met ran sat spoke led bought caught taught sold sent spent "
    "paid lost won drove ate fell grew threw wore broke chose rose flew drew sang swam "
    "understood meant built slept woke forgot hid rode shook stole wound".split())
IRREGULAR_PARTICIPLES = IRREGULAR_PAST | frozenset(
    "read done seen been known shown taken given written spoken broken chosen driven eaten "
    "fallen forgotten gotten hidden ridden risen stolen sung swum thrown worn bound upset set put "
    "cut hit let shut hurt".split())
#: Verbs whose past tense is spelled like the present; the tense is guessed from cues.
SAME_PAST = frozenset("read reread misread proofread".split())
PAST_CUES = frozenset("yesterday ago last was were had did didn't wasn't weren't hadn't earlier "
                      "previously formerly".split())
#: Words ending in -ly that are not adverbs.
_LY_NOT_ADVERBS = frozenset("family supply apply reply july italy early holy belly jelly rely "
                            "ugly lonely friendly lovely likely silly bully rally tally assembly "
                            "anomaly monopoly butterfly daily only fly ally".split())
_AUXILIARIES = MODALS | DO_FORMS | BE_FORMS | HAVE_FORMS
_OBJECT_STARTERS = DETERMINERS | POSSESSIVES | OBJECTS | frozenset(["you", "it"])
_PUNCTUATION = frozenset(",.!?;:")


def _lexical_tag(word: str) -> str:
    """A guess from the word alone, for words outside the closed classes."""
    if word in IRREGULAR_PLURALS:
        return "NNS"
    if word in IRREGULAR_PAST:
        return "VBD"
    if word.endswith("ly") and len(word) > 4 and word not in _LY_NOT_ADVERBS:
        return "RB"
    if word.endswith("ing") and len(word) > 4:
        return "VBG"
    if word.endswith("ed") and len(word) > 3:
        return "VBD"
    if word.endswith("s") and len(word) > 3 and not word.endswith(("ss", "us", "is")):
        return "NNS"
    return "NN"


def _verb(word: str, lexical: str, base: str) -> str:
    """The verb tag for ``word``: its inflection if it has one, else ``base``."""
    if lexical == "NNS":
        return "VBZ"
    if lexical in ("VBD", "VBG"):
        return lexical
    return base


class _Context:
    """What a word sees of its sentence: the nearest non-adverb word before it, the next word."""

    def __init__(self, words: Sequence[str], tags: List[str], i: int):
        j = i - 1
        while j >= 0 and tags[j] == "RB":
            j -= 1
        at_start = j < 0 or words[j] in _PUNCTUATION
        self.prev: Optional[str] = None if at_start else words[j]
        self.prev_tag: Optional[str] = None if at_start else tags[j]
        self.prev_index = j
        self.next: Optional[str] = words[i + 1] if i + 1 < len(words) else None


def _past_in_sentence(words: Sequence[str], tags: Sequence[str], i: int) -> bool:
    lo, hi = i, i
    while lo > 0 and words[lo - 1] not in ".!?":
        lo -= 1
    while hi + 1 < len(words) and words[hi + 1] not in ".!?":
        hi += 1
    # Words before i are tagged already; later ones only have their lexical guess.
    return any(words[k] in PAST_CUES
               or (k < i and tags[k] == "VBD")
               or (k > i and words[k] not in _CLOSED and _lexical_tag(words[k]) == "VBD")
               for k in range(lo, hi + 1))


def _tag_open(words: Sequence[str], tags: List[str], i: int) -> str:
    word = words[i]
    lexical = _lexical_tag(word)
    if lexical == "RB":
        return lexical
    ctx = _Context(words, tags, i)
    prev, prev_tag = ctx.prev, ctx.prev_tag
    is_participle = lexical == "VBD" or word in IRREGULAR_PARTICIPLES
    object_follows = ctx.next in _OBJECT_STARTERS

    if word == "used" and ctx.next == "to":
        return "JJ"
    if prev == "to" or prev in MODALS or prev in DO_FORMS:
        return "VB" if lexical == "NN" else lexical
    if prev in BE_FORMS:
        if lexical == "VBG":
            return "VBG"
        return "VBN" if is_participle else ("NNS" if lexical == "NNS" else "JJ")
    if prev in HAVE_FORMS:
        return "VBN" if is_participle else lexical
    if prev_tag == "CC" and ctx.prev_index > 0:
        before = tags[ctx.prev_index - 1]
        if before.startswith("V"):
            return _verb(word, lexical, before if before in ("VB", "VBP") else "VBP")
        return lexical if lexical in ("NN", "NNS") else "NN"
    if prev in SUBJECTS or prev == "who" or (prev in RELATIVES and lexical == "NNS"):
        before = words[ctx.prev_index - 1] if ctx.prev_index > 0 else None
        if lexical == "NN" and (before in MODALS or before in DO_FORMS):
            return "VB"  # a question: "did they record it", "where do you live"
        if lexical == "NN" and word in SAME_PAST:
            third = prev in THIRD_SINGULAR or prev in RELATIVES
            return "VBD" if third or _past_in_sentence(words, tags, i) else "VBP"
        return _verb(word, lexical, "VBP")
    if prev_tag in ("DT", "PRP$", "IN", "CD", "JJ"):
        return "JJ" if lexical == "VBD" else ("NN" if lexical == "VBG" else lexical)
    if prev_tag in ("NN", "NNS"):
        if prev_tag == "NN" and lexical == "NNS":
            # "the band records an album" / "the old records are here"
            ends_clause = ctx.next is None or ctx.next in _PUNCTUATION
            return "NNS" if ends_clause or ctx.next in _AUXILIARIES else "VBZ"
        if lexical == "NN" and (prev_tag == "NNS" or object_follows):
            if word in SAME_PAST and (prev_tag == "NN" or _past_in_sentence(words, tags, i)):
                return "VBD"
            return "VBP"
        return lexical
    if prev is None or prev_tag == "UH":
        if object_follows and lexical in ("NN", "NNS", "VBD"):
            return "VB" if lexical == "NN" else _verb(word, lexical, "VB")
        return lexical
    if object_follows:
        return _verb(word, lexical, "VBP")
    return lexical


def pos_tag(words: Sequence[str]) -> List[Tuple[str, str]]:
    """Tag lower-case words and punctuation marks (:func:`sptok.text.normalize.split_words`).

    Returns:
        ``[(word, tag), ...]`` with Penn Treebank tags; punctuation marks are their own tag.
    """
    tags: List[str] = []
    for i, word in enumerate(words):
        if word in _PUNCTUATION:
            tags.append(word)
        elif word in _CLOSED:
            tags.append(_CLOSED[word])
        else:
            tags.append(_tag_open(words, tags, i))
    return list(zip(words, tags))
