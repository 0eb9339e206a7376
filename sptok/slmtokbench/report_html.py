"""Static parts of the SLMTokBench HTML report: the page skeleton, its style sheet and the small
script that checks every picture loaded (it writes ``data-images-loaded`` / ``-total`` on
``<body>``, marks a broken picture and says so in the footer)."""
from __future__ import annotations

import html
from typing import Iterable, Optional, Sequence

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
table.vc td:nth-child(2), table.vc th:nth-child(2) { text-align: left; }
thead th { background: #eef2f6; }
tr.reference td { color: #555; font-style: italic; }
p.note { color: #555; font-size: 0.92em; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
.example { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; margin: 1em 0; }
.clip { display: inline-block; width: 24em; margin: 0.4em 1em 0.4em 0; vertical-align: top; }
.clip img { width: 100%; } .clip audio { width: 100%; }
img.broken { outline: 3px solid #c00; }
footer { margin-top: 3em; font-size: 0.85em; color: #666; }
"""

CHECK_IMAGES = """
window.addEventListener("load", function () {
  var images = document.getElementsByTagName("img"), loaded = 0;
  for (var i = 0; i < images.length; i++) {
    if (images[i].complete && images[i].naturalWidth > 0) { loaded++; }
    else { images[i].classList.add("broken"); }
  }
  document.body.setAttribute("data-images-loaded", String(loaded));
  document.body.setAttribute("data-images-total", String(images.length));
  var status = document.getElementById("image-status");
  if (status) {
    status.textContent = loaded === images.length ? "All " + loaded + " pictures loaded."
      : (images.length - loaded) + " of " + images.length + " pictures failed to load.";
  }
});
"""


def esc(text: object) -> str:
    """HTML-escaped text."""
    return html.escape(str(text), quote=True)


def table(headings: Sequence[str], rows: Iterable[Sequence[str]], css_class: str = "",
          row_classes: Optional[Sequence[str]] = None) -> str:
    """An HTML table of already formatted cells (escaped here)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headings)
    body = []
    for index, row in enumerate(rows):
        extra = row_classes[index] if row_classes and row_classes[index] else ""
        cells = "".join(f"<td>{esc(c)}</td>" for c in row)
        body.append(f'<tr class="{esc(extra)}">{cells}</tr>' if extra else f"<tr>{cells}</tr>")
    attr = f' class="{esc(css_class)}"' if css_class else ""
    return (f"<table{attr}><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def page(title: str, body: str, generated: str) -> str:
    """The whole self-contained page (style and script inline; pictures and audio relative)."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n"
            f"<script>{CHECK_IMAGES}</script>\n</head>\n<body>\n"
            f"<h1>{esc(title)}</h1>\n{body}\n"
            f'<footer><p id="image-status"></p><p>Generated {esc(generated)} by '
            f"sptok.slmtokbench.</p></footer>\n</body>\n</html>\n")
