"""The Chinese edition: built from the same sources, translated, linked, and kept in step.

book/editions.py builds the English edition into html/ and the Chinese one (language
zh_CN, translations from locale/zh_CN/LC_MESSAGES/*.po) into html/zh/.  These tests check
the translation catalogs against the current English text, the two built editions against
each other, and, on a small book made here, that an English edit never leaves a stale
translation on the Chinese page.
"""

import json
import re
import textwrap

import pytest
from babel.messages.pofile import read_po, write_po
from bs4 import BeautifulSoup
from conftest import ROOT, editions, toc_files

PAGES = toc_files()
CHAPTERS = [p for p in PAGES if p.startswith("notebooks/")]
MIN_SHARE = 0.95
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def shares(tmp_path_factory):
    """Page -> (translated, messages) for the English text as it is now."""
    pot = editions.extract(tmp_path_factory.mktemp("gettext"), capture=True)
    return editions.translated_share(pot)


def test_every_page_has_a_catalog(shares):
    assert sorted(shares) == sorted(PAGES)
    for page in PAGES:
        assert (editions.LOCALE / f"{page}.po").exists(), f"no translation catalog for {page}"


@pytest.mark.parametrize("page", PAGES)
def test_page_is_at_least_95_percent_translated(page, shares):
    ok, n = shares[page]
    print(f"{page}: {ok}/{n} messages translated ({ok / n:.1%})")
    assert n > 0
    assert ok / n >= MIN_SHARE, (
        f"{page}: only {ok} of {n} messages ({ok / n:.1%}) have a current translation; "
        f"run `python3.11 dev.py translations` and translate the empty and fuzzy entries")


def test_translations_keep_roles_code_and_math():
    assert editions.check(sorted(editions.LOCALE.rglob("*.po"))) == 0


@pytest.mark.parametrize("case", [
    ("A {term}`query` and $Q$", "一个 {term}`查询 <query>` 和 $Q$", []),
    ("A {term}`query` and $Q$", "一个查询和 $Q$", ["roles"]),
    ("Use `torch.bmm`.", "用 `bmm`。", ["inline code"]),
    ("$a + b$ {cite:p}`k`", "$a+b$ {cite:p}`k`", ["inline math"]),
    ("See [the docs](https://x.org).", "见[文档](https://y.org)。", ["links"]),
    ("\n\\begin{aligned} x \\end{aligned}\n", "\n\\begin{aligned} y \\end{aligned}\n",
     ["a display equation"]),
])
def test_the_markup_check_finds_what_a_translation_lost(case):
    msgid, msgstr, kinds = case
    problems = editions.markup_problems(msgid, msgstr)
    assert [p.split(":")[0] for p in problems] == kinds, problems


def _html(build, edition, page):
    proc, html = build
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    path = html / editions.EDITIONS[edition] / f"{page}.html"
    assert path.exists(), f"the {edition} edition has no {page}.html"
    return path, BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


@pytest.mark.parametrize("page", PAGES)
def test_each_edition_has_the_page_in_its_language(page, build):
    _, en = _html(build, "en", page)
    _, zh = _html(build, "zh", page)
    assert en.html["lang"] == "en" and zh.html["lang"] == "zh-CN"
    # the prose is Chinese: every paragraph of the English page with more than a few words
    # is, on the Chinese page, a paragraph with Chinese in it (code, outputs and the
    # bibliography's entries are no paragraphs of the prose)
    def prose(soup):
        return [p.get_text() for p in soup.select("article p")
                if not p.find_parent(class_=["cell_output", "citation"])
                and "edition-switch" not in (p.get("class") or [])]
    en_prose, zh_prose = prose(en), prose(zh)
    assert len(en_prose) == len(zh_prose), f"{page}: the editions have different paragraphs"
    english = [e for e, z in zip(en_prose, zh_prose)
               if len(e.split()) > 6 and not CJK.search(z)]
    assert len(english) <= 0.05 * len(en_prose), f"{page}: paragraphs left in English: {english[:3]}"


@pytest.mark.parametrize("page", PAGES)
def test_language_links_lead_to_the_same_page_and_back(page, build):
    for edition, other in (("en", "zh"), ("zh", "en")):
        path, soup = _html(build, edition, page)
        links = soup.select("p.edition-switch a")
        assert len(links) == 1, f"{edition} {page}: expected one edition link"
        target = (path.parent / links[0]["href"]).resolve()
        assert target == _html(build, other, page)[0].resolve(), target
        back = BeautifulSoup(target.read_text(encoding="utf-8"), "html.parser")
        assert (target.parent / back.select_one("p.edition-switch a")["href"]).resolve() \
            == path.resolve()


@pytest.mark.parametrize("page", CHAPTERS)
def test_code_and_outputs_are_the_same_cells_in_both_editions(page, build):
    cells = {}
    for edition in ("en", "zh"):
        _, soup = _html(build, edition, page)
        cells[edition] = [c.get_text() for c in soup.select("div.cell_input, div.cell_output")]
    assert cells["en"] and cells["en"] == cells["zh"]


def test_the_chinese_search_index_holds_chinese_words(build):
    _, html = build
    index = (html / "zh" / "searchindex.js").read_text(encoding="utf-8")
    terms = json.loads(index[index.index("(") + 1:index.rindex(")")])["terms"]
    for word in ("注意力", "掩码", "查询"):  # split into words by jieba, Sphinx's zh splitter
        assert word in terms, f"{word} is not in the Chinese search index"


BOOK = {
    "_config.yml": """\
        title: A small book
        only_build_toc_files: true
        execute:
          execute_notebooks: "off"
        sphinx:
          config:
            locale_dirs: [locale/]
            gettext_compact: false
            gettext_location: false
        """,
    "_toc.yml": "format: jb-book\nroot: page\n",
    "page.md": "# Cats and dogs\n\nThe cat sat on the mat.\n\nThe dog ran in the park.\n",
}


def test_an_english_edit_shows_in_english_never_as_a_stale_translation(tmp_path):
    for name, text in BOOK.items():
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    assert editions.refresh(tmp_path, capture=True) == 0
    po = tmp_path / "locale" / "zh_CN" / "LC_MESSAGES" / "page.po"
    with po.open("rb") as f:
        catalog = read_po(f)
    chinese = {"Cats and dogs": "猫和狗", "The cat sat on the mat.": "猫坐在垫子上。",
               "The dog ran in the park.": "狗在公园里跑。"}
    for m in catalog:
        if m.id:
            m.string = chinese[m.id]
    with po.open("wb") as f:
        write_po(f, catalog)

    def zh_page():
        code, log = editions.build(tmp_path / "out", capture=True, root=tmp_path)
        assert code == 0, log[-3000:]
        return (tmp_path / "out" / "_build" / "html" / "zh" / "page.html").read_text("utf-8")

    page = zh_page()
    assert all(t in page for t in chinese.values())

    # the English sentence changes; the catalog is refreshed as dev.py translations does
    (tmp_path / "page.md").write_text(BOOK["page.md"].replace("ran in", "ran across"))
    assert editions.refresh(tmp_path, capture=True) == 0
    with po.open("rb") as f:
        entry = read_po(f).get("The dog ran across the park.")
    assert entry is not None and (entry.fuzzy or not entry.string)
    page = zh_page()
    assert "The dog ran across the park." in page  # the current English ...
    assert "狗在公园里跑。" not in page  # ... not the translation of the old sentence
    assert "猫坐在垫子上。" in page  # unchanged sentences stay translated
    share = editions.translated_share(tmp_path / "_build" / "gettext", po.parent)
    assert share == {"page": (2, 3)}


def _glossary_terms():
    """English term -> its Chinese term, from book/glossary.md (each definition starts with it)."""
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    lines = text.split("```{glossary}")[1].split("```")[0].splitlines()
    terms = {}
    for line, after in zip(lines, lines[1:]):
        if line.strip() and not line.startswith((" ", ":")) and after.startswith("  "):
            terms[line.strip()] = re.match(r"\s+([^\s.(（]+)", after).group(1)
    return terms


def test_translations_use_the_glossarys_chinese_terms():
    """A message that uses a glossary term in English uses its Chinese term in translation."""
    terms = _glossary_terms()
    assert terms["attention weights"] == "注意力权重" and len(terms) >= 30
    terms["score"] = "分"  # 分数 as a noun, 打分 or 得分 where English scores as a verb
    off = []
    for po in sorted(editions.LOCALE.rglob("*.po")):
        with po.open("rb") as f:
            catalog = read_po(f)
        for m in catalog:
            if not m.id or not m.string or m.fuzzy:
                continue
            prose = re.sub(r"\{[a-z:-]+\}`[^`]*`|`[^`]*`|\$[^$]*\$", " ", m.id).lower()
            for english, chinese in terms.items():
                if re.search(rf"\b{re.escape(english)}s?\b", prose) and chinese not in m.string:
                    off.append(f"{po.stem}: {english} -> {chinese}: {m.string[:60]}")
    assert off == [], "\n".join(off)
