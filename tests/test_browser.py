"""The built book in Chromium, beyond reading each page (tests/test_reading_en.py and
test_reading_zh.py do that): what search engines read, printing, the bundled Chinese font,
search, the chrome's buttons, screenshots.  tests/browsing.py says how pages are opened."""

import html
import os
import re
from pathlib import Path

import pytest
import yaml
from browsing import CHAPTERS, EDITIONS, LAPTOP, PAGES, PHONE, ROOT, SLIDER_CHAPTERS
from conftest import load_script
from reading import _contents_button_shows_the_section_links


@pytest.mark.parametrize("edition", sorted(EDITIONS))
def test_phone_contents_button_shows_the_sections(edition, visit):
    page = "notebooks/05_rule3_dot_product"
    where = f"{edition} {page} at {PHONE} px"
    v = visit(EDITIONS[edition] + page, PHONE)
    _contents_button_shows_the_section_links(v, where)
    assert v.errors == [], f"{where}: console errors {v.errors}"


# --- what search engines and browser tabs read of each page ---------------------------------

def test_pages_say_what_they_are_and_where_both_editions_live(build):
    """A description each, a title said once, a favicon, and absolute hreflang links (both
    editions, the page itself included) at the site's address: GitHub Pages of the
    repository in _config.yml, whose html_baseurl is the one place it is written."""
    _, site = build
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    owner, name = config["repository"]["url"].removeprefix("https://github.com/").split("/")
    base = config["sphinx"]["config"]["html_baseurl"]
    assert base == f"https://{owner.lower()}.github.io/{name}/", base
    descriptions = {}
    for edition, folder in EDITIONS.items():
        for page in PAGES:
            text = (site / f"{folder}{page}.html").read_text(encoding="utf-8")
            where = f"{edition} {page}"
            title = html.unescape(re.search(r"<title>(.*?)</title>", text, re.S).group(1))
            halves = title.split(" \u2014 ")
            assert len(halves) == 1 or halves[0] != halves[-1], f"{where}: title {title!r}"
            meta = re.search(r'<meta name="description" content="([^"]+)"', text)
            assert meta and len(meta.group(1)) >= 40, f"{where}: no description"
            descriptions.setdefault((edition, meta.group(1)), []).append(where)
            assert re.search(r'<link rel="icon" href="[^"]*favicon', text), f"{where}: no icon"
            links = dict(re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)"',
                                    text))
            assert links == {"en": f"{base}{page}.html", "zh-CN": f"{base}zh/{page}.html",
                             "x-default": f"{base}{page}.html"}, f"{where}: {links}"
            canonical = re.search(r'<link rel="canonical" href="([^"]+)"', text)
            assert canonical and canonical.group(1) == links["en" if edition == "en" else "zh-CN"]
    repeated = {d[:60]: w for (_, d), w in descriptions.items() if len(w) > 1}
    assert repeated == {}, f"pages sharing a description: {repeated}"


# --- print ------------------------------------------------------------------------------------

@pytest.mark.parametrize("edition", EDITIONS)
def test_printing_a_chapter(edition, visit, tmp_path):
    """A chapter printed to PDF (as "Save as PDF" does): solutions printed open without their
    "Click to hide" button, no code frame that could be left empty at the foot of a page,
    a slider printed as its picture."""
    pypdf = pytest.importorskip("pypdf")
    page = SLIDER_CHAPTERS[0]
    where = f"{edition} {page} printed"
    v = visit(EDITIONS[edition] + page, LAPTOP)
    hint = v.page.eval_on_selector(".solution button.toggle-button",
                                   "b => b.dataset.toggleHint || b.textContent")
    code = v.page.evaluate("""() => [...document.querySelectorAll(".solution pre")]
        .map(p => p.textContent.split("\\n")[0]).find(line => line.trim().length > 20)""")
    pdf = tmp_path / f"{edition}.pdf"
    v.page.pdf(path=str(pdf), format="A4", print_background=True)
    text = "".join(p.extract_text() for p in pypdf.PdfReader(pdf).pages)
    squeeze = lambda t: re.sub(r"\s+", "", t)  # noqa: E731 (PDF text breaks lines anywhere)
    assert hint and squeeze(hint) not in squeeze(text), f"{where}: {hint!r} is printed"
    assert code and squeeze(code) in squeeze(text), f"{where}: a solution's code is not printed"
    # what the print style sheet does, element by element (beforeprint not fired here: the
    # solutions are still closed, and print alone must open them)
    v.page.emulate_media(media="print")
    state = v.page.evaluate("""() => {
        const shown = el => el && getComputedStyle(el).display !== "none"
            && getComputedStyle(el).visibility !== "hidden"
            && el.getBoundingClientRect().height > 0;
        const solutions = [...document.querySelectorAll(".solution.toggle")];
        return {
            buttons: [...document.querySelectorAll("button.toggle-button")].filter(shown).length,
            closed: solutions.filter(s => ![...s.children].slice(1).some(shown)).length,
            solutions: solutions.length,
            frames: [...document.querySelectorAll(".cell_input, div.highlight")]
                .filter(f => getComputedStyle(f).breakInside !== "avoid").length,
            slider: [...document.querySelectorAll(".attnlib-slider")].map(s => [
                shown(s.querySelector("img")), shown(s.querySelector("input")),
                shown(s.querySelector("label"))]),
        };
    }""")
    assert state["solutions"] > 0 and state["closed"] == 0, f"{where}: {state}"
    assert state["buttons"] == 0 and state["frames"] == 0, f"{where}: {state}"
    assert state["slider"] and all(s == [True, False, False] for s in state["slider"]), \
        f"{where}: a slider should print as its picture alone: {state['slider']}"
    assert v.errors == []


# --- the bundled CJK font, the search page, the chrome ---------------------------------------

@pytest.mark.parametrize("page", ["book/glossary", "zh/notebooks/01_what_is_attention"])
def test_cjk_font_loads_offline_and_draws_chinese(page, visit):
    """The glossary's Chinese terms, and every page of the Chinese edition."""
    v = visit(page, PHONE)
    faces = v.page.evaluate("""async () => {
        const loaded = await document.fonts.load('16px "Attn CJK"', "注意力");
        return loaded.map(f => f.status);
    }""")
    assert faces == ["loaded"], f"the bundled CJK font did not load: {faces}"
    # the Chinese edition draws all its text with it, an English page its Chinese runs
    chinese = "main" if page.startswith("zh/") else "article span[lang|='zh']"
    family = v.page.evaluate(f"getComputedStyle(document.querySelector(\"{chinese}\")).fontFamily")
    assert family.startswith('"Attn CJK"'), family
    assert v.blocked == [] and v.errors == []


def test_english_page_does_not_download_the_cjk_font_for_its_edition_link(build, visit):
    _, site = build
    english = [p for p in PAGES
               if not re.search(r"[\u4e00-\u9fff]", _page_text(site / f"{p}.html"))]
    if not english:
        pytest.skip("every English page holds Chinese text")
    v = visit(english[0], LAPTOP)
    assert v.page.locator(".edition-switch a[lang='zh-CN']").count() == 1
    fonts = v.page.evaluate("performance.getEntriesByType('resource').map(r => r.name)"
                            ".filter(n => n.includes('NotoSansCJK'))")
    assert fonts == [], f"an English page without Chinese text downloads {fonts}"


@pytest.mark.parametrize("query", ["softmax", "scaling"])
def test_search_results_show_no_raw_tex(query, visit):
    v = visit("search", LAPTOP, query=f"?q={query}")
    v.page.wait_for_function(
        "(document.querySelector('#search-results p.search-summary') || {}).textContent"
        "?.includes('found')", timeout=30000)
    v.page.wait_for_load_state("networkidle")  # each result fetches its page for the summary
    results = v.page.locator("ul.search li").all_inner_texts()
    assert len(results) >= 3, results
    summaries = v.page.locator("ul.search li p.context").all_inner_texts()
    assert summaries, f"no summaries for {query!r}"
    tex = [s for s in summaries if re.search(r"\\[A-Za-z]+|\\[()\[\]]|\$\$", s)]
    assert tex == [], f"raw TeX in the search results for {query!r}: {tex}"
    assert v.errors == []


def test_tex_to_text_of_the_search_page(visit):
    v = visit("book/preface", LAPTOP)
    convert = "t => window.attnBookTexToText(t)"
    assert v.page.evaluate(convert, r"\(\operatorname{softmax}(QK^\top / \sqrt{E})\,V\)") \
        == "softmax(QKᵀ / √(E)) V"
    assert v.page.evaluate(convert, r"\[\alpha_{ij} = \frac{e^{s_{ij}}}{Z}\]") \
        == "α_ij = (e^s_ij)/(Z)"


def test_widget_manager_typesets_with_mathjax_3(visit):
    """html-manager's MathJax 2 call (`MathJax.Hub.Queue`) typesets with MathJax 3 (book.js)."""
    v = visit("notebooks/05_rule3_dot_product", LAPTOP)
    assert v.page.evaluate("typeof MathJax.Hub.Queue") == "function"
    v.page.evaluate("""() => {
        const el = document.createElement("p");
        el.id = "hub-probe";
        el.textContent = String.raw`\\(x^2 + y^2\\)`;
        document.querySelector("article.bd-article").appendChild(el);
        MathJax.Hub.Queue(["Typeset", MathJax.Hub, el]);
    }""")
    v.page.wait_for_selector("#hub-probe mjx-container", state="attached", timeout=10000)
    assert v.errors == []


def test_laptop_has_no_top_bar_repeating_the_search(visit):
    v = visit("book/preface", LAPTOP)
    assert not v.page.locator("#pst-header").is_visible(), "the 64 px top bar is back"
    assert v.page.locator(".bd-sidebar-primary .search-button-field").first.is_visible()
    assert v.page.evaluate("document.querySelector('.bd-header-article').getBoundingClientRect().top") < 5


def test_laptop_menu_button_collapses_and_restores_the_sidebar(visit):
    v = visit(CHAPTERS[0], LAPTOP)
    sidebar = v.page.locator("#pst-primary-sidebar")
    assert sidebar.is_visible()
    button = v.page.locator(".primary-toggle:visible")
    assert button.count() == 1
    button.first.click()
    v.page.wait_for_function(
        "document.querySelector('#pst-primary-sidebar').classList.contains('pst-sidebar-hidden')")
    button.first.click()
    v.page.wait_for_function(
        "!document.querySelector('#pst-primary-sidebar').classList.contains('pst-sidebar-hidden')")
    assert v.errors == []


# --- dropdowns, search, a screenshot ---------------------------------------------------------

def test_solution_dropdown_opens_on_click(visit):
    v = visit(CHAPTERS[0], LAPTOP)
    solution = v.page.locator(".solution.dropdown").first
    body = solution.locator("section").first
    assert not body.is_visible(), "the solution should start hidden"
    solution.locator("button.toggle-button").click()
    body.wait_for(state="visible", timeout=5000)
    assert body.is_visible() and len(body.inner_text()) > 20


@pytest.mark.parametrize("search,query", [("search", "softmax"), ("zh/search", "注意力"),
                                          ("zh/search", "掩码")])
def test_search_finds_pages(search, query, visit):
    """Search works in each edition (the Chinese index is split into words by jieba)."""
    v = visit(search, LAPTOP, query=f"?q={query}")
    v.page.wait_for_selector("ul.search li", timeout=20000)
    results = v.page.locator("ul.search li").all_inner_texts()
    assert len(results) >= 3, results
    assert v.errors == []


# --- search: every glossary headword, both editions -----------------------------------------

# the glossary's headwords, as the build reads them
search_dict = load_script("book/search_dict.py")


def _page_text(path: Path) -> str:
    """A built page's text as Sphinx indexes it: its article, without scripts or the link to
    the other edition (added after indexing)."""
    page = path.read_text(encoding="utf-8")
    article = page[page.index("<article"):page.rindex("</article>")]
    article = re.sub(r"<(script|style)\b.*?</\1>|<p class=\"edition-switch\">.*?</p>", " ",
                     article, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", article))


def _uses(text: str, headword: str) -> bool:
    """Whether a page's text holds the headword (as whole words where it is Latin)."""
    words = re.split(r"[\s-]+", headword)
    pattern = re.escape(words[0])
    for before, word in zip(words, words[1:]):  # "layer norm" is not LayerNorm; KV 缓存, KV缓存
        latin = re.search(r"\w$", before, re.A) and re.match(r"\w", word, re.A)
        pattern += (r"[\s-]+" if latin else r"\s*") + re.escape(word)
    if re.match(r"\w", headword, re.A):
        pattern = r"(?<!\w)" + pattern
    if re.search(r"\w$", headword, re.A):
        pattern += r"(?!\w)"
    return re.search(pattern, text, re.I) is not None


_SEARCH = """queries => queries.map(q => {
    const parsed = Search._parseQuery(q);
    return Search._performSearch(...parsed).reverse().map(r => [r[0], r[2]]);
})"""


@pytest.mark.parametrize("edition", EDITIONS)
def test_search_finds_every_glossary_headword(edition, build, visit):
    """Each headword of the glossary (English in the English edition, its Chinese name in the
    Chinese one, from book/glossary.md) finds the glossary and every page that uses it; a
    Chinese query of several words finds the pages that hold them all."""
    _, site = build
    entries = search_dict.glossary_entries()
    assert len(entries) >= 40, entries
    unnamed = [english for english, chinese, _ in entries if not chinese]
    assert unnamed == [], f"glossary entries not starting with their Chinese name: {unnamed}"
    headwords = [english if edition == "en" else chinese for english, chinese, _ in entries]
    texts = {page: _page_text(site / f"{EDITIONS[edition]}{page}.html") for page in PAGES}
    queries = headwords + (["查询和键", "注意力的权重"] if edition == "zh" else [])
    v = visit(EDITIONS[edition] + "search", LAPTOP)
    v.page.wait_for_function("typeof Search !== 'undefined' && Search.hasIndex()", timeout=20000)
    found = dict(zip(queries, v.page.evaluate(_SEARCH, queries)))
    missing = {}
    for query in queries:
        words = [query] if query in headwords else re.split(r"和|的", query)
        expected = {p for p in PAGES if all(_uses(texts[p], w) for w in words)}
        if query in headwords:
            expected.add("book/glossary")
        lost = expected - {docname for docname, _ in found[query]}
        if lost:
            missing[query] = sorted(lost)
    assert missing == {}, f"{edition}: searches that miss pages using the term: {missing}"
    assert v.errors == []


def test_search_lists_chapters_before_glossary_entries(visit):
    v = visit("search", LAPTOP)
    v.page.wait_for_function("typeof Search !== 'undefined' && Search.hasIndex()", timeout=20000)
    results = v.page.evaluate(_SEARCH, ["attention"])[0]
    kinds = ["entry" if anchor.startswith("#term-") else "page" for _, anchor in results]
    assert results[0][0].startswith("notebooks/"), results[:3]
    assert "entry" in kinds and "page" not in kinds[kinds.index("entry"):], results


@pytest.mark.parametrize("width", [PHONE, LAPTOP])
@pytest.mark.parametrize("edition", EDITIONS)
def test_screenshot_of_a_chapter(edition, width, visit, tmp_path):
    """Saves a screenshot (look at it: it is kept in $SCREENSHOT_DIR when that is set)."""
    out = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    v = visit(EDITIONS[edition] + "notebooks/05_rule3_dot_product", width)
    path = out / f"chapter-05-{edition}-{width}.png"
    v.page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 20_000
