"""The built book in a real browser (Debian's Chromium driven by Playwright), offline.

The book is served from 127.0.0.1; every request to any other host is blocked
and recorded, so a page that needs a CDN to be readable fails here.  Where
Chromium is absent these tests skip and say why, except under CI (CI=true),
where .ci/run installs it and a missing browser is an error.
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
from conftest import toc_files

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
# Console messages that come from the toolchain, not from the book, and change nothing a reader
# sees: sphinx-book-theme and jupyter-book both register sphinx-thebe, so its one-line inline
# script (a constant naming thebe's URL; thebe itself is never loaded, the launch buttons go to
# Colab) is included twice; and pydata-sphinx-theme reports an empty stored light/dark mode on
# a first visit before falling back to "auto".
# On pages with widgets, html-manager 1.0.6 calls MathJax 2's `MathJax.Hub.Queue` to typeset
# widget output; the book uses MathJax 3, whose formulas are typeset already (checked below).
HARMLESS = [r"Identifier 'THEBE_JS_URL' has already been declared",
            r"Got invalid theme mode: \. Resetting to auto\.",
            r"Cannot read properties of undefined \(reading 'Queue'\)"]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests: install Debian's chromium (.ci/run does)")
    pytest.skip("Chromium is not installed (apt-get install -y chromium); .ci/run installs it "
                "so these tests run in CI", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


CHAPTERS = [p for p in toc_files() if p.startswith("notebooks/")]


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
    """A page opened with outside requests blocked; records console errors and blocked URLs."""

    def __init__(self, browser, url):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
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

    def real_errors(self):
        return [e for e in self.errors
                if not any(re.search(h, e) for h in HARMLESS)
                and "net::ERR_FAILED" not in e]  # a blocked outside request, listed in .blocked


@pytest.mark.parametrize("page", toc_files())
def test_page_loads_offline_without_errors(page, site, browser):
    v = Visit(browser, f"{site}/{page}.html")
    try:
        assert v.page.title(), page
        assert v.real_errors() == [], f"{page}: console errors {v.real_errors()}"
        # every image has loaded (a broken image has naturalWidth 0)
        broken = v.page.eval_on_selector_all(
            "img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert broken == [], f"{page}: images not loaded {broken}"
        # the page is readable: its main text is there even with outside hosts blocked
        assert len(v.page.inner_text("main")) > 200
    finally:
        v.page.close()


@pytest.mark.parametrize("page", [p for p in toc_files() if p.startswith("notebooks/")]
                         + ["book/notation", "book/glossary"])
def test_formulas_render(page, site, browser):
    v = Visit(browser, f"{site}/{page}.html")
    try:
        v.page.wait_for_selector("mjx-container", state="attached", timeout=20000)
        assert v.page.locator("mjx-container").count() > 0
        text = v.page.inner_text("main")
        assert "$$" not in text and "\\frac" not in text, f"{page}: raw TeX left in the page"
    finally:
        v.page.close()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_colab_link(chapter, site, browser):
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    expected = (f"https://colab.research.google.com/github/{repo.removeprefix('https://github.com/')}"
                f"/blob/main/{chapter}.ipynb")
    v = Visit(browser, f"{site}/{chapter}.html")
    try:
        hrefs = v.page.eval_on_selector_all("a", "as => as.map(a => a.href)")
        assert expected in hrefs, f"{chapter}: no Colab link {expected}"
    finally:
        v.page.close()


def test_solution_dropdown_opens_on_click(site, browser):
    v = Visit(browser, f"{site}/{CHAPTERS[0]}.html")
    try:
        solution = v.page.locator(".solution.dropdown").first
        body = solution.locator("section").first
        assert not body.is_visible(), "the solution should start hidden"
        solution.locator("button.toggle-button").click()
        body.wait_for(state="visible", timeout=5000)
        assert body.is_visible() and len(body.inner_text()) > 20
    finally:
        v.page.close()


@pytest.mark.parametrize("chapter", ["notebooks/05_rule3_dot_product", "notebooks/07_multi_head"])
def test_saved_widget_state_renders_offline(chapter, site, browser):
    v = Visit(browser, f"{site}/{chapter}.html")
    try:
        v.page.wait_for_selector(".widget-slider", state="attached", timeout=20000)
        assert v.page.locator(".widget-slider").count() == 1, "the widget must be drawn once"
        assert v.blocked == [], f"outside requests: {v.blocked}"
        assert v.real_errors() == [], v.real_errors()
    finally:
        v.page.close()


def test_search_finds_softmax(site, browser):
    v = Visit(browser, f"{site}/search.html?q=softmax")
    try:
        v.page.wait_for_selector("ul.search li", timeout=20000)
        results = v.page.locator("ul.search li").all_inner_texts()
        assert len(results) >= 3, results
        assert v.real_errors() == []
    finally:
        v.page.close()


def test_screenshot_of_a_chapter(site, browser, tmp_path):
    """Saves a screenshot (look at it: it is kept in $SCREENSHOT_DIR when that is set)."""
    out = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    v = Visit(browser, f"{site}/notebooks/05_rule3_dot_product.html")
    try:
        v.page.wait_for_selector("mjx-container", state="attached", timeout=20000)
        path = out / "chapter-05.png"
        v.page.screenshot(path=str(path), full_page=False)
        assert path.stat().st_size > 20_000
    finally:
        v.page.close()
