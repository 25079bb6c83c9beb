"""Shared fixtures: every device test runs on the CPU, and on CUDA when there is one."""

import importlib.util
import os
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


# the checkers' tests (tests/test_exercises*.py) -------------------------------------------

def stub(*args):
    """A reader's exercise left as it came: the stub raises NotImplementedError."""
    raise NotImplementedError


def fails_with(report, hint):
    """The checker's report fails, is falsy, and says ``hint``."""
    assert not report.passed and not bool(report), str(report)
    assert hint in str(report), str(report)
