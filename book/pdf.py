#!/usr/bin/env python3
"""A PDF of each edition, printed from the built HTML book by Chromium.

    .venv/bin/python book/pdf.py [--html _build/html]     # dev.py pdf runs this

needs the built book (dev.py book) and a Chromium or Chrome (CHROMIUM=/path, else `chromium`
on the PATH or /usr/bin/chromium; never a browser that Playwright downloads).  Every page of
the table of contents is printed in order with the book's print style sheet (A4, solutions
open, no menus), the pages are joined with pypdf, and each page of the book gets a bookmark
with its title, so a reader can jump from chapter to chapter.  Writes
_build/html/pdf/how-attention-is-computed.pdf and
_build/html/pdf/how-attention-is-computed-zh.pdf, which the published site serves beside
the pages (the preface links them).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NAMES = {"en": "how-attention-is-computed.pdf", "zh": "how-attention-is-computed-zh.pdf"}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium() -> str:
    """The browser to print with: $CHROMIUM, else chromium on the PATH, else /usr/bin/chromium."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise FileNotFoundError(f"no Chromium at {path!r}: install it (README, 'A browser for "
                                "the full test suite') or set CHROMIUM=/path/to/chrome")
    return path


def pages(root: Path = ROOT) -> list[str]:
    """The book's pages in reading order (the root page, then the toc's chapters)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


def _title(html: str) -> str:
    found = re.search(r"<title>(.*?)(?: &#8212;| —|</title>)", html, re.S)
    text = found.group(1).strip() if found else "page"
    return re.sub(r"<[^>]+>", "", text).replace("&amp;", "&")


def build_pdf(site: Path, out: Path, page_names: list[str]) -> Path:
    """Print ``page_names`` of the edition in ``site`` into one PDF at ``out``, bookmarked."""
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=FLAGS)
        page = browser.new_page()
        for name in page_names:
            path = site / f"{name}.html"
            page.goto(path.as_uri(), wait_until="load")
            page.emulate_media(media="print")
            # book.js marks the page once MathJax has typeset it (no formulas: no MathJax)
            page.wait_for_function(
                "!window.MathJax || document.documentElement.dataset.attnMathDone === 'true'",
                timeout=60_000)
            data = page.pdf(format="A4", print_background=True,
                            margin={"top": "16mm", "bottom": "16mm", "left": "14mm",
                                    "right": "14mm"})
            chunk = out.with_suffix(".part.pdf")
            chunk.write_bytes(data)
            start = len(writer.pages)
            writer.append(PdfReader(chunk))
            chunk.unlink()
            writer.add_outline_item(_title(path.read_text(encoding="utf-8")), start)
        browser.close()
    with out.open("wb") as f:
        writer.write(f)
    return out


def build_both(html: Path, root: Path = ROOT) -> list[Path]:
    """Both editions' PDFs from the built book in ``html`` (English there, Chinese in zh/)."""
    names = pages(root)
    return [build_pdf(html if edition == "en" else html / "zh",
                      html / "pdf" / NAMES[edition], names) for edition in ("en", "zh")]


def main(argv: list[str]) -> int:
    html = Path(argv[1]) if argv[:1] == ["--html"] else ROOT / "_build" / "html"
    if not (html / "index.html").exists():
        print(f"no built book in {html}: run `python3.11 dev.py book` first")
        return 2
    for path in build_both(html):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
