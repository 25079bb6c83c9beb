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
import html
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from conftest import editions, load_script, toc_files

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
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
           if not alt or _FILE_NAME.search(alt.strip())
           or len(alt.split()) < 3 and len(re.findall(r"[\u4e00-\u9fff]", alt)) < 6]  # words, 字
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


def _display_equations_fit_or_show_they_scroll(v, where):
    """Every display equation fits its column, or scrolls and shows it (book.js and book.css:
    the hidden side fades out, the scroll bar stays)."""
    hidden = v.page.evaluate("""() => [...document.querySelectorAll(
            "article.bd-article mjx-container[display='true']")]
        .filter(m => m.clientWidth > 0 && m.scrollWidth > m.clientWidth + 1)
        .filter(m => {
            const style = getComputedStyle(m);
            const mask = style.maskImage || style.webkitMaskImage || "";
            return !(m.classList.contains("attn-math-scrolls") && mask.includes("gradient")
                     && style.overflowX === "auto");
        })
        .map(m => `${m.scrollWidth} px in ${m.clientWidth} px: `
                  + (m.querySelector("mjx-assistive-mml") || m).textContent.slice(0, 60))""")
    assert hidden == [], f"{where}: equations cut off with no sign that they scroll:\n" + \
        "\n".join(hidden)


def _layout_stays_put(v, where):
    """Loading the page moves nothing a reader sees (cumulative layout shift below 0.1,
    Lighthouse's "good"; chapter 9's was 0.31 when its text narrowed as the sidebar came).
    While MathJax replaces TeX by formulas the text moves however it is built, by more on a
    slower machine: shifts while it typesets (book.js notes when) and in the second after,
    while its pictures are painted, are not counted."""
    shift = v.page.evaluate("""() => new Promise(done => {
        const data = document.documentElement.dataset;
        const start = Number(data.attnMathStart || Infinity), end = Number(data.attnMathEnd || 0);
        new PerformanceObserver((list, obs) => {
            obs.disconnect();
            done(list.getEntries().filter(e => !e.hadRecentInput
                                         && !(e.startTime >= start && e.startTime <= end + 1000))
                 .reduce((a, e) => a + e.value, 0));
        }).observe({type: "layout-shift", buffered: true});
        setTimeout(() => done(0), 500);  // no shift at all: no entries, no callback
    })""")
    assert shift < 0.1, f"{where}: the layout shifts by {shift:.3f} while the page loads"


def _parts_say_their_language(v, where, edition):
    """Chinese text on an English page, and English image descriptions on a Chinese page,
    carry lang (WCAG 3.1.2)."""
    unmarked = v.page.evaluate("""chinese => {
        const out = [];
        const langOf = el => (el.closest("[lang]") || document.documentElement).lang;
        if (chinese) {
            for (const img of document.querySelectorAll("article.bd-article img[alt]")) {
                if (/[A-Za-z]/.test(img.alt) && !/[\u4e00-\u9fff]/.test(img.alt)
                        && !langOf(img).startsWith("en")) out.push(img.alt.slice(0, 40));
            }
        } else {
            const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            while (walk.nextNode()) {
                const node = walk.currentNode, el = node.parentElement;
                if (!/[\u4e00-\u9fff]/.test(node.textContent) || !el
                        || el.closest("script, style, .math, mjx-container")) continue;
                if (!langOf(el).startsWith("zh")) out.push(node.textContent.trim().slice(0, 40));
            }
        }
        return out;
    }""", edition == "zh")
    assert unmarked == [], f"{where}: text in another language without lang: {unmarked}"


# axe-core, as axe-playwright-python bundles it; the rules whose result depends on colours
# are run again in dark mode
AXE_SCRIPT = pytest.importorskip("axe_playwright_python.base").AXE_SCRIPT
COLOUR_RULES = ["color-contrast", "link-in-text-block"]


# axe checks each element; a chapter has some 10,000, most of them code tokens and MathJax
# glyphs.  Before axe runs, the page keeps one code token of each kind (class) per kind of
# box (code, output, in an exercise or not), which have the same colours, and drops MathJax's
# drawing of each formula (aria-hidden, drawn in its surrounding text's colour; the
# assistive MathML a screen reader reads stays): ch09 then takes seconds, not a minute.
_THIN_FOR_AXE = """() => {
    const seen = new Set();
    for (const token of document.querySelectorAll("article pre span")) {
        const box = token.isConnected && token.closest("pre");
        if (!box) continue;  // inside a token already dropped
        const key = (box.closest(".admonition") ? "a" : "") + (box.closest(".cell_output")
            ? "o" : "") + token.className;
        if (seen.has(key)) token.remove(); else seen.add(key);
    }
    document.querySelectorAll("mjx-container > mjx-math").forEach(m => m.remove());
}"""


def _axe(v, rules=None):
    """axe's serious and critical violations on the page as it is now: "rule: node" lines."""
    if not v.page.evaluate("typeof window.axe !== 'undefined'"):
        v.page.evaluate(AXE_SCRIPT)
    options = {"resultTypes": ["violations"], "preload": False}  # preload: CSS files, unused
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    violations = v.page.evaluate("o => axe.run(document, o).then(r => r.violations)", options)
    return [f"{x['id']} ({x['impact']}): {node['target']} {node.get('failureSummary', '')[:120]}"
            for x in violations if x["impact"] in ("serious", "critical") for node in x["nodes"]]


def _no_serious_axe_violations(v, where, colours=True):
    """Zero serious or critical axe violations, in light mode and (its colour rules) in dark.
    It thins the page out first (see _THIN_FOR_AXE): the last check of a visit but the menu.

    Colours do not depend on the width, what is shown does: the laptop's visit checks them
    (article and sidebar, light and dark); the phone's runs every other rule (touch targets,
    landmarks, the menu's buttons), `colours=False`; its header's buttons have no text."""
    v.page.evaluate(_THIN_FOR_AXE)
    # no colour caught halfway through a transition (the theme fades colours between modes)
    v.page.add_style_tag(content="*, *::before, *::after { transition: none !important; "
                                 "animation: none !important; }")
    if not colours:
        v.page.evaluate(AXE_SCRIPT)
        # the rules axe runs by default (not its experimental or AAA ones), less the colours'
        rules = v.page.evaluate("""ids => axe.getRules().filter(r => r.enabled !== false
            && !r.tags.includes("experimental") && !r.tags.includes("wcag2aaa")
            && !ids.includes(r.ruleId)).map(r => r.ruleId)""", COLOUR_RULES)
        found = _axe(v, rules)
    else:
        found = _axe(v)
        v.page.evaluate("document.documentElement.dataset.theme = 'dark'")
        found += [f"dark mode: {x}" for x in _axe(v, COLOUR_RULES)]
        v.page.evaluate("document.documentElement.dataset.theme = 'light'")
    assert found == [], f"{where}: axe violations:\n" + "\n".join(found)


FIGURES = {}  # (edition, page, width) -> the figures' sizes, measured by the reading tests


def _measure_figures(v, edition, page, width):
    FIGURES[edition, page, width] = v.page.eval_on_selector_all(
        "article.bd-article .cell_output img, article.bd-article .attnlib-slider img",
        """imgs => imgs.filter(i => i.getBoundingClientRect().width > 0).map(i => ({
            src: i.getAttribute("src"), natural: i.naturalWidth,
            shown: i.getBoundingClientRect().width}))""")


@functools.cache
def _book_folder(edition: str) -> str:
    """Where the edition's notebooks are in the repository, as its Colab button says."""
    config = ROOT / "_config.yml"
    if edition == "zh":
        import tempfile
        config = editions.zh_config(Path(tempfile.mkdtemp()))
    path = yaml.safe_load(config.read_text(encoding="utf-8"))["repository"].get("path_to_book")
    return f"{path.strip('/')}/" if path else ""


def _colab_link(v, where, chapter, edition="en"):
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    expected = (f"https://colab.research.google.com/github/{repo.removeprefix('https://github.com/')}"
                f"/blob/main/{_book_folder(edition)}{chapter}.ipynb")
    hrefs = v.page.eval_on_selector_all("a", "as => as.map(a => a.href)")
    assert expected in hrefs, f"{where}: no Colab link {expected}"


@pytest.mark.parametrize("edition,page", EDITION_PAGES)
def test_phone_reading(edition, page, visit):
    """Offline, no sideways scrolling with everything opened, every display equation fits or
    shows that it scrolls, no serious axe violation (colours: the laptop's test), a menu
    button that works."""
    where = f"{edition} {page} at {PHONE} px"
    v = visit(EDITIONS[edition] + page, PHONE)
    _loads_offline(v, where)
    v.expand_all()
    _never_scrolls_sideways(v, where)
    _display_equations_fit_or_show_they_scroll(v, where)
    _measure_figures(v, edition, page, PHONE)
    _no_serious_axe_violations(v, where, colours=False)
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
    that move their pictures, the Colab link, parts in another language marked, no serious
    axe violation (light and dark)."""
    where = f"{edition} {page} at {LAPTOP} px"
    v = visit(EDITIONS[edition] + page, LAPTOP)
    _loads_offline(v, where)
    _layout_stays_put(v, where)
    if page in FORMULA_PAGES:
        _formulas_render(v, where)
    if page in CHAPTERS:
        _colab_link(v, where, page, edition)
    _sliders_change_their_pictures(v, where, page)
    v.expand_all()
    _blocks_fit_the_column(v, where)
    _figures_have_meaningful_alt_text(v, where)
    _parts_say_their_language(v, where, edition)
    _measure_figures(v, edition, page, LAPTOP)
    _no_serious_axe_violations(v, where)
    assert v.errors == [], f"{where}: console errors {v.errors}"


# --- figures: sharp when zoomed, labels readable on a phone ---------------------------------

MIN_DENSITY = 2  # stored pixels per CSS pixel shown: a zoomed figure or a HiDPI screen stays sharp
MIN_LABEL_PX = 9  # CSS px of a figure's smallest text on a phone
_NAMED_SIZES = {"xx-small": 0.579, "x-small": 0.694, "small": 0.833, "medium": 1.0,
                "large": 1.2, "x-large": 1.44, "xx-large": 1.728}
_PNG_IN_HTML = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def _png_dpi(data: bytes) -> float:
    """The resolution a PNG says it has (its pHYs chunk; matplotlib writes the figure's dpi)."""
    at = 8
    while at < len(data):
        length, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
        if kind == b"pHYs":
            per_metre = int.from_bytes(data[at + 8:at + 12], "big")
            return round(per_metre * 0.0254, 1)
        at += 12 + length
    return 72.0  # PNG's default when it says nothing


def _stored_figures():
    """sha256 of every figure stored in a chapter -> (where, dpi, smallest text in points).

    The smallest text is what the notebook asks matplotlib for: the font size it sets (the
    last `rcParams["font.size"] = N` at or before the cell, else matplotlib's 10) or any
    smaller `fontsize=`, `labelsize=` or `font_size=` in the cell itself.
    """
    import base64
    import hashlib

    import nbformat

    figures = {}
    for chapter in CHAPTERS:
        nb = nbformat.read(ROOT / f"{chapter}.ipynb", as_version=4)
        base = 10.0
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            for m in re.finditer(r"font\.size\W+(\d+(?:\.\d+)?)", cell.source):
                base = float(m.group(1))
            sizes = [base]
            for m in re.finditer(r"(?:fontsize|labelsize|font_size)\s*=\s*"
                                 r"(\d+(?:\.\d+)?|[\"'][a-z-]+[\"'])", cell.source):
                value = m.group(1).strip("\"'")
                sizes.append(float(value) if value[0].isdigit()
                             else base * _NAMED_SIZES.get(value, 1.0))
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                pngs = ([data["image/png"]] if "image/png" in data else []) + \
                    _PNG_IN_HTML.findall(data.get("text/html", ""))
                for png in pngs:
                    raw = base64.b64decode(png)
                    figures[hashlib.sha256(raw).hexdigest()] = (
                        f"{chapter} cell {i}", _png_dpi(raw), min(sizes))
    return figures


_FIGURE_PROBLEMS: dict[str, list[str]] = {}


def _figure_problems(build, visit) -> dict[str, list[str]]:
    """Every figure of every chapter, as the built page shows it at 390 and 1280 px, measured
    once: ``density`` lists those with fewer than two stored pixels per CSS pixel, ``labels``
    those whose smallest text is under 9 CSS px on the phone."""
    import base64
    import hashlib

    if _FIGURE_PROBLEMS:
        return _FIGURE_PROBLEMS
    _, site = build
    stored = _stored_figures()
    assert stored, "no stored figure found: is the test reading the notebooks?"
    density_problems, label_problems, seen = [], [], 0
    for page in CHAPTERS:
        for width in (PHONE, LAPTOP):
            if ("en", page, width) not in FIGURES:  # run alone: measure them here
                v = visit(page, width)
                _measure_figures(v, "en", page, width)
            for fig in FIGURES["en", page, width]:
                src = fig["src"]
                raw = (base64.b64decode(src.split(",", 1)[1]) if src.startswith("data:")
                       else (site / page).parent.joinpath(src).read_bytes())
                where, dpi, points = stored.get(  # else: the build predates the notebook
                    hashlib.sha256(raw).hexdigest(),
                    (f"{page} {src[-20:]} (not in the notebook)", _png_dpi(raw), 10.0))
                seen += 1
                density = fig["natural"] / fig["shown"]
                if density < MIN_DENSITY - 0.01:
                    density_problems.append(
                        f"{where} at {width} px: {fig['natural']} px shown at "
                        f"{fig['shown']:.0f} CSS px ({density:.2f} px per CSS px)")
                label = points * dpi / 72 / density
                if width == PHONE and label < MIN_LABEL_PX - 0.05:
                    label_problems.append(f"{where} at {width} px: its {points:g} pt text is "
                                          f"{label:.1f} CSS px (a narrower figure or larger text)")
    assert seen > 0, "no figure measured in the built pages"
    _FIGURE_PROBLEMS.update(density=density_problems, labels=label_problems)
    return _FIGURE_PROBLEMS


def test_figures_are_stored_at_twice_their_displayed_size(build, visit):
    """At least two stored pixels per CSS pixel for every figure at both widths: figures are
    stored at twice their display size when the notebooks are executed with
    book/ipython_kernel_config.py (dev.py execute does it), slider frames by
    attnlib.widgets.render_frames."""
    problems = _figure_problems(build, visit)["density"]
    assert problems == [], ("figures not sharp (re-execute the notebooks with "
                            "dev.py execute):\n" + "\n".join(problems))


@pytest.mark.xfail(strict=True, reason="open work: some figures' text is "
                   "still under 9 CSS px on a phone; this passes, and must then lose this "
                   "mark, once their fonts are enlarged or the figures narrowed")
def test_figure_text_is_at_least_9_css_px_on_a_phone(build, visit):
    problems = _figure_problems(build, visit)["labels"]
    assert problems == [], "figure text too small on a phone:\n" + "\n".join(problems)


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
