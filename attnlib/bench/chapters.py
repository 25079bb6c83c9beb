"""The later chapters' ratio checks, one named group per chapter, each in its own module.

A group is a function ``group(device, *, rounds, min_run_time, progress)`` returning
``(results, ratios)`` like :func:`~attnlib.bench.ratios.ratio_checks`; its module registers
it with ``@register("name")`` and is listed in ``MODULES``.  ``python -m attnlib.bench``
runs every group by default, or those named with ``--sweeps``.
"""

from __future__ import annotations

import importlib
from typing import Callable

# the modules of this package that register a group, imported when the groups are asked for
MODULES: tuple[str, ...] = ("flex", "decode", "kernels")

_GROUPS: dict[str, Callable] = {}


def register(name: str) -> Callable[[Callable], Callable]:
    """Decorator: register ``fn`` as the ratio group ``name``."""
    def wrap(fn: Callable) -> Callable:
        if name in _GROUPS and _GROUPS[name] is not fn:
            raise ValueError(f"ratio group {name!r} is registered twice")
        _GROUPS[name] = fn
        return fn
    return wrap


def groups() -> dict[str, Callable]:
    """Name -> group function, for every module in ``MODULES``."""
    for module in MODULES:
        importlib.import_module(f"{__package__}.{module}")
    return dict(_GROUPS)
