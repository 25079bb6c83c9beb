"""The built book in a real browser (Debian's Chromium driven by Playwright), offline.

The book is served from 127.0.0.1; every request to any other host is blocked
and recorded, so a page that needs a CDN to be readable fails here.  Every page
in _toc.yml is read in both editions (English, and Chinese under zh/) at two
widths: a phone (390 px, touch) and a laptop (1280 px).  Where Chromium is
absent these tests skip and say why, except under CI (CI=true), where .ci/run
installs it and a missing browser is an error.

There is no list of "harmless" console messages: every page must log zero
errors.  The three the toolchain used to log are fixed at their cause (see
book/_ext/book_assets.py and book/static/book.js).
"""

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from conftest import editions, toc_files

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE, LAPTOP = 390, 1280

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests: install Debian's chromium (.ci/run does)")
    pytest.skip("Chromium is not installed (apt-get install -y chromium); .ci/run installs it "
                "so these tests run in CI", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


PAGES = toc_files()
EDITIONS = editions.EDITIONS  # edition -> its folder in the built site
CHAPTERS = [p for p in PAGES if p.startswith("notebooks/")]
# chapters whose interactive figure (a temperature or head slider) must work without a kernel
SLIDER_CHAPTERS = [p for p in CHAPTERS if re.match(r"notebooks/0[57]_", p)]


@pytest.fixture(scope="module")
def site(build):
    """Serve the built HTML on 127.0.0.1 and yield its base URL."""
    proc, html = build
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


class Visit:
    """A page opened with outside requests blocked; records console errors and blocked URLs.

    `width` 390 opens it as a phone (touch, mobile viewport), 1280 as a laptop.  The visit
    waits until MathJax has typeset the page, so layout checks see the final formulas.
    """

    def __init__(self, browser, url, width=LAPTOP):
        phone = width < 992
        self.context = browser.new_context(
            viewport={"width": width, "height": 844 if phone else 900},
            is_mobile=phone, has_touch=phone)
        self.page = self.context.new_page()
        self.errors, self.blocked = [], []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(r):
            host = urlparse(r.request.url).hostname
            if host in ("127.0.0.1", None):
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)
        self.page.goto(url, wait_until="load")
        # book.js sets data-attn-math-done once MathJax has typeset the page and wide inline
        # formulas are boxed; pages without formulas load no MathJax
        self.page.wait_for_function(
            "!window.MathJax || document.documentElement.dataset.attnMathDone === 'true'",
            timeout=30000)
        self.page.evaluate("document.fonts.ready.then(() => true)")
        self.page.wait_for_timeout(300)  # widgets and late scripts

    def expand_all(self):
        """Open what a reader can open: solutions, hidden inputs and outputs."""
        self.page.evaluate("""() => {
            document.querySelectorAll("details").forEach(d => { d.open = true; });
            document.querySelectorAll(".toggle-hidden").forEach(
                e => e.classList.remove("toggle-hidden"));
        }""")
        self.page.wait_for_timeout(200)

    def close(self):
        self.context.close()


@pytest.fixture
def visit(site, browser):
    opened = []

    def open_(page, width=LAPTOP, query=""):
        v = Visit(browser, f"{site}/{page}.html{query}", width)
        opened.append(v)
        return v

    yield open_
    for v in opened:
        v.close()


# --- every page of both editions, phone and laptop ---------------------------------------------
#
# One visit per page and width runs every check of that width, so that the checks see the page
# after a reader's interactions too (solutions opened, sliders moved, the menu tapped) and the
# console stays free of errors throughout.

EDITION_PAGES = [(edition, page) for edition in EDITIONS for page in PAGES]
FORMULA_PAGES = set(CHAPTERS) | {"book/notation", "book/glossary"}


def _loads_offline(v, where):
    assert v.page.title(), where
    assert v.blocked == [], f"{where}: requests to other hosts {v.blocked}"
    # every image has loaded (a broken image has naturalWidth 0)
    broken = v.page.eval_on_selector_all(
        "img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    assert broken == [], f"{where}: images not loaded {broken}"
    # the page is readable: its main text is there even with outside hosts blocked
    assert len(v.page.inner_text("main")) > 200, where


def _never_scrolls_sideways(v, where):
    widths = v.page.evaluate("""() => {
        const W = document.documentElement.clientWidth;
        // the widest elements, to say what widens the page
        const culprits = [...document.querySelectorAll("main *")]
          .filter(e => e.getBoundingClientRect().right > W + 1 && !e.closest("pre, .math, mjx-container, .bd-sidebar-secondary, dialog"))
          .slice(0, 5)
          .map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join(".")}: `
                    + `${(e.textContent || "").trim().slice(0, 60)}`);
        return {scroll: document.documentElement.scrollWidth, client: W, culprits};
    }""")
    assert widths["scroll"] <= widths["client"], (
        f"{where}: the page is {widths['scroll']} px wide on a {widths['client']} px phone; "
        f"wide elements: {widths['culprits']}")


def _menu_button_shows_the_chapter_links(v, where):
    titles = v.page.eval_on_selector_all(
        "nav.bd-docs-nav a.reference.internal", "as => as.map(a => a.textContent.trim())")
    assert len(titles) >= len(PAGES) - 1, f"{where}: the sidebar lists {titles}"
    nav_link = "nav.bd-docs-nav a.reference.internal"
    assert not any(v.page.locator(nav_link, has_text=t).first.is_visible() for t in titles), \
        f"{where}: the sidebar's chapter links should start hidden on a phone"
    buttons = v.page.locator(".primary-toggle:visible")
    assert buttons.count() == 1, f"{where}: expected one visible menu button on a phone"
    buttons.first.tap()
    v.page.locator(nav_link, has_text=titles[-1]).first.wait_for(state="visible", timeout=5000)
    hidden = [t for t in titles if not v.page.locator(nav_link, has_text=t).first.is_visible()]
    assert hidden == [], f"{where}: after a tap on the menu button these stay hidden: {hidden}"


def _contents_button_shows_the_section_links(v, where):
    """The "On this page" button of a phone shows the page's own section links."""
    toc_link = ".bd-sidebar-secondary nav.page-toc a"
    sections = v.page.eval_on_selector_all(toc_link, "as => as.map(a => a.textContent.trim())")
    assert len(sections) >= 3, f"{where}: the page's contents list {sections}"
    first = v.page.locator(toc_link).first
    assert not first.is_visible(), f"{where}: the section links should start hidden on a phone"
    buttons = v.page.locator(".secondary-toggle:visible")
    assert buttons.count() == 1, f"{where}: expected one visible contents button on a phone"
    buttons.first.tap()
    first.wait_for(state="visible", timeout=5000)


def _blocks_fit_the_column(v, where):
    """No code cell, output or display equation is wider than the text column."""
    too_wide = v.page.evaluate("""() => {
        const article = document.querySelector("article.bd-article");
        const column = article.getBoundingClientRect();
        const blocks = document.querySelectorAll(
            "article.bd-article pre, article.bd-article .cell_output table, "
            + "article.bd-article div.math, article.bd-article mjx-container[display='true']");
        const out = [];
        for (const el of blocks) {
            const r = el.getBoundingClientRect();
            if (r.width === 0) continue;  // hidden (a closed solution dropdown)
            const overflow = el.scrollWidth - el.clientWidth;
            const inner = el.tagName === "MJX-CONTAINER"
                ? el.querySelector("mjx-math").getBoundingClientRect().width : r.width;
            if (overflow > 1 || r.right > column.right + 1 || inner > column.width + 1) {
                out.push(`${el.tagName.toLowerCase()} ${Math.round(Math.max(inner, r.width + overflow))}`
                         + ` px in a ${Math.round(column.width)} px column: `
                         + (el.textContent || "").trim().slice(0, 70));
            }
        }
        return out;
    }""")
    assert too_wide == [], f"{where}: blocks wider than the column:\n" + "\n".join(too_wide)


_FILE_NAME = re.compile(r"(^|/)[\w.-]*\.(png|jpe?g|svg|gif|webp)$|^[0-9a-f]{16,}", re.I)


def _figures_have_meaningful_alt_text(v, where):
    alts = v.page.eval_on_selector_all(
        "article.bd-article img", "imgs => imgs.map(i => [i.getAttribute('alt'), i.src.slice(0, 80)])")
    bad = [(alt, src) for alt, src in alts
           if not alt or _FILE_NAME.search(alt.strip()) or len(alt.split()) < 3]
    assert bad == [], f"{where}: figures without a description (alt, src): {bad}"


def _formulas_render(v, where):
    assert v.page.locator("mjx-container").count() > 0, f"{where}: no typeset formula"
    text = v.page.inner_text("main")
    assert "$$" not in text and "\\frac" not in text, f"{where}: raw TeX left in the page"


def _sliders_change_their_pictures(v, where, page):
    """Each static slider (`div.attnlib-slider`: a range input and one image) works offline."""
    sliders = v.page.locator("div.attnlib-slider")
    if page in SLIDER_CHAPTERS:
        assert sliders.count() >= 1, f"{where}: its interactive figure has no static slider"
    for i in range(sliders.count()):
        slider = sliders.nth(i)
        assert slider.locator("img").count() == 1, f"{where}: slider {i} must hold one image"
        image, knob = slider.locator("img"), slider.locator("input[type=range]")
        knob.scroll_into_view_if_needed()
        before = (knob.input_value(), image.get_attribute("src"), image.get_attribute("alt"))
        knob.focus()
        v.page.keyboard.press("End")  # a reader moving the knob: fires `input` events
        if knob.input_value() == before[0]:
            v.page.keyboard.press("Home")
        after = (knob.input_value(), image.get_attribute("src"), image.get_attribute("alt"))
        assert after[0] != before[0], f"{where}: slider {i} did not move"
        assert after[1] != before[1], f"{where}: slider {i} moved but its picture stayed"
        assert after[2] and after[2] != before[2], f"{where}: slider {i}'s alt text stayed"


def _colab_link(v, where, chapter):
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    expected = (f"https://colab.research.google.com/github/{repo.removeprefix('https://github.com/')}"
                f"/blob/main/{chapter}.ipynb")
    hrefs = v.page.eval_on_selector_all("a", "as => as.map(a => a.href)")
    assert expected in hrefs, f"{where}: no Colab link {expected}"


@pytest.mark.parametrize("edition,page", EDITION_PAGES)
def test_phone_reading(edition, page, visit):
    """Offline, no sideways scrolling with everything opened, a menu button that works."""
    where = f"{edition} {page} at {PHONE} px"
    v = visit(EDITIONS[edition] + page, PHONE)
    _loads_offline(v, where)
    v.expand_all()
    _never_scrolls_sideways(v, where)
    _menu_button_shows_the_chapter_links(v, where)
    assert v.errors == [], f"{where}: console errors {v.errors}"


@pytest.mark.parametrize("edition", sorted(EDITIONS))
def test_phone_contents_button_shows_the_sections(edition, visit):
    page = "notebooks/05_rule3_dot_product"
    where = f"{edition} {page} at {PHONE} px"
    v = visit(EDITIONS[edition] + page, PHONE)
    _contents_button_shows_the_section_links(v, where)
    assert v.errors == [], f"{where}: console errors {v.errors}"


@pytest.mark.parametrize("edition,page", EDITION_PAGES)
def test_laptop_reading(edition, page, visit):
    """Offline, formulas typeset, every block fits the column, figures described, sliders
    that move their pictures, the Colab link."""
    where = f"{edition} {page} at {LAPTOP} px"
    v = visit(EDITIONS[edition] + page, LAPTOP)
    _loads_offline(v, where)
    if page in FORMULA_PAGES:
        _formulas_render(v, where)
    if page in CHAPTERS:
        _colab_link(v, where, page)
    _sliders_change_their_pictures(v, where, page)
    v.expand_all()
    _blocks_fit_the_column(v, where)
    _figures_have_meaningful_alt_text(v, where)
    assert v.errors == [], f"{where}: console errors {v.errors}"


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
    family = v.page.evaluate("getComputedStyle(document.querySelector('main')).fontFamily")
    assert family.startswith('"Attn CJK"'), family
    assert v.blocked == [] and v.errors == []


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
