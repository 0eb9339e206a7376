"""Homographs: words spelled alike, said differently by part of speech (``record``, ``read``).

The table is g2p_en's ``homographs.en`` (about 370 words, read from the installed package) with
our corrections (:data:`SWAPPED`, :data:`OVERRIDES`) and additions. Each entry says: use
``if_tag`` when the word's Penn Treebank tag matches ``tags``, otherwise ``otherwise``. A tag
condition is a comma-separated list; an entry matches a tag that starts with it (``V`` matches
``VB``, ``VBZ``, ...), and ``ADJ`` means ``JJ`` (g2p_en writes ``ADJ``, which nltk's tags never
match).

Words with two readings that neither table lists (``bow``, ``bass``, ``minute``, ``sow``) get
the CMU dictionary's first pronunciation. ``lead`` as a noun is the metal ("led"), so ``take the
lead`` is wrong.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Dict, Tuple

from sptok.text.oov import g2p_en_dir


@dataclass(frozen=True)
class Homograph:
    if_tag: Tuple[str, ...]
    otherwise: Tuple[str, ...]
    #: Tag prefixes that select ``if_tag``.
    tags: Tuple[str, ...]

    def pronounce(self, tag: str) -> Tuple[str, ...]:
        return self.if_tag if tag.startswith(self.tags) else self.otherwise


#: Our corrections of g2p_en's table, and homographs it lacks (format of homographs.en).
OVERRIDES = """
READ|R EH1 D|R IY1 D|VBD,VBN
USED|Y UW1 Z D|Y UW1 S T|VBD,VBN
LIVE|L IH1 V|L AY1 V|V
LIVES|L IH1 V Z|L AY1 V Z|V
WIND|W AY1 N D|W IH1 N D|V
WINDS|W AY1 N D Z|W IH1 N D Z|V
TEAR|T EH1 R|T IH1 R|V
TEARS|T EH1 R Z|T IH1 R Z|V
WOUND|W AW1 N D|W UW1 N D|V
DOVE|D OW1 V|D AH1 V|V
LEAD|L IY1 D|L EH1 D|V
"""
# READ: g2p_en has the two pronunciations the wrong way round (past tense is "red").
# USED: g2p_en gives "yoost" to every tag but VBN ("I used it"); we keep "yoost" for "used to"
# and the adjective ("a used car"), which our tagger marks JJ.

#: Entries of g2p_en's table whose verb and noun readings are swapped (found by comparing stress
#: positions: these verbs take the later stress, ob-JECT, re-BEL, frag-MENT).
SWAPPED = ("OBJECT", "REBEL", "FRAGMENT", "SEGMENT", "TORMENT", "EXPLOIT", "EXPLOITS", "IMPRINT",
           "MISCONDUCT")


def _parse(lines, source: str) -> Dict[str, Homograph]:
    table: Dict[str, Homograph] = {}
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split("|")
        if len(fields) != 4:
            raise ValueError(f"{source}:{lineno}: expected WORD|PRON1|PRON2|POS, got {line!r}")
        word, pron1, pron2, pos = fields
        tags = tuple("JJ" if t.strip() == "ADJ" else t.strip() for t in pos.split(","))
        table[word.lower()] = Homograph(tuple(pron1.split()), tuple(pron2.split()), tags)
    return table


@functools.lru_cache(maxsize=1)
def load_homographs() -> Dict[str, Homograph]:
    """Lower-case word -> :class:`Homograph` (g2p_en's table updated with :data:`OVERRIDES`)."""
    path = g2p_en_dir() / "homographs.en"
    table = _parse(path.read_text(encoding="utf-8").splitlines(), str(path))
    for word in SWAPPED:
        entry = table[word.lower()]
        table[word.lower()] = Homograph(entry.otherwise, entry.if_tag, entry.tags)
    table.update(_parse(OVERRIDES.splitlines(), f"{__name__}.OVERRIDES"))
    return table
