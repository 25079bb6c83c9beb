"""attnlib installed the way its users install it, into fresh virtual environments.

The packages each environment starts with (the pinned torch; for the Colab path also
ipykernel, matplotlib, ipywidgets and tqdm) are this environment's own copies, with everything
they depend on, linked into a folder that a ``.pth`` file puts on the new environment's path:
for pip and Python they are installed distributions like any other, and no test unpacks torch
again.  attnlib itself is always installed by pip, from the sources.

1. Torch only: a new environment holding nothing but the pinned torch installs attnlib
   from this repository (a normal, non-editable install) and runs the README's snippet and
   both command lines, with and without their progress bars (tqdm is an optional extra).
2. The Colab path: a new virtual environment gets torch, ipykernel, matplotlib, ipywidgets and
   tqdm (what Colab brings), but not attnlib.  A chapter is then executed in a kernel running
   in that environment, with ``google.colab`` faked so that the chapter's own first cell
   runs its ``%pip install "attnlib @ git+..."``, pointed at this repository's
   clone (``git+file://``, the committed HEAD) instead of the public URL.
"""

import json
import re
import shutil
import subprocess
import venv
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "notebooks" / "03_rule1_location.ipynb"


def pins(*names):
    """The versions requirements.txt pins for ``names`` (torch as Colab would have it)."""
    wanted = {n.lower() for n in names}
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line for line in lines if line.split("==")[0].lower() in wanted]


def needed(names) -> list:
    """The installed distributions ``names``, with every distribution they need (their
    requirements, recursively, less those of extras and of other platforms)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found, todo = {}, list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name not in found:
            found[name] = metadata.distribution(name)
            for line in found[name].requires or []:
                req = Requirement(line)
                if req.marker is None or req.marker.evaluate({"extra": ""}):
                    todo.append(req.name)
    return list(found.values())


def linked_site(folder: Path, names) -> Path:
    """``folder`` holding links to what this environment installed of ``names`` and what
    they need: each distribution's top-level packages and modules and its metadata."""
    folder.mkdir(parents=True)
    for dist in needed(names):
        tops = {Path(str(f)).parts[0] for f in dist.files}
        for top in tops - {"..", "__pycache__"}:
            source = Path(dist.locate_file(top))
            if source.exists() and not top.endswith(".pth"):
                (folder / top).symlink_to(source)
    return folder


@pytest.fixture(scope="module")
def torch_folder(tmp_path_factory):
    """A folder holding the pinned torch and what it depends on, nothing else."""
    folder = linked_site(tmp_path_factory.mktemp("torch-site") / "site", ["torch"])
    version = pins("torch")[0].split("==")[1]
    assert any(d.name.startswith(f"torch-{version}") for d in folder.glob("*.dist-info"))
    return folder


def fresh_env(env_dir: Path, packages: Path) -> str:
    """A new virtual environment whose only packages are those linked in ``packages``;
    returns its python."""
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "linked_packages.pth").write_text(f"{packages}\n")
    return python


def readme_snippet() -> str:
    """The Python block of README.md's section on using attnlib on its own."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Using `attnlib` on its own", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_attnlib_installs_and_runs_with_torch_alone(tmp_path, torch_folder):
    env_dir = tmp_path / "torch-only"
    python = fresh_env(env_dir, torch_folder)
    # a copy of the package's sources, so the build leaves nothing in the repository
    source = tmp_path / "source"
    shutil.copytree(ROOT / "attnlib", source / "attnlib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([python, "-m", "pip", "install", "--quiet", str(source)], check=True,
                   timeout=900)
    listed = subprocess.run([python, "-m", "pip", "list", "--format=freeze"], check=True,
                            capture_output=True, text=True).stdout.lower()
    assert f"{pins('torch')[0].lower()}" in listed, "pip must see the shared torch"
    for absent in ("tqdm", "matplotlib", "ipywidgets"):
        assert f"{absent}==" not in listed, f"{absent} came along; attnlib must need torch only"

    def run(*args):
        # from an empty folder, so the repository is not on sys.path
        proc = subprocess.run([python, *args], capture_output=True, text=True, cwd=tmp_path,
                              timeout=600)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        return proc

    where = run("-c", "import attnlib; print(attnlib.__file__)").stdout
    assert str(env_dir) in where, where
    run("-c", readme_snippet() + "\nassert out.shape == (2, 4, 5) and weights.shape == (2, 4, 6)")
    train = ("-m", "attnlib.seq2seq", "--rule", "dot", "--epochs", "1", "--n-train", "300")
    quiet = run(*train, "--no-progress")
    assert "exact match: val" in quiet.stdout and "steps" not in quiet.stderr
    shown = run(*train)
    assert "exact match: val" in shown.stdout
    assert "rule=dot: 5/5 steps (100%)" in shown.stderr, shown.stderr  # the plain text bar
    helped = run("-m", "attnlib.bench", "--help")
    assert "exit status:" in helped.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to install from a git URL")
def test_chapter_runs_after_installing_attnlib_from_git(tmp_path, monkeypatch):
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("not a git checkout with a commit")
    env_dir = tmp_path / "colab-like"
    colab_brings = ["torch", "ipykernel", "matplotlib", "ipywidgets", "tqdm"]
    site = linked_site(tmp_path / "colab-site", colab_brings)
    python = Path(fresh_env(env_dir, site))
    # Colab's pip is recent; the pip that venv bundles with Python 3.11.7 (23.2) refuses
    # "name @ git+file://..." requirements
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                   check=True, timeout=300)
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], check=True,
                            capture_output=True, text=True).stdout.lower()
    assert all(pin.lower() in listed for pin in pins(*colab_brings)), listed  # 2.13.0+cpu
    torch_at = subprocess.run([str(python), "-c", "import torch; print(torch.__file__)"],
                              check=True, capture_output=True, text=True).stdout
    assert str(site) in torch_at, "torch must come from the linked folder"
    probe = subprocess.run([str(python), "-c", "import attnlib"], capture_output=True, cwd=tmp_path)
    assert probe.returncode != 0, "the fresh environment must not have attnlib yet"

    # a kernel spec that starts ipykernel in the fresh environment
    spec = tmp_path / "kernels" / "colab-like"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "colab-like", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    nb = nbformat.read(CHAPTER, as_version=4)
    install = next(c for c in nb.cells if c.cell_type == "code")
    assert f"git+{url}" in install.source
    install.source = install.source.replace(f"git+{url}", f"git+file://{ROOT}")
    nb.cells.insert(0, nbformat.v4.new_code_cell(
        "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')"))
    nb.cells.append(nbformat.v4.new_code_cell("import attnlib\nprint(attnlib.__file__)"))

    NotebookClient(nb, timeout=600, kernel_name="colab-like",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    where = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert str(env_dir) in where, f"attnlib was not imported from the fresh environment: {where}"
    errors = [o for c in nb.cells if "raises-exception" not in c.metadata.get("tags", [])
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
