"""Voices of the synthetic corpus: Debian's speech synthesisers and pitch/tempo pseudo-speakers.

A *base voice* is one voice of one engine (flite, festival, espeak-ng; mbrola voices through
espeak-ng when asked for). Base voices that come from the same recordings share a ``timbre``
(flite's kal and festival's kal; flite's slt and festival's HTS slt): they sound alike, so only
timbres count as distinct voices. A *speaker* is a fixed (base voice, sox shift) pair: ``pitch``
moves F0 and formants together (a different vocal tract), ``tempo`` changes the speaking rate.

Some speakers are held out of training (``unseen``) for zero-shot TTS; one timbre (flite rms, a real
CMU ARCTIC speaker) is held out whole so that test_unseen has a voice that training never heard.
"""
from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

# Debian packages that provide each program / voice, for error messages.
_PACKAGE_OF_PROGRAM = {"flite": "flite", "text2wave": "festival", "festival": "festival",
                       "espeak-ng": "espeak-ng", "sox": "sox", "mbrola": "mbrola (contrib)"}


class MissingEngineError(RuntimeError):
    """A synthesiser, a voice of it, or sox is not installed."""


@dataclass(frozen=True)
class BaseVoice:
    """One voice of one engine.

    Attributes:
        id: 5-character name used in speaker ids (e.g. ``flawb``).
        engine: ``flite``, ``festival`` or ``espeak-ng``.
        voice: the engine's own voice name (``awb``, ``voice_ked_diphone``, ``en-us+f3``,
            ``mb-us1``).
        timbre: which voice this really is; base voices with the same timbre sound alike.
        package: Debian package that provides the voice.
        duration_factor: spoken length relative to :attr:`Sentence.estimated_seconds`
            (measured on 40 sentences; 1.0 where unmeasured).
        non_free: needs packages outside Debian main (mbrola); used only when asked for.
    """

    id: str
    engine: str
    voice: str
    timbre: str
    package: str
    duration_factor: float
    non_free: bool = False


@dataclass(frozen=True)
class Speaker:
    """A pseudo-speaker: a base voice with a fixed sox shift.

    Attributes:
        id: base voice id + variant digit (6 characters, e.g. ``flawb1``); prefixes utterance ids.
        base: the base voice.
        pitch_cents: sox ``pitch`` shift in cents (F0 and formants move together).
        tempo: sox ``tempo`` factor (>1 speaks faster; spectrum kept).
        peak_db: peak level of every utterance, in dB full scale.
        unseen: held out of ``train``; speaks only in ``test_unseen``.
    """

    id: str
    base: BaseVoice
    pitch_cents: int
    tempo: float
    peak_db: float
    unseen: bool = False

    @property
    def duration_factor(self) -> float:
        """Spoken length relative to :attr:`Sentence.estimated_seconds`."""
        return self.base.duration_factor / self.tempo


BASE_VOICES: Tuple[BaseVoice, ...] = (
    BaseVoice("flkal", "flite", "kal16", "kal", "flite", 0.99),
    BaseVoice("flawb", "flite", "awb", "awb", "flite", 0.97),
    BaseVoice("flrms", "flite", "rms", "rms", "flite", 1.13),
    BaseVoice("flslt", "flite", "slt", "slt", "flite", 1.00),
    BaseVoice("fekal", "festival", "voice_kal_diphone", "kal", "festvox-kallpc16k", 1.18),
    BaseVoice("feked", "festival", "voice_ked_diphone", "ked", "festvox-kdlpc16k", 1.18),
    BaseVoice("feslt", "festival", "voice_cmu_us_slt_arctic_hts", "slt", "festvox-us-slt-hts",
              1.07),
    BaseVoice("esmal", "espeak-ng", "en-us", "espeak-male", "espeak-ng", 0.95),
    BaseVoice("esfem", "espeak-ng", "en-us+f3", "espeak-female", "espeak-ng", 0.94),
    BaseVoice("esgma", "espeak-ng", "en-us+grandma", "espeak-grandma", "espeak-ng", 0.94),
    BaseVoice("eskla", "espeak-ng", "en-us+klatt", "espeak-klatt", "espeak-ng", 0.95),
    BaseVoice("mbus1", "espeak-ng", "mb-us1", "mbrola-us1", "mbrola-us1 (non-free)", 1.0, True),
    BaseVoice("mbus2", "espeak-ng", "mb-us2", "mbrola-us2", "mbrola-us2 (non-free)", 1.0, True),
    BaseVoice("mbus3", "espeak-ng", "mb-us3", "mbrola-us3", "mbrola-us3 (non-free)", 1.0, True),
    BaseVoice("mben1", "espeak-ng", "mb-en1", "mbrola-en1", "mbrola-en1 (non-free)", 1.0, True),
)

# (base voice id, variant, pitch cents, tempo, peak dB, unseen). Variant 0 is the voice as the
# engine speaks it, except festival kal, which is flite kal's voice and so always gets a shift.
# Shifts stay within +-300 cents, where sox's pitch shifter still sounds like speech.
_SPEAKER_TABLE: Tuple[Tuple[str, int, int, float, float, bool], ...] = (
    ("flkal", 0, 0, 1.00, -1.0, False), ("flkal", 1, 300, 0.95, -3.0, False),
    ("flkal", 2, -200, 1.05, -2.0, False),
    ("flawb", 0, 0, 1.00, -2.0, False), ("flawb", 1, 250, 1.00, -1.5, False),
    ("flawb", 2, -200, 0.92, -3.0, True),
    ("flrms", 0, 0, 1.00, -1.5, True), ("flrms", 1, 300, 1.05, -2.5, True),
    ("flslt", 0, 0, 1.00, -1.0, False), ("flslt", 1, -300, 1.00, -2.0, False),
    ("flslt", 2, 200, 1.08, -3.0, False),
    ("fekal", 0, 120, 1.05, -2.0, False),
    ("feked", 0, 0, 1.00, -1.0, False), ("feked", 1, 250, 1.00, -2.5, True),
    ("feked", 2, -150, 1.05, -1.5, False),
    ("feslt", 0, 0, 1.00, -1.5, False), ("feslt", 1, -250, 1.05, -3.0, False),
    ("esmal", 0, 0, 1.00, -2.0, False), ("esmal", 1, -200, 0.95, -1.0, False),
    ("esfem", 0, 0, 1.00, -1.5, False), ("esfem", 1, 150, 1.05, -3.0, True),
    ("esfem", 2, -150, 0.95, -2.0, False),
    ("esgma", 0, 0, 1.00, -2.5, False),
    ("eskla", 0, 0, 1.00, -1.0, False), ("eskla", 1, 200, 1.00, -2.0, False),
    ("mbus1", 0, 0, 1.00, -1.5, False), ("mbus1", 1, -200, 1.05, -2.5, False),
    ("mbus2", 0, 0, 1.00, -2.0, False), ("mbus2", 1, 250, 0.95, -1.0, False),
    ("mbus3", 0, 0, 1.00, -1.0, False), ("mbus3", 1, 200, 1.05, -3.0, True),
    ("mben1", 0, 0, 1.00, -2.5, False), ("mben1", 1, -150, 0.95, -1.5, False),
)


def base_voice(voice_id: str) -> BaseVoice:
    """The base voice called ``voice_id``."""
    for v in BASE_VOICES:
        if v.id == voice_id:
            return v
    raise ValueError(f"unknown base voice {voice_id!r}; known: {[v.id for v in BASE_VOICES]}")


def default_speakers(mbrola: bool = False) -> List[Speaker]:
    """The corpus speakers (25 from Debian main; 8 more with ``mbrola``), sorted by id."""
    speakers = []
    for vid, variant, cents, tempo, peak_db, unseen in _SPEAKER_TABLE:
        base = base_voice(vid)
        if base.non_free and not mbrola:
            continue
        speakers.append(Speaker(f"{vid}{variant}", base, cents, tempo, peak_db, unseen))
    return sorted(speakers, key=lambda s: s.id)


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120)


@functools.lru_cache(maxsize=None)
def _flite_voices() -> Tuple[str, ...]:
    out = _run(["flite", "-lv"]).stdout
    return tuple(out.split(":", 1)[-1].split())


def voice_problem(base: BaseVoice) -> str | None:
    """Why ``base`` cannot be synthesised here (a sentence naming what to install), or None.

    Runs the engine once with the voice where the engine would otherwise fall back silently to a
    default voice (flite and festival do).
    """
    programs = {"flite": ("flite",), "festival": ("text2wave", "festival"),
                "espeak-ng": ("espeak-ng",)}[base.engine]
    for prog in programs + ("sox",) + (("mbrola",) if base.non_free else ()):
        if shutil.which(prog) is None:
            return (f"program '{prog}' not found on PATH (needed by voice {base.id}); install the "
                    f"Debian package {_PACKAGE_OF_PROGRAM[prog]}")
    if base.engine == "flite":
        if base.voice not in _flite_voices():
            return f"flite has no voice '{base.voice}' (flite -lv lists {list(_flite_voices())})"
    elif base.engine == "festival":
        probe = _run(["festival", "--batch", f"({base.voice})"])
        if probe.returncode != 0 or "SIOD ERROR" in probe.stderr + probe.stdout:
            return (f"festival voice {base.voice} is not installed; install the Debian package "
                    f"{base.package}")
    elif base.non_free:
        probe = _run(["espeak-ng", "-q", "-v", base.voice, "test"])
        if probe.returncode != 0:
            return (f"mbrola voice {base.voice} does not work (espeak-ng: "
                    f"{probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else 'error'})"
                    f"; install the Debian packages mbrola and {base.package.split()[0]} "
                    "(contrib/non-free)")
    return None


def check_voices(speakers: Sequence[Speaker]) -> None:
    """Raise MissingEngineError listing every base voice of ``speakers`` that cannot be used."""
    problems: Dict[BaseVoice, str] = {}
    for base in {s.base.id: s.base for s in speakers}.values():
        problem = voice_problem(base)
        if problem is not None:
            problems[base] = problem
    if problems:
        lines = "\n".join(f"  {base.id}: {msg}"
                          for base, msg in sorted(problems.items(), key=lambda kv: kv[0].id))
        hint = ""
        if any(base.non_free for base in problems):
            hint = ("\nthe mbrola voices are not in Debian main: enable contrib/non-free and "
                    "`apt-get install mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1` "
                    "(licence: free to copy, not for sold products), or leave --mbrola false")
        raise MissingEngineError(f"cannot synthesise {len(problems)} voice(s):\n{lines}{hint}")


def available_base_voices(include_non_free: bool = False) -> List[BaseVoice]:
    """Base voices that work on this machine."""
    return [v for v in BASE_VOICES
            if (include_non_free or not v.non_free) and voice_problem(v) is None]
