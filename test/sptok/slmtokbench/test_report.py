"""The SLMTokBench report: Markdown tables in the paper's layout, and the static HTML page
rendered by headless Chromium (tables, pictures that load, audio players)."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sptok.slmtokbench.disentangle import plot_projection
from sptok.slmtokbench.report import (BENCH_HEADINGS, BenchRow, Clip, Example, Projection,
                                      ReportData, VCRow, render_markdown, write_html_report)

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str:
    """A headless-capable Chromium; installed with apt-get (Debian's ``chromium``) when missing
    and possible, else the test is skipped with the reason."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip("chromium not found and cannot be installed here (needs root and apt-get); "
                    "install it with: apt-get install -y chromium (tools/install.sh does)")
    proc = subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True,
                          text=True, timeout=1200, check=False,
                          env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    path = shutil.which("chromium")
    if proc.returncode != 0 or path is None:
        pytest.skip(f"chromium could not be installed (apt-get install -y chromium: exit "
                    f"{proc.returncode}: {proc.stderr.strip()[-300:]})")
    return path


def dump_dom(page: Path, tmp_path: Path) -> str:
    """The DOM of ``page`` after its scripts ran, from headless Chromium."""
    chromium = find_chromium()
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
               "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def make_report_data(tmp_path: Path) -> ReportData:
    rate = 16000
    clips = []
    for name, freq in (("original", 220.0), ("rvq1", 330.0)):
        t = np.arange(rate // 2) / rate
        path = tmp_path / "clips" / f"{name}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate)
        clips.append(Clip(name.upper(), str(path)))
    points = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    image = plot_projection([("RVQ-1", points), ("RVQ-2:8", points * 2)],
                            ["a", "a", "b", "b", "c", "c"], tmp_path / "proj.png", "tiny")
    return ReportData(
        title="SLMTokBench test <&>",
        rows=[BenchRow("ground truth", wer_resynth=4.0, sim=1.0, stoi=1.0, pesq=4.64,
                       reference=True),
              BenchRow("Tiny RVQ-1", 30.1, 15.2, 9.6, 0.74, 0.81, 2.1),
              BenchRow("Tiny RVQ-1:8", 29.7, 16.0, 5.0, 0.97, 0.93, float("nan"))],
        vc_rows=[VCRow("Tiny", "RVQ-1 + ref RVQ-2", 2.6, 0.72, 0.5, 20)],
        projections=[Projection("Tiny", image, {"RVQ-1": 0.3, "RVQ-2:8": 0.9})],
        examples=[Example("utt1", "hello world", "spk1", clips, note="a note")],
        notes=["no unit vocoder"], settings={"ASR": "fake"})


def test_markdown_has_the_paper_columns(tmp_path):
    text = render_markdown(make_report_data(tmp_path))
    header = "| " + " | ".join(BENCH_HEADINGS) + " |"
    assert header.startswith("| tokens | MI | WER text-align (%) | WER resynth (%) | SIM | STOI "
                             "| PESQ |")
    assert text.count(header) == 1
    assert "| Tiny RVQ-1 | 30.10 | 15.20 | 9.60 | 0.740 | 0.810 | 2.10 |" in text
    assert "| Tiny RVQ-1:8 | 29.70 | 16.00 | 5.00 | 0.970 | 0.930 | - |" in text  # NaN PESQ
    assert "| ground truth | - | - | 4.00 | 1.000 | 1.000 | 4.64 |" in text
    assert "| Tiny | RVQ-1 + ref RVQ-2 | 2.60 | 0.720 | 0.500 | 20 |" in text
    assert "| SpeechTokenizer RVQ-1 (avg teacher) | 30.90 | 15.58 | 9.57 | 0.740 |" in text


def test_html_report_renders_in_chromium(tmp_path):
    page = write_html_report(make_report_data(tmp_path), tmp_path / "report")
    folder = page.parent
    assert sorted(p.name for p in (folder / "audio").iterdir()) == [
        "00_utt1_ORIGINAL.wav", "00_utt1_RVQ1.wav"]
    pictures = sorted(p.name for p in (folder / "images").iterdir())
    assert pictures == ["00_utt1_ORIGINAL.png", "00_utt1_RVQ1.png", "projection_Tiny.png"]
    html = page.read_text()
    assert "file://" not in html and str(tmp_path) not in html  # self-contained folder
    assert "SLMTokBench test &lt;&amp;&gt;" in html

    moved = tmp_path / "moved"
    shutil.copytree(folder, moved)  # relative links: the folder works anywhere
    dom = dump_dom(moved / "report.html", tmp_path)
    assert re.search(r'<table class="bench">', dom)
    assert dom.count("<tr") >= 4 + 2 + 1 + 7 + 5  # our table, VC, paper tables
    assert "Tiny RVQ-1:8" in dom and "RVQ-1 + ref RVQ-2" in dom
    assert len(re.findall(r"<img ", dom)) == 3
    assert len(re.findall(r"<audio ", dom)) == 2
    for src in re.findall(r'<audio [^>]*src="([^"]+)"', dom):
        assert (moved / src).is_file()
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    total = re.search(r'data-images-total="(\d+)"', dom)
    assert loaded and total, "the page's image check did not run"
    assert loaded.group(1) == total.group(1) == "3"
    assert "All 3 pictures loaded." in dom

    # a missing picture is detected by the same check
    (moved / "images" / "projection_Tiny.png").unlink()
    dom = dump_dom(moved / "report.html", tmp_path)
    assert 'data-images-loaded="2"' in dom and "1 of 3 pictures failed to load." in dom
