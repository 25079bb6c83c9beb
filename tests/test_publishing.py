"""The book goes out: workflows that pass GitHub's schema and zizmor, one repository address,
licences, a valid citation, and one version number."""

import json
import shutil
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

import attnlib

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO_URL = CONFIG["repository"]["url"]


def pages_address(repository_url: str) -> str:
    """GitHub Pages' address of a repository: https://github.com/o/r -> https://o.github.io/r/."""
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)/?", repository_url)
    if not match:
        raise ValueError(f"repository.url must be https://github.com/OWNER/NAME; "
                         f"got {repository_url!r}")
    owner, name = match.groups()
    return f"https://{owner.lower()}.github.io/{name}/"


def _texts():
    """Every text a reader or a user copies addresses from: README, CONTRIBUTING, the book's
    pages, CITATION.cff, pyproject.toml and every notebook cell."""
    for name in ("README.md", "CONTRIBUTING.md", "CITATION.cff", "pyproject.toml",
                 "LICENSE-CONTENT.md"):
        yield name, (ROOT / name).read_text(encoding="utf-8")
    for page in sorted((ROOT / "book").glob("*.md")):
        yield str(page.relative_to(ROOT)), page.read_text(encoding="utf-8")
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(nbformat.read(nb, as_version=4).cells):
            yield f"{nb.name} cell {i}", cell.source


def test_pages_address_is_derived_from_the_repository():
    assert pages_address("https://github.com/Some-Org/my.book") == "https://some-org.github.io/my.book/"
    with pytest.raises(ValueError, match="repository.url"):
        pages_address("https://gitlab.com/a/b")


def test_every_link_to_the_repository_agrees_with_config():
    owner_repo = REPO_URL.removeprefix("https://github.com/")
    found = 0
    for where, text in _texts():
        for other in re.findall(r"github\.com/([\w.-]+/[\w.-]+?)(?:[/\"'`)\s#]|\.git|$)", text):
            if other.startswith(("actions/",)):
                continue
            found += 1
            assert other == owner_repo, f"{where}: github.com/{other}, not {owner_repo}"
        for url in re.findall(r"[\w.-]+\.github\.io/[\w.-]+/?", text):
            assert "https://" + url.rstrip("/") + "/" == pages_address(REPO_URL), (where, url)
        for pip in re.findall(r"attnlib(?:\[\w+\])? @ (git\+\S+?)[\"'`]", text):
            assert pip == f"git+{REPO_URL}", f"{where}: pip installs from {pip}"
    assert found >= 5, "the README and the install cells link the repository"


def test_readme_names_the_published_book_at_the_top():
    top = (ROOT / "README.md").read_text(encoding="utf-8")[:1500]
    assert pages_address(REPO_URL) in top


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_workflow_passes_githubs_schema(workflow):
    proc = subprocess.run([BIN / "check-jsonschema", "--builtin-schema",
                           "vendor.github-workflows", workflow],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing_high_in_the_workflows():
    proc = subprocess.run([BIN / "zizmor", "--offline", "--format", "json",
                           ROOT / ".github" / "workflows"], capture_output=True, text=True)
    findings = json.loads(proc.stdout or "[]")
    high = [f for f in findings
            if f.get("determinations", {}).get("severity", "").lower() == "high"]
    assert not high, json.dumps(high, indent=1)[:3000]
    assert not findings, "zizmor reports: " + ", ".join(f["ident"] for f in findings)


def test_the_workflows_publish_the_whole_build_and_test_pull_requests():
    book = yaml.safe_load((ROOT / ".github/workflows/book.yml").read_text())
    tests = yaml.safe_load((ROOT / ".github/workflows/tests.yml").read_text())
    # PyYAML reads the key "on" as True
    assert book[True]["push"]["branches"] == ["main"]
    steps = book["jobs"]["build"]["steps"]
    assert any(s.get("run") == "python3.11 dev.py book" for s in steps)  # the README's command
    upload = next(s for s in steps if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "_build/html"  # both editions: zh/ lies inside
    assert "deploy-pages" in book["jobs"]["deploy"]["steps"][0]["uses"]
    assert "pull_request" in tests[True]
    assert any(s.get("run") == "bash .ci/run" for s in tests["jobs"]["test"]["steps"])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3.11 dev.py book" in readme and "python3.11 dev.py test" in readme


def test_licences_and_citation():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'license = { text = "MIT" }' in pyproject
    assert "CC BY 4.0" in (ROOT / "LICENSE-CONTENT.md").read_text()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in readme and "MIT" in readme
    proc = subprocess.run([BIN / "check-jsonschema", "--builtin-schema",
                           "vendor.citation-file-format", ROOT / "CITATION.cff"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["repository-code"] == REPO_URL
    assert cff["url"] == pages_address(REPO_URL)
    assert cff["license"] == "MIT"


def test_one_version_number():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## (\d+\.\d+\.\d+) - (\d{4}-\d\d-\d\d)", changelog, re.M)
    assert versions, "CHANGELOG.md lists its versions as '## X.Y.Z - YYYY-MM-DD'"
    assert versions[0][0] == attnlib.__version__
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["version"] == attnlib.__version__
    assert str(cff["date-released"]) == versions[0][1]
    assert [v for v, _ in versions] == sorted({v for v, _ in versions},
                                              key=lambda v: tuple(map(int, v.split("."))),
                                              reverse=True)


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_every_page_carries_the_licences_in_its_language(edition, build):
    _, html = build
    root = html if edition == "en" else html / "zh"
    from conftest import toc_files
    for page in toc_files():
        text = (root / f"{page}.html").read_text(encoding="utf-8")
        assert 'href="https://creativecommons.org/licenses/by/4.0/" rel="license"' in text, page
        assert f'href="{REPO_URL}/blob/main/LICENSE"' in text, page
        assert ("许可" in text) == (edition == "zh"), page


# what a newcomer tripped over -------------------------------------------------------------

def test_the_build_leaves_one_chinese_edition_and_no_banner_pointing_elsewhere(build):
    from conftest import editions

    proc, html = build
    assert (html / "zh" / "index.html").exists()
    assert not (html.parent / "zh" / "_build" / "html").exists(), "a second Chinese copy"
    shown = "".join(editions._without_banner(proc.stdout.splitlines(True)))
    # jupyter-book's banner and "Output Path" name the inner folder; they are dropped
    assert "Finished generating HTML" not in shown and "_build/zh/_build/html" not in shown


def test_chinese_pages_hand_out_the_chinese_notebook(build):
    _, html = build
    page = (html / "zh" / "notebooks" / "01_what_is_attention.html").read_text(encoding="utf-8")
    colab = re.search(r'href="(https://colab\.research\.google\.com/[^"]+)"', page).group(1)
    assert colab.endswith(f"{REPO_URL.removeprefix('https://github.com/')}/blob/main/"
                          "zh/notebooks/01_what_is_attention.ipynb"), colab
    downloaded = (html / "zh" / "_sources" / "notebooks" / "01_what_is_attention.ipynb")
    assert downloaded.read_bytes() == (ROOT / "zh/notebooks/01_what_is_attention.ipynb").read_bytes()


def test_every_attnlib_name_in_the_readme_imports():
    import importlib

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = set(re.findall(r"`(attnlib(?:\.\w+)+)`", readme))
    assert "attnlib.seq2seq.dates" in names
    for name in sorted(names):
        module, _, attr = name.rpartition(".")
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            assert hasattr(importlib.import_module(module), attr), name
    proc = subprocess.run([sys.executable, "-c", "import attnlib.dates as d; print(d.SHORT_MAX_LEN)"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip().isdigit(), proc.stderr


def test_dev_py_says_every_command_it_has():
    text = (ROOT / "dev.py").read_text(encoding="utf-8")
    doc = text.split('"""')[1]
    commands = re.search(r"commands = \{(.*?)\}", text, re.S).group(1)
    for name in re.findall(r'"(\w+)":', commands):
        assert f"dev.py {name}" in doc, f"dev.py's docstring does not describe {name}"
    proc = subprocess.run([sys.executable, ROOT / "dev.py", "--help"], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and "workspace" in proc.stdout


def test_workspace_copies_leave_the_tracked_notebooks_clean(tmp_path):
    """Solving an exercise in workspace/ leaves `git status` clean."""
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                      capture_output=True).returncode:
        pytest.skip("not a git checkout")
    space = ROOT / "workspace"
    existed = space.exists()
    before = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"],
                            capture_output=True, text=True).stdout
    try:
        proc = subprocess.run([sys.executable, ROOT / "dev.py", "workspace"], cwd=tmp_path,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        copy = space / "02_shapes_and_bmm.ipynb"
        nb = nbformat.read(copy, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell("answer = 42  # the reader's work"))
        nbformat.write(nb, copy)
        again = subprocess.run([sys.executable, ROOT / "dev.py", "workspace"],
                               capture_output=True, text=True)
        assert "kept your" in again.stdout  # a second run keeps the reader's copy
        assert "answer = 42" in copy.read_text(encoding="utf-8")
        after = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"],
                               capture_output=True, text=True).stdout
        assert after == before, after
    finally:
        if not existed:
            shutil.rmtree(space, ignore_errors=True)


def test_the_longest_first_order_names_files_that_exist():
    """tests/conftest.py runs these files first; a renamed one would silently drop out."""
    from conftest import LONGEST_FIRST

    missing = [name for name in LONGEST_FIRST if not (ROOT / name).is_file()]
    assert missing == [] and len(set(LONGEST_FIRST)) == len(LONGEST_FIRST), missing


def test_workspace_zh_copies_the_chinese_notebooks(tmp_path):
    from conftest import load_script

    made = load_script("dev.py").workspace(["--zh"], into=tmp_path)
    chinese = sorted(p.name for p in (ROOT / "zh" / "notebooks").glob("*.ipynb"))
    assert chinese and sorted(p.name for p in made) == chinese
    assert {p.parent for p in made} == {tmp_path / "zh"}
    first = made[0].read_bytes()
    assert first == (ROOT / "zh" / "notebooks" / made[0].name).read_bytes()
    assert "注意力" in first.decode("utf-8")


def test_chinese_notebooks_are_in_step_with_the_catalogs():
    from conftest import load_script

    zh = load_script("book/zh_notebooks.py")
    assert zh.stale() == [], "run dev.py translations (or book/zh_notebooks.py write)"
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        english = nbformat.read(nb_path, as_version=4)
        chinese = nbformat.read(ROOT / "zh" / "notebooks" / nb_path.name, as_version=4)
        assert [c.cell_type for c in chinese.cells] == [c.cell_type for c in english.cells]
        for e, c in zip(english.cells, chinese.cells):
            if e.cell_type == "code":
                assert c.source == e.source and c.metadata == e.metadata
        # the title and most Markdown is Chinese
        assert re.search(r"[\u4e00-\u9fff]", chinese.cells[0].source), nb_path.name


def test_translate_markdown_replaces_whole_messages_only():
    from conftest import load_script

    zh = load_script("book/zh_notebooks.py")
    messages = {"A long sentence that wraps.": "一句会换行的长句。", "shape": "形状",
                "Learning objectives.": "学习目标。"}
    source = ("A long sentence\nthat wraps.\n\n| name | shape |\n| --- | --- |\n\n"
              "`shape` is a word in a sentence about shape here.\n\n**Learning objectives.**")
    out = zh.translate_markdown(source, messages)
    assert out.startswith("一句会换行的长句。\n")
    assert "| name | 形状 |" in out
    assert "`shape` is a word in a sentence about shape here." in out
    assert out.endswith("**学习目标。**")
