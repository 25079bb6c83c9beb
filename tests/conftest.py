"""Shared fixtures: every device test runs on the CPU, and on CUDA when there is one."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]


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


@pytest.fixture(scope="session")
def build(tmp_path_factory):
    """``jupyter-book build . --all -W --keep-going``, once, into a temporary folder.

    Returns the finished process and the folder with the HTML pages.
    """
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(jb), "build", str(ROOT), "--all", "-W", "--keep-going", "--path-output", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )
    return proc, out / "_build" / "html"
