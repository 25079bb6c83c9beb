#!/usr/bin/env python3
"""The course's commands, needing nothing but Python 3.11: two for everyone (book, test),
one for the PDFs (pdf), one for learners (workspace) and two for authors (execute,
translations).

    python3.11 dev.py book      build the HTML book, both editions: English in _build/html/,
                                Chinese (中文版) in _build/html/zh/
    python3.11 dev.py test      run every test: attnlib's unit tests, nbval over every
                                notebook (strict), both editions' build with -W, browsers
    python3.11 dev.py pdf       after `book`: a PDF of each edition, printed by Chromium, in
                                _build/html/pdf/ (book/pdf.py says how)
    python3.11 dev.py workspace [--zh]
                                copy the chapters' notebooks (with --zh: the Chinese ones)
                                into workspace/, which git ignores: work through the
                                exercises there and the tracked notebooks stay clean; a copy
                                that is already there is never overwritten
    python3.11 dev.py execute [NOTEBOOK ...]
                                re-execute notebooks in place and store their outputs
                                (all of notebooks/ when none is named)
    python3.11 dev.py translations
                                after editing English prose: refresh the Chinese edition's
                                locale/zh_CN/LC_MESSAGES/*.po (changed sentences become fuzzy
                                and show in English until translated) and print the share
                                translated, page by page

Each but workspace first makes ./.venv with the pinned requirements (and attnlib in
editable mode) when it is missing or when requirements.txt or pyproject.toml changed.
Extra arguments after `test` go to pytest, e.g. `python3.11 dev.py test -k rule1`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".requirements-sha256"
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"


def say(msg: str) -> None:
    print(f"[dev.py] {msg}", flush=True)


def run(*cmd: str | Path, label: str | None = None, **kw) -> None:
    """Run a command, echoing it (or ``label``); exit with its status if it fails."""
    say(label or " ".join(str(c) for c in cmd))
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT, **kw)
    if code:
        sys.exit(code)


def requirements_digest() -> str:
    h = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def ensure_venv() -> None:
    """Create .venv and install the pinned requirements when needed."""
    if sys.version_info[:2] != (3, 11):
        say(f"warning: the pins in requirements.txt are for Python 3.11; this is "
            f"{sys.version.split()[0]}")
    digest = requirements_digest()
    if PY.exists() and STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    if not PY.exists():
        say(f"creating a virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    run(PY, "-m", "pip", "install", "--quiet", "-r", "requirements.txt")
    run(PY, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", ".")
    STAMP.write_text(digest + "\n")
    say("environment ready")


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e["VIRTUAL_ENV"] = str(VENV)
    e.setdefault("PYTHONHASHSEED", "0")
    return e


def kernel_env(folder: Path) -> dict[str, str]:
    """env() for running notebooks: their kernels read book/ipython_kernel_config.py (figures
    stored at twice their display resolution) from an IPYTHONDIR made in ``folder``."""
    profile = folder / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "book" / "ipython_kernel_config.py",
                    profile / "ipython_kernel_config.py")
    # OMP_WAIT_POLICY=PASSIVE: torch's idle threads sleep instead of spinning.  On two cores,
    # spinning threads starved everything else: with two test workers and their kernels, tests
    # ran two to three times slower, and one notebook's timings scattered (chapter 08's
    # spread between repeats grew from hundredths of a millisecond to milliseconds).  The
    # number of threads, and so every computed output, stays the same.
    return {**env(), "IPYTHONDIR": str(folder), "OMP_WAIT_POLICY": "PASSIVE"}


def book(extra: list[str]) -> None:
    run(PY, ROOT / "book" / "editions.py", "build", *extra, env=env(),
        label="building both editions with jupyter-book (book/editions.py)")
    say(f"the book is at {ROOT / '_build' / 'html' / 'index.html'}, its Chinese edition at "
        f"{ROOT / '_build' / 'html' / 'zh' / 'index.html'} (open them in a browser)")


def pdf(extra: list[str]) -> None:
    run(PY, ROOT / "book" / "pdf.py", *extra, env=env(),
        label="printing both editions to PDF with Chromium (book/pdf.py)")


def translations(extra: list[str]) -> None:
    run(PY, ROOT / "book" / "editions.py", "status", *extra, env=env())


def test(extra: list[str]) -> None:
    # xdist gives each worker a whole file at a time, in the order of the collection (which
    # tests/conftest.py puts the longest first), not reordered by size (xdist's default)
    workers = ["-n", "2", "--dist", "loadfile", "--no-loadscope-reorder"]
    with tempfile.TemporaryDirectory(prefix="attn-ipython-") as ipython:
        run(PY, "-m", "pytest", *workers, "--nbval", "--nbval-current-env",
            "--nbval-sanitize-with", SANITIZE, *extra, env=kernel_env(Path(ipython)))


def execute(paths: list[str]) -> None:
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    script = (
        "import sys, nbformat\n"
        "from pathlib import Path\n"
        "from nbclient import NotebookClient\n"
        "for path in sys.argv[1:]:\n"
        "    nb = nbformat.read(path, as_version=4)\n"
        "    here = {'metadata': {'path': str(Path(path).resolve().parent)}}\n"
        "    NotebookClient(nb, timeout=600, kernel_name='python3', resources=here,\n"
        "                   record_timing=False).execute()\n"
        "    nbformat.write(nb, path)\n"
        "    print('executed', path, flush=True)\n"
    )
    with tempfile.TemporaryDirectory(prefix="attn-ipython-") as ipython:
        run(PY, "-c", script, *notebooks, env=kernel_env(Path(ipython)),
            label=f"executing {len(notebooks)} notebook(s) with nbclient")


WORKSPACE = ROOT / "workspace"  # in .gitignore


def workspace(args: list[str], into: Path = WORKSPACE) -> list[Path]:
    """Copy the notebooks into ``into`` (never over a copy that is there); return the new copies."""
    if any(a not in ("--zh",) for a in args):
        say(f"workspace takes only --zh; got {' '.join(args)}")
        sys.exit(2)
    source = ROOT / "zh" / "notebooks" if "--zh" in args else ROOT / "notebooks"
    into = into / "zh" if "--zh" in args else into
    into.mkdir(parents=True, exist_ok=True)
    made, kept = [], []
    for nb in sorted(source.glob("*.ipynb")):
        target = into / nb.name
        if target.exists():
            kept.append(target.name)
            continue
        target.write_bytes(nb.read_bytes())
        made.append(target)
    say(f"copied {len(made)} notebook(s) into {into}"
        + (f"; kept your {len(kept)} existing copies" if kept else ""))
    shown = into.relative_to(ROOT) if into.is_relative_to(ROOT) else into
    say(f"open them with: .venv/bin/jupyter lab {shown}"
        "   (once: .venv/bin/pip install jupyterlab)")
    return made


def main(argv: list[str]) -> None:
    commands = {"book": book, "test": test, "execute": execute, "translations": translations,
                "workspace": workspace, "pdf": pdf}
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        sys.exit(0 if argv else 2)
    if argv[0] not in commands:
        print(__doc__)
        say(f"unknown command {argv[0]!r}")
        sys.exit(2)
    if argv[0] != "workspace":  # copying files needs no environment
        ensure_venv()
    commands[argv[0]](argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
