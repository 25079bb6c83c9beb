"""Every "chapter N" in the prose of either edition is a link to chapter N (file NN_*).

Chapter numbers are file numbers (book/_ext/chapter_numbers.py makes the section numbers
agree), so a reader who meets "chapter 9" or "第 9 章" can always click through, and a
renumbering that forgets a mention fails here.
"""

import re

import pytest
from conftest import load_script, page_soup, toc_files

chapter_numbers = load_script("book/_ext/chapter_numbers.py")

# "chapter 9", "Chapter 9's", "chapters 6, 9 and 13", "第 9 章", "第 6、9 和 13 章"
MENTION = re.compile(r"\b[Cc]hapters?\s+\d+|第\s*\d+(?:\s*(?:[、,，]|和|与|及|至|到)\s*\d+)*\s*章")
LINK_TEXT = re.compile(r"^\s*(?:[Cc]hapters?\s+|第\s*)?(\d+)(?:\s*章)?\b")
SKIP = ("pre", "code", "script", "style", "a", "title")
def _soup(html: str):
    """The page parsed, less its inline images and code (no prose: the checks skip them)."""
    return page_soup(html, code=False)


def _prose_texts(soup):
    """Text nodes of the page's article that a reader reads as prose (not code or outputs)."""
    article = soup.find("article") or soup
    for text in article.find_all(string=True):
        parents = list(text.parents)
        if any(p.name in SKIP for p in parents):
            continue
        if any("cell_output" in (p.get("class") or []) for p in parents):
            continue
        yield text


def _pages():
    return [f for f in toc_files()]


def unlinked_mentions(html: str) -> list[str]:
    """Mentions of a chapter number that are not inside a link."""
    found = []
    for text in _prose_texts(_soup(html)):
        for match in MENTION.finditer(str(text)):
            found.append(str(text).strip()[:80])
    return found


def wrong_links(html: str) -> list[str]:
    """Links whose text names chapter N but that lead to another chapter's page."""
    wrong = []
    soup = _soup(html)
    article = soup.find("article") or soup
    for a in article.find_all("a", href=True):
        target = a["href"].split("#")[0].rsplit("/", 1)[-1].removesuffix(".html")
        chapter = chapter_numbers.chapter_of(target)
        text = a.get_text(" ", strip=True)
        match = LINK_TEXT.match(text)
        if chapter is None or not match:
            continue
        # a mention such as "chapter 9" or a bare number in "chapters 6, 9 and 13"
        before = a.previous_sibling
        said = re.search(r"(?:[Cc]hapters?|第)[^.。]*$", str(before or "")) or \
            re.match(r"^(?:[Cc]hapters?|第)", text)
        if said and int(match.group(1)) != chapter:
            wrong.append(f"{text!r} -> {a['href']}")
    return wrong


def test_the_checks_catch_an_unlinked_and_a_wrong_mention():
    page = ('<article><p>As in chapter 6, and <a href="09_transformer.html">chapter 8'
            '</a>; see <a href="06_rules_compared.html">chapter 6</a>.</p>'
            '<div class="cell_output"><pre>chapter 3</pre></div></article>')
    assert unlinked_mentions(page) == ["As in chapter 6, and"]
    assert unlinked_mentions("<p>第 1 步；见第 6、9 和 13 章。</p>") == ["第 1 步；见第 6、9 和 13 章。"]
    assert unlinked_mentions('<p>第 1 步；见第 <a href="x.html">6</a> 章。</p>') == []
    assert wrong_links(page) == ["'chapter 8' -> 09_transformer.html"]
    assert chapter_numbers.chapter_of("notebooks/13_beyond_sequences") == 13
    assert chapter_numbers.chapter_of("book/glossary") is None


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_every_chapter_mention_links_to_that_chapter(edition, build):
    _, html = build
    root = html if edition == "en" else html / "zh"
    problems = []
    for page in _pages():
        text = (root / f"{page}.html").read_text(encoding="utf-8")
        problems += [f"{page}: unlinked {m!r}" for m in unlinked_mentions(text)]
        problems += [f"{page}: {m}" for m in wrong_links(text)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_titles_and_sidebar_carry_the_file_numbers(edition, build):
    _, html = build
    root = html if edition == "en" else html / "zh"
    for page in _pages():
        chapter = chapter_numbers.chapter_of(page)
        if chapter is None:
            continue
        soup = _soup((root / f"{page}.html").read_text(encoding="utf-8"))
        assert soup.title.get_text().startswith(f"{chapter}. "), (page, soup.title)
        h1 = soup.find("article").find("h1").get_text(" ", strip=True)
        assert h1.startswith(f"{chapter}."), (page, h1)
