"""USLM (SpeechTokenizer paper): zero-shot TTS as an AR model over RVQ-1 codes and a NAR model
over levels 2..n_q, VALL-E style; with KV-cache decoding."""
from sptok.uslm.ar_model import ARDecodingState, USLMARModel
from sptok.uslm.inference import ARGenerationOutput, ar_generate, generate, nar_decode
from sptok.uslm.kv_cache import KVCache
from sptok.uslm.nar_model import LEVEL_SCHEDULES, USLMNARModel
from sptok.uslm.sampling import SamplingOptions, choose_tokens, filter_logits, make_generators
from sptok.uslm.train_model import USLM, USLMTrainModel

__all__ = [
    "ARDecodingState", "ARGenerationOutput", "KVCache", "LEVEL_SCHEDULES", "SamplingOptions",
    "USLM", "USLMARModel", "USLMNARModel", "USLMTrainModel", "ar_generate", "choose_tokens",
    "filter_logits", "generate", "make_generators", "nar_decode",
]
