"""The package's layout shows its architecture: small modules, subpackages that say what is inside."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "attnlib"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
SUBPACKAGES = sorted(p.parent for p in PACKAGE.glob("*/__init__.py"))


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_no_module_is_longer_than_400_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 400, f"{path.relative_to(PACKAGE)} has {lines} lines; split it by concept"


@pytest.mark.parametrize("folder", SUBPACKAGES, ids=[p.name for p in SUBPACKAGES])
def test_each_subpackage_says_what_is_inside(folder):
    init = folder / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    assert "Inside" in doc, f"{folder.name}/__init__.py: its docstring has no 'Inside:' list"
    for module in sorted(folder.glob("*.py")):
        if module.stem in ("__init__", "__main__"):
            continue
        assert f".{module.stem}`" in doc, (
            f"{folder.name}/__init__.py does not mention its module {module.name}")


def test_course_tooling_lives_in_subpackages():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    for tooling in ("bench", "exercises", "seq2seq", "dates"):
        assert tooling not in top, f"attnlib/{tooling}.py belongs in a subpackage"
