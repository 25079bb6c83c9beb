#!/usr/bin/env python3
"""The Chinese notebooks: every chapter with its Markdown in Chinese, for the Chinese edition's
download and Colab buttons.

    .venv/bin/python book/zh_notebooks.py write    # (dev.py translations runs it too)
    .venv/bin/python book/zh_notebooks.py check    # exit 1 if a committed copy is stale

Each notebooks/NN_topic.ipynb becomes zh/notebooks/NN_topic.ipynb: the same cells in the same
order, code cells unchanged (their source, tags and metadata), outputs left out (a reader
runs them; the book's pages show them), and each Markdown cell with every paragraph, heading,
list item and table cell that the page's catalog translates replaced by its translation.
A message matches when its words are the cell's words with any line breaks and indentation
between them, standing on their own (from a line's start, after Markdown's markers, to a
line's end, or a table cell between two "|"); longer messages are replaced first.  What the catalog does not
translate (or marks fuzzy) stays English, as on the Chinese page.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "locale" / "zh_CN" / "LC_MESSAGES" / "notebooks"
OUT = ROOT / "zh" / "notebooks"
MARKERS = re.compile(r"[ \t]*(?:#{1,6}[ \t]+|>[ \t]*|[-*+][ \t]+|\d+\.[ \t]+|\|[ \t]*"
                     r"|:{3,}\{[\w-]+\}[ \t]*|\*\*)*$")


def catalog(page: str) -> dict[str, str]:
    """English message -> Chinese, for the current (non-fuzzy, translated) messages."""
    from babel.messages.pofile import read_po

    path = LOCALE / f"{page}.po"
    if not path.exists():
        return {}
    with path.open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and m.string and not m.fuzzy}


def _pattern(message: str) -> re.Pattern:
    words = [re.escape(w) for w in message.split()]
    return re.compile(r"\s+".join(words))


def translate_markdown(source: str, messages: dict[str, str]) -> str:
    """``source`` with every message of ``messages`` that stands on its own replaced."""
    for english in sorted(messages, key=len, reverse=True):
        if not english.split():
            continue
        out, at = [], 0
        for match in _pattern(english).finditer(source):
            line_start = source.rfind("\n", 0, match.start()) + 1
            after = source[match.end():]
            ends = re.match(r"[ \t]*(?:\n|$|\|)|\*\*", after)
            before = source[line_start:match.start()]
            in_table = source[line_start:].lstrip().startswith("|") and \
                before.rstrip().endswith("|")
            if not (MARKERS.fullmatch(before) or in_table) or not ends:
                continue
            out += [source[at:match.start()], messages[english]]
            at = match.end()
        source = "".join(out) + source[at:] if out else source
    return source


def chinese_notebook(path: Path) -> nbformat.NotebookNode:
    """The Chinese copy of one chapter notebook (see the module's docstring)."""
    nb = nbformat.read(path, as_version=4)
    messages = catalog(path.stem)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = translate_markdown(cell.source, messages)
        elif cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata["language"] = "zh-CN"
    return nb


def render(path: Path) -> str:
    return nbformat.writes(chinese_notebook(path)) + "\n"


def write(root: Path = ROOT) -> list[Path]:
    """Write zh/notebooks/ anew from notebooks/ and the catalogs; return the files written."""
    out = root / "zh" / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted((root / "notebooks").glob("*.ipynb"))
    for stale in set(out.glob("*.ipynb")) - {out / p.name for p in sources}:
        stale.unlink()
    written = []
    for path in sources:
        target = out / path.name
        text = render(path)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written.append(target)
    return written


def stale(root: Path = ROOT) -> list[str]:
    """The chapters whose committed Chinese notebook differs from a fresh one (or is missing)."""
    out = root / "zh" / "notebooks"
    names = sorted(p.name for p in (root / "notebooks").glob("*.ipynb"))
    found = [n for n in names if not (out / n).exists()
             or (out / n).read_text(encoding="utf-8") != render(root / "notebooks" / n)]
    return found + sorted(p.name for p in out.glob("*.ipynb") if p.name not in names)


def main(argv: list[str]) -> int:
    if argv[:1] == ["write"]:
        for path in write():
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if argv[:1] == ["check"]:
        names = stale()
        for name in names:
            print(f"zh/notebooks/{name} is not in step: run dev.py translations")
        return 1 if names else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
