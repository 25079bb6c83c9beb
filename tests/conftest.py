"""Shared fixtures: every device test runs on the CPU, and on CUDA when there is one."""

import importlib.util
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]

# Without a GPU, chapter 12's Triton kernels run through Triton's interpreter, which must be
# chosen before triton is first imported (torch.compile may import it): so here, first.
# torch.compile on the CPU does not use Triton and works the same with it set.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


def toc_files() -> list[str]:
    """Every page of the book in _toc.yml order, as paths without suffix (book/preface, ...)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    """A torch device; CUDA is added automatically where available."""
    return torch.device(request.param)


@pytest.fixture
def gen():
    """A seeded CPU generator, so each test's random inputs are fixed."""
    return torch.Generator().manual_seed(1234)


def load_script(relative: str):
    """Import one of the book's scripts (book/editions.py, book/fonts/subset_cjk.py) by path."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


editions = load_script("book/editions.py")  # builds the English and the Chinese edition


@pytest.fixture(scope="session")
def build(tmp_path_factory):
    """Both editions (``jupyter-book build --all -W --keep-going`` each), once, in a temporary
    folder: English in html/, Chinese in html/zh/.

    Returns the finished build (``returncode`` and the two builds' log as ``stdout``) and
    the folder with the HTML pages.

    Under pytest-xdist the workers share one build: the first to ask builds it in the run's
    common temporary folder, holding a file lock; the others wait for it and read it.
    """
    import json

    from filelock import FileLock

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        out = tmp_path_factory.mktemp("book")
        code, log = editions.build(out, capture=True)
        return SimpleNamespace(returncode=code, stdout=log, stderr=""), out / "_build" / "html"
    shared = tmp_path_factory.getbasetemp().parent / "book-shared"
    shared.mkdir(exist_ok=True)
    done = shared / "build.json"
    with FileLock(str(shared / "build.lock")):
        if not done.exists():
            code, log = editions.build(shared, capture=True)
            done.write_text(json.dumps({"returncode": code, "log": log}), encoding="utf-8")
    result = json.loads(done.read_text(encoding="utf-8"))
    return (SimpleNamespace(returncode=result["returncode"], stdout=result["log"], stderr=""),
            shared / "_build" / "html")


# the order of the run ------------------------------------------------------------------------

# The files that take longest (measured with --durations), longest first; the rest follow in
# the usual order.  `dev.py test` runs two xdist workers that take whole files in the order of
# the collection, so these go first and the workers end together.  The first browser file
# builds the book and the second waits for it: a notebook comes between them.
LONGEST_FIRST = ["tests/test_reading_en.py", "notebooks/11_positions_and_masks.ipynb",
                 "tests/test_reading_zh.py", "notebooks/06_rules_compared.ipynb",
                 "tests/test_editions.py", "tests/test_browser.py",
                 "notebooks/09_transformer.ipynb", "notebooks/14_vision_transformers.ipynb",
                 "tests/test_install.py", "notebooks/08_performance.ipynb",
                 "tests/test_book.py", "notebooks/13_beyond_sequences.ipynb",
                 "tests/test_seq2seq.py"]


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(
        item.path.relative_to(ROOT).as_posix(), len(rank)))  # stable: files stay whole


# built pages parsed ---------------------------------------------------------------------------

INLINE_IMAGE = re.compile(r"data:image/[\w+.-]+;base64,[A-Za-z0-9+/=]+")
PRE = re.compile(r"<pre\b.*?</pre>", re.S)


def page_soup(html: str, *, code: bool = True):
    """A built page parsed with BeautifulSoup, less its inline images' data (most of a
    chapter's bytes and no words: parsing it took most of the time); ``code=False`` also
    empties its code blocks (their highlighting is the rest of the bytes)."""
    from bs4 import BeautifulSoup

    html = INLINE_IMAGE.sub("data:", html)
    return BeautifulSoup(html if code else PRE.sub("<pre></pre>", html), "html.parser")


# the browser tests (tests/browsing.py has what they share) ----------------------------------

@pytest.fixture(scope="module")
def site(build):
    """The built book served on 127.0.0.1: its base URL."""
    from browsing import serve

    proc, html = build
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    with serve(html) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Chromium (skips where it is not installed, except under CI: see tests/browsing.py)."""
    from browsing import launch

    with launch() as b:
        yield b


@pytest.fixture
def visit(site, browser):
    """``visit(page, width=1280, query="")`` opens a page of the built book as a
    browsing.Visit; every page opened is closed after the test."""
    from browsing import LAPTOP, Visit

    opened = []

    def open_(page, width=LAPTOP, query=""):
        v = Visit(browser, f"{site}/{page}.html{query}", width)
        opened.append(v)
        return v

    yield open_
    for v in opened:
        v.close()


# the checkers' tests (tests/test_exercises*.py) -------------------------------------------

def stub(*args):
    """A reader's exercise left as it came: the stub raises NotImplementedError."""
    raise NotImplementedError


def fails_with(report, hint):
    """The checker's report fails, is falsy, and says ``hint``."""
    assert not report.passed and not bool(report), str(report)
    assert hint in str(report), str(report)
