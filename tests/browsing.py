"""The built book in a real browser (Debian's Chromium driven by Playwright), offline: what
the browser tests share (tests/test_browser.py, test_reading_en.py, test_reading_zh.py).

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

import contextlib
import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import editions, toc_files

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


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` on 127.0.0.1; yields its base URL (the `site` fixture in conftest)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def launch():
    """Chromium, headless (the `browser` fixture in conftest)."""
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield b
        finally:
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
