"""HuBERT teachers: loading wav2vec2-family encoders from HF / fairseq / torchaudio checkpoints,
frame-feature extraction for distillation, and a small HuBERT trained from scratch."""
from sptok.teachers.checkpoint_formats import LoadedEncoder, detect_format, load_wav2vec2, save_wav2vec2
from sptok.teachers.hubert import HubertTeacher, parse_layer

__all__ = ["HubertTeacher", "LoadedEncoder", "detect_format", "load_wav2vec2", "parse_layer", "save_wav2vec2"]
