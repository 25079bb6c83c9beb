"""Book-level checks: the table of contents, stored outputs, and a -W build."""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


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
    nb = nbformat.read(path, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "google.colab" in first_code.source and "attnlib @ git+" in first_code.source
    assert "remove-cell" in first_code.metadata.get("tags", [])


def test_book_builds_with_zero_warnings(tmp_path):
    """jupyter-book build . -W --keep-going --all, into a temporary folder."""
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(jb), "build", str(ROOT), "--all", "-W", "--keep-going", "--path-output", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    assert "WARNING" not in log, log[-5000:]
    html = tmp_path / "_build" / "html"
    for f in toc_files():
        page = html / f"{f}.html"
        assert page.exists(), f"no page for {f}"
        text = page.read_text(encoding="utf-8")
        if f.startswith("notebooks/"):
            assert f"colab.research.google.com/github/" in text and f"{f}.ipynb" in text
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()
