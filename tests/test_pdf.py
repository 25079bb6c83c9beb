"""The PDF of each edition (book/pdf.py, `dev.py pdf`): printed by Chromium, one bookmark a page,
the text searchable in both languages.

The test prints three pages of each edition (the preface, chapter 1 and the glossary): the
whole book takes Chromium minutes on two cores, and every page goes through the same code.
The publishing workflow prints the whole book.
"""

import shutil

import pytest
from conftest import load_script, toc_files

pdf = load_script("book/pdf.py")

try:
    CHROMIUM = pdf.chromium()
except FileNotFoundError:
    CHROMIUM = None

TITLES = {"en": "1. What attention is", "zh": "1. 什么是注意力"}


def test_pages_follow_the_table_of_contents():
    assert pdf.pages() == toc_files()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (README: 'A browser')")
@pytest.mark.parametrize("edition", ["en", "zh"])
def test_a_printed_edition_has_bookmarks_and_text(edition, build, tmp_path):
    from pypdf import PdfReader

    _, html = build
    site = html if edition == "en" else html / "zh"
    names = ["book/preface", "notebooks/01_what_is_attention", "book/glossary"]
    out = pdf.build_pdf(site, tmp_path / pdf.NAMES[edition], names)
    reader = PdfReader(out)
    assert len(reader.pages) >= len(names) + 3  # each page of the book is several A4 pages
    marks = [(m.title, reader.get_destination_page_number(m)) for m in reader.outline]
    assert [t for t, _ in marks][1] == TITLES[edition], marks
    starts = [page for _, page in marks]
    assert starts == sorted(set(starts)) and starts[0] == 0, marks
    first_chapter = reader.pages[starts[1]].extract_text()
    assert TITLES[edition].split(". ", 1)[1] in first_chapter
    if edition == "zh":  # the bundled font is embedded: Chinese prose is text, not pictures
        assert "注意力机制" in first_chapter
    shutil.rmtree(tmp_path, ignore_errors=True)
