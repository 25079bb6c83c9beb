"""attnlib must not use a torch API newer than the floor pyproject.toml declares.

Only torch 2.13.0 is installed here, so older versions cannot be run.  Instead,
every module under attnlib/ is parsed (imports, attribute chains, keyword
arguments; not comments or docstrings) and checked against a list of torch
APIs whose first release is known.  The list is not complete; it holds the
names an attention course is likely to reach for.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# name -> (first torch release with it, where that comes from)
KNOWN_NEW = {
    "torch.nn.attention": ((2, 3), "module added by pytorch/pytorch#114689, merged 2024-01-24, "
                                   "after the 2.2 branch cut; sdpa_kernel, SDPBackend, bias"),
    "torch.nn.attention.flex_attention": ((2, 5), "FlexAttention, first released in 2.5"),
    "enable_gqa=": ((2, 5), "scaled_dot_product_attention(..., enable_gqa=) since 2.5"),
    "torch.nn.RMSNorm": ((2, 4), "nn.RMSNorm and F.rms_norm since 2.4"),
    "torch.nn.functional.rms_norm": ((2, 4), "nn.RMSNorm and F.rms_norm since 2.4"),
    "torch.library.custom_op": ((2, 4), "torch.library.custom_op since 2.4"),
    "torch.serialization.add_safe_globals": ((2, 4), "since 2.4"),
    "torch.get_default_device": ((2, 3), "since 2.3"),
}

# Known uses above the floor that are deliberate, with the reason.  An entry here
# keeps the test passing for that file only.
ALLOWED = {
    ("attnlib/bench/sweeps.py", "torch.nn.attention"):
        "bench.sdpa_backends (performance chapter, GPU backends) imports it inside the "
        "function; the library modules do not use it",
    ("attnlib/bench/kernels.py", "torch.nn.attention"):
        "bench.kernel_sweep (kernels chapter, GPU timing) imports it inside the function to "
        "force SDPA's fused backends; the library modules do not use it",
    ("attnlib/flex.py", "torch.nn.attention"):
        "flex.flex_module imports FlexAttention inside the function and raises an ImportError "
        "naming torch >= 2.5 when it is missing; import attnlib works without it",
    ("attnlib/flex.py", "torch.nn.attention.flex_attention"):
        "the same import (chapter 11)",
}

ALIASES = {"F": "torch.nn.functional", "nn": "torch.nn"}


def torch_floor() -> tuple[int, int]:
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'"torch>=(\d+)\.(\d+)', text)
    assert match, "pyproject.toml must declare torch>=X.Y"
    return int(match.group(1)), int(match.group(2))


def dotted(node) -> str | None:
    """``torch.nn.functional.x`` for an Attribute chain ending in a Name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(ALIASES.get(node.id, node.id))
    return ".".join(reversed(parts))


def used_names(source: str) -> set[str]:
    """Imported modules and names, attribute chains and keyword arguments (``kw=``)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Attribute):
            name = dotted(node)
            if name:
                names.add(name)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg + "=")
    return names


def newer_than(names: set[str], floor: tuple[int, int]) -> set[str]:
    """The KNOWN_NEW entries newer than ``floor`` that ``names`` use (a prefix counts)."""
    found = set()
    for new, (version, _) in KNOWN_NEW.items():
        if version <= floor:
            continue
        if any(n == new or n.startswith(new + ".") for n in names):
            found.add(new)
    return found


def test_the_scanner_finds_what_it_looks_for():
    # So that the real test below can fail: planted uses are found, mentions are not.
    planted = (
        "import torch.nn.functional as F\n"
        "from torch.nn.attention import sdpa_kernel\n"
        "y = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)\n"
        "z = F.rms_norm(x, (4,))\n"
        "'''enable_gqa in a docstring is not a use: torch.get_default_device'''\n"
        "# torch.library.custom_op in a comment is not a use either\n"
    )
    assert newer_than(used_names(planted), (2, 1)) == {
        "torch.nn.attention", "enable_gqa=", "torch.nn.functional.rms_norm"}
    assert newer_than(used_names(planted), (2, 5)) == set()


def test_no_torch_api_newer_than_the_declared_floor():
    floor = torch_floor()
    problems = []
    for path in sorted((ROOT / "attnlib").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for name in sorted(newer_than(used_names(path.read_text()), floor)):
            if (rel, name) not in ALLOWED:
                version, why = KNOWN_NEW[name]
                problems.append(f"{rel} uses {name} (torch {version[0]}.{version[1]}: {why})")
    assert not problems, (f"pyproject.toml says torch>={floor[0]}.{floor[1]}, but:\n"
                          + "\n".join(problems))


@pytest.mark.parametrize("key", sorted(ALLOWED))
def test_every_allowed_exception_is_still_needed(key):
    # An exception that no longer applies (the use is gone or the floor was raised) is removed.
    rel, name = key
    assert name in newer_than(used_names((ROOT / rel).read_text()), torch_floor()), key
