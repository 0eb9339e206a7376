"""SLMTokBench (Zhang et al., SpeechTokenizer, ICLR 2024): how well do speech tokens suit speech
language models? This package holds the text-alignment half: a BiLSTM-CTC probe on token
embeddings, its WER/CER, and the mutual information between tokens and text."""
from sptok.slmtokbench.downstream import CTCDownstream, ctc_log_likelihood, greedy_decode
from sptok.slmtokbench.metrics import char_error_rate, edit_distance, word_error_rate
from sptok.slmtokbench.mutual_info import estimate_batch, pairwise_log_likelihood, summarize
from sptok.slmtokbench.text_alignment import (OPTIONS, load_probe, resolve_config,
                                              run_text_alignment)
from sptok.slmtokbench.token_sources import (CodebookEmbedder, StreamReader, TokenStream,
                                             load_codebooks, parse_levels)
from sptok.slmtokbench.vocab import CharVocab, PhonemeVocab

__all__ = [
    "CTCDownstream", "ctc_log_likelihood", "greedy_decode", "char_error_rate", "edit_distance",
    "word_error_rate", "estimate_batch", "pairwise_log_likelihood", "summarize", "OPTIONS",
    "load_probe", "resolve_config", "run_text_alignment", "CodebookEmbedder", "StreamReader",
    "TokenStream", "load_codebooks", "parse_levels", "CharVocab", "PhonemeVocab",
]
