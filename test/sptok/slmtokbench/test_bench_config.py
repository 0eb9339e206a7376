"""report.extra of the benchmark config: extra audio sections (e.g. zero-shot TTS samples)."""
import pytest

from sptok.slmtokbench.bench_config import parse_extra_sections
from sptok.utils.config import ConfigError


@pytest.fixture
def scp(tmp_path):
    path = tmp_path / "wav.scp"
    path.write_text("u1 a.wav\n")
    return str(path)


def test_a_valid_section_gets_its_defaults(scp):
    sections = parse_extra_sections([{"title": "TTS", "systems": [{"label": "USLM",
                                                                   "wav_scp": scp}]}])
    assert sections == [{"title": "TTS", "note": "", "examples": 3, "text": None,
                         "prompt_scp": None, "reference_scp": None,
                         "systems": [{"label": "USLM", "wav_scp": scp}]}]


@pytest.mark.parametrize("spec, message", [
    ({"systems": []}, r"report.extra\[0\]: title"),
    ({"title": "T", "systems": []}, r"report.extra\[0\]: systems must be a non-empty list"),
    ({"title": "T", "systems": [{"label": "x"}]}, r"report.extra\[0\].systems\[0\]"),
    ({"title": "T", "systems": [{"label": "x", "wav_scp": "/no/such.scp"}]},
     r"wav_scp '/no/such.scp' not found"),
    ({"title": "T", "examples": 0, "systems": []}, r"examples must be a positive integer"),
    ({"title": "T", "prompt_scp": "/no/prompts.scp", "systems": []},
     r"prompt_scp '/no/prompts.scp' not found"),
    ({"title": "T", "colour": "red", "systems": []}, r"unknown key\(s\) \['colour'\]"),
])
def test_bad_sections_name_the_key(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_extra_sections([spec])


def test_not_a_list():
    with pytest.raises(ConfigError, match="report.extra: a list of sections"):
        parse_extra_sections({"title": "T"})
