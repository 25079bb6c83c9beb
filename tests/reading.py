"""Every page as a reader reads it, one visit per page and width: the checks that
tests/test_reading_en.py and test_reading_zh.py run on each page of their edition (two files,
so that the two test workers read the editions side by side).

One visit per page and width runs every check of that width, so that the checks see the page
after a reader's interactions too (solutions opened, sliders moved, the menu tapped) and the
console stays free of errors throughout.
"""

import functools
import re
from pathlib import Path

import pytest
import yaml
from browsing import CHAPTERS, EDITIONS, LAPTOP, PAGES, PHONE, ROOT, SLIDER_CHAPTERS
from conftest import editions

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


def phone_reading(edition, page, visit):
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


def laptop_reading(edition, page, visit):
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
