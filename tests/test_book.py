"""Book-level checks: the table of contents, stored outputs, and a -W build."""

import base64
import html
import json
import re
import unicodedata
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import load_script, toc_files

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_COLUMNS = 80  # about what the 688 px text column shows of monospace text


def _subset_cjk():
    """book/fonts/subset_cjk.py, the script that makes the bundled CJK font."""
    return load_script("book/fonts/subset_cjk.py")


def test_every_notebook_is_a_chapter_and_every_chapter_exists():
    files = toc_files()
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.stem}" in files, f"{nb.name} is missing from _toc.yml"
    for f in files:
        assert (ROOT / f"{f}.md").exists() or (ROOT / f"{f}.ipynb").exists(), f
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+", nb.stem) for nb in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_executed_in_order(path):
    nb = nbformat.read(path, as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts and None not in counts, f"{path.name} has unexecuted cells: run dev.py execute"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name} was not run top to bottom"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_colab_install_cell_is_first_and_hidden(path):
    """The first code cell installs attnlib on Colab only; the HTML book removes it."""
    nb = nbformat.read(path, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    src = first_code.source
    assert "google.colab" in src and "%pip install" in src and '"attnlib @ ' in src, src
    assert "remove-cell" in first_code.metadata.get("tags", [])


def test_book_builds_with_zero_warnings(build):
    proc, html = build
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    assert "WARNING" not in log, log[-5000:]
    for f in toc_files():
        page = html / f"{f}.html"
        assert page.exists(), f"no page for {f}"
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()


def test_every_chapter_has_a_colab_link_to_its_notebook_on_main(build):
    _, html = build
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    for f in toc_files():
        if f.startswith("notebooks/"):
            text = (html / f"{f}.html").read_text(encoding="utf-8")
            link = f"https://colab.research.google.com/github/{repo}/blob/main/{f}.ipynb"
            assert f'href="{link}"' in text, f"{f}: no link {link}"


def test_colab_install_cells_use_the_configured_repository():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = config["repository"]["url"]
    for nb in NOTEBOOKS:
        src = next(c for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code").source
        # either inline, "attnlib @ git+URL", or with the address in a variable that IPython
        # expands in the magic, URL = "git+URL" then "attnlib @ {URL}"
        inline = f'"attnlib @ git+{url}"' in src
        named = re.search(r'^\s*(\w+) = "git\+' + re.escape(url) + r'"\s*$', src, re.M)
        assert inline or (named and f'"attnlib @ {{{named[1]}}}"' in src), nb.name


# --- what a reader sees of each notebook, checked without a build ---------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_FENCE = re.compile(r"^(`{3,}|~{3,})\s*(.*)$")
_CODE_DIRECTIVES = ("{code-block}", "{code}", "{code-cell}", "{literalinclude}")


def columns(line: str) -> int:
    """Display width in a monospace font: East Asian wide characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def _output_lines(output):
    """The text lines a stored output shows (streams, plain-text results, error lines)."""
    if output.output_type == "stream":
        yield from output.text.splitlines()
    elif output.output_type in ("execute_result", "display_data"):
        data = output.get("data", {})
        if "text/plain" in data and not ({"text/html", "image/png", "image/svg+xml",
                                          "application/vnd.jupyter.widget-view+json"} & set(data)):
            yield from data["text/plain"].splitlines()
    elif output.output_type == "error":
        for entry in output.traceback:
            yield from _ANSI.sub("", entry).splitlines()


def _markdown_code_lines(source: str):
    """Lines inside fenced code blocks of a markdown cell (solutions show code this way).

    A fence whose info string is a directive ({exercise}, {solution}, ...) holds markdown,
    not code; fences nest, a closing fence being at least as long as its opening one.
    """
    stack = []  # (fence characters, is code)
    for line in source.splitlines():
        fence = _FENCE.match(line.strip())
        if fence and stack and not fence[2] and fence[1][0] == stack[-1][0][0] \
                and len(fence[1]) >= len(stack[-1][0]):
            stack.pop()
        elif fence and not (stack and stack[-1][1]):
            info = fence[2].strip()
            stack.append((fence[1], not info.startswith("{") or info.startswith(_CODE_DIRECTIVES)))
        elif stack and stack[-1][1]:
            yield line


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_code_and_printed_lines_fit_80_columns(path):
    # every cell, the hidden Colab install cell too: Jupyter and Colab readers see it
    nb = nbformat.read(path, as_version=4)
    long = []
    for i, cell in enumerate(nb.cells):
        lines = [("code", line) for line in (cell.source.splitlines() if cell.cell_type == "code"
                                             else _markdown_code_lines(cell.source))]
        if cell.cell_type == "code" and "remove-output" not in cell.metadata.get("tags", []):
            lines += [("output", line) for out in cell.get("outputs", [])
                      for line in _output_lines(out)]
        long += [f"cell {i} {kind} ({columns(line)} columns): {line[:90]}"
                 for kind, line in lines if columns(line) > MAX_COLUMNS]
    assert long == [], f"{path.name}: lines wider than {MAX_COLUMNS} columns:\n" + "\n".join(long)


# A phone's text column is about 358 px wide. A stored figure at most this wide (in CSS px) is
# shown at half its size or more there, so the 12-point labels the chapters use (17 px at
# 100 dpi) stay at 8 px or more; on a laptop's 688 px column it is shown at full size.
# Figures are stored at twice their display resolution (book/ipython_kernel_config.py): the
# PNG is 2x wide and its output metadata says the width to show it at, which is the limit's.
MAX_FIGURE_PX = 720
_PNG_IN_HTML = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def _png_width(data: bytes) -> int:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_stored_figures_are_narrow_enough_for_a_phone(path):
    nb = nbformat.read(path, as_version=4)
    wide, figures = [], 0
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            shown = out.get("metadata", {}).get("image/png", {}).get("width")
            pngs = [(data["image/png"], shown)] if "image/png" in data else []
            page = data.get("text/html", "")
            # static sliders' frames, shown at their <img width> (stored at twice that)
            slider = re.search(r'<img id="[^"]*-img"[^>]*\swidth="(\d+)"', page)
            pngs += [(png, slider.group(1) if slider else None)
                     for png in _PNG_IN_HTML.findall(page)]
            for png, shown in pngs:
                figures += 1
                width = int(shown or _png_width(base64.b64decode(png)))  # CSS px
                if width > MAX_FIGURE_PX:
                    wide.append(f"cell {i}: {width} px")
    assert wide == [], (f"{path.name}: figures wider than {MAX_FIGURE_PX} px (stack the panels, "
                        f"one a row, or narrow figsize):\n" + "\n".join(wide))
    assert figures > 0, f"{path.name}: no stored figure found; is the test reading them?"


_MACHINE_PATH = re.compile(r"/work/|/root/|/home/|/tmp/|site-packages|\.venv\b")


def _output_strings(output):
    """Every text an output stores (images and widget state excluded: base64 / JSON models)."""
    if output.output_type == "stream":
        yield output.text
    elif output.output_type == "error":
        yield from (output.ename, output.evalue, *output.traceback)
    else:
        for mime, value in output.get("data", {}).items():
            if mime.startswith("text/") or mime.endswith("+json") and "widget" not in mime:
                yield value if isinstance(value, str) else json.dumps(value)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_no_stored_output_shows_a_path_of_the_build_machine(path):
    nb = nbformat.read(path, as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            for text in _output_strings(out):
                for m in _MACHINE_PATH.finditer(_ANSI.sub("", text)):
                    found.append(f"cell {i}: ...{text[max(0, m.start() - 40):m.end() + 40]}...")
    assert found == [], f"{path.name}: outputs show build-machine paths:\n" + "\n".join(found)


# --- the bundled CJK font -------------------------------------------------------------------

def test_bundled_cjk_font_covers_every_source():
    """Every CJK character in the sources is in the font (else run book/fonts/subset_cjk.py)."""
    cjk = _subset_cjk()
    used, font = cjk.characters_used(), cjk.font_characters()
    assert used, "no CJK character found: the scan of the sources is broken"
    missing = "".join(sorted(used - font))
    assert missing == "", f"the bundled font lacks {missing!r}: run book/fonts/subset_cjk.py"
    assert {c for c in font if cjk.is_cjk(c)} == used, (
        "the font holds CJK characters the book no longer uses: run book/fonts/subset_cjk.py")


def test_the_scan_for_cjk_characters_keeps_to_the_blocks():
    cjk = _subset_cjk()
    edges = "".join(chr(c) for lo, hi in cjk.CJK_RANGES for c in (lo - 1, lo, hi, hi + 1))
    assert cjk.cjk_characters(edges + "attention 注意力") == \
        {c for c in edges + "注意力" if cjk.is_cjk(c)}
    assert cjk.cjk_characters(edges) == {chr(c) for lo, hi in cjk.CJK_RANGES for c in (lo, hi)}


def test_font_css_loads_the_font_for_the_scripts_cjk_blocks():
    cjk = _subset_cjk()
    css = (ROOT / "book/static/book.css").read_text(encoding="utf-8")
    face = re.search(r"@font-face\s*{(.*?)}", css, re.S).group(1)
    declared = " ".join(re.search(r"unicode-range:\s*([^;]*);", face).group(1).split())
    assert declared == cjk.unicode_range_css()
    src = re.search(r'url\("([^"]+)"\)', face).group(1)
    assert (ROOT / "book/static" / src).resolve() == cjk.OUTPUT.resolve()
    assert (cjk.OUTPUT.parent / "OFL.txt").read_text().count("SIL OPEN FONT LICENSE") == 1


def test_bundled_cjk_font_covers_the_built_book(build):
    """Every CJK character of every built page (text and attributes) is in the font."""
    proc, site = build
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    cjk = _subset_cjk()
    font = cjk.font_characters()
    pages = [p for p in site.rglob("*.html") if "_static" not in p.parts]
    assert len(pages) >= len(toc_files())
    missing = {}
    for page in pages:
        text = html.unescape(page.read_text(encoding="utf-8"))
        for ch in cjk.cjk_characters(text) - font:
            missing.setdefault(ch, page.relative_to(site).as_posix())
    assert missing == {}, f"characters the bundled font lacks (first page with each): {missing}"
    assert cjk.cjk_characters((site / "book/glossary.html").read_text(encoding="utf-8"))


def test_widget_icon_fonts_are_where_both_html_manager_bundles_ask(build):
    """html-manager's bundles look for their icon fonts in two folders (book_assets.py, 7)."""
    _, site = build
    for edition in ("", "zh/"):
        fonts = site / edition / "notebooks" / "@jupyter-widgets" / "html-manager" / "dist"
        names = sorted(f.name for f in fonts.glob("*.woff2"))
        assert len(names) == 3, f"{edition or 'en'}: {names}"
        assert sorted(f.name for f in fonts.parent.parent.glob("*.woff2")) == names
        for name in names:
            assert (fonts / name).read_bytes() == (fonts.parent.parent / name).read_bytes()


def test_citations_of_the_undated_article_say_how_it_was_published(build):
    """The source article has no date: its citations read "online tutorial", never "n.d."."""
    proc, site = build
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    preface = html.unescape((site / "book/preface.html").read_text(encoding="utf-8"))
    assert "Its calculation rules), online tutorial" in re.sub(r"<[^>]+>", "", preface)
    for f in toc_files():
        text = re.sub(r"<[^>]+>", "", (site / f"{f}.html").read_text(encoding="utf-8"))
        assert "n.d." not in text, f"{f}: a citation without a date shows n.d."


# --- the repository stands alone -------------------------------------------------------------

def test_docs_name_no_file_outside_the_repository():
    docs = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "book").glob("*.md"))]
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        assert "COURSE.md" not in text and "../shared" not in text, doc.name
        for target in re.findall(r"\]\((?!https?://|#|mailto:)([^)\s]+)\)", text):
            resolved = (doc.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(ROOT) and resolved.exists(), (doc.name, target)
