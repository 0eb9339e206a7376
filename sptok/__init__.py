"""sptok: speech tokenizers for speech language models (SpeechTokenizer, SLMTokBench, USLM)."""
from sptok.version import __version__

__all__ = ["__version__"]
