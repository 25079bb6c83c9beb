"""Book-level checks: the table of contents, stored outputs, and a -W build."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import toc_files

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


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
    assert "google.colab" in first_code.source and "attnlib @ git+" in first_code.source
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
        first_code = next(c for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code")
        assert f'"attnlib @ git+{url}"' in first_code.source, nb.name
