"""The Colab path: a fresh environment that already has torch installs attnlib from git.

A new virtual environment gets torch, ipykernel and matplotlib (what Colab brings),
but not attnlib.  A chapter is then executed in a kernel running in that
environment, with ``google.colab`` faked so that the chapter's own first cell
runs its ``%pip install "attnlib @ git+..."``, pointed at this repository's
clone (``git+file://``, the committed HEAD) instead of the public URL.
"""

import json
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


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to install from a git URL")
def test_chapter_runs_after_installing_attnlib_from_git(tmp_path, monkeypatch):
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("not a git checkout with a commit")
    env_dir = tmp_path / "colab-like"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # Colab's pip is recent; the pip that venv bundles with Python 3.11.7 (23.2) refuses
    # "name @ git+file://..." requirements
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                   check=True, timeout=300)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                    *pins("torch", "ipykernel", "matplotlib")], check=True, timeout=900)
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
