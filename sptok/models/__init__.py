"""Codec models: the SpeechTokenizer generator and its GAN training wrapper."""
from sptok.models.codec_model import SpeechTokenizerGAN
from sptok.models.distill import DAxisDistillLoss, TAxisDistillLoss
from sptok.models.speechtokenizer import SpeechTokenizerModel
from sptok.models.teacher_targets import OfflineTeacher, OnlineHubertTeacher, TeacherTargets

__all__ = ["DAxisDistillLoss", "OfflineTeacher", "OnlineHubertTeacher", "SpeechTokenizerGAN",
           "SpeechTokenizerModel", "TAxisDistillLoss", "TeacherTargets"]
