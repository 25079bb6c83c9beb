"""One measurement with everything it depends on, and saving/loading them as CSV or JSON."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Iterable, Sequence

import torch

from .measure import environment

# --------------------------------------------------------------------------- results


@dataclasses.dataclass
class Result:
    """One measured variant on one problem, with everything it depends on.

    ``median_s`` and ``iqr_s`` are seconds per call; ``runs`` is how many timed
    blocks they come from.  ``peak_bytes`` is the call's extra memory at its
    peak (see :func:`peak_memory`).  Fields that were not measured are ``None``.
    """

    sweep: str
    variant: str
    device: str
    device_name: str
    torch_version: str
    threads: int
    dtype: str
    shapes: str
    params: dict = dataclasses.field(default_factory=dict)
    median_s: float | None = None
    iqr_s: float | None = None
    runs: int | None = None
    peak_bytes: int | None = None
    memory_method: str | None = None
    flops: int | None = None
    load_avg: list | None = None
    note: str = ""

    @property
    def flop_per_s(self) -> float | None:
        """``flops / median_s``, the achieved rate (``None`` if either is missing)."""
        if self.flops is None or not self.median_s:
            return None
        return self.flops / self.median_s

    def row(self) -> dict:
        """A flat dict for a CSV row: ``params`` are spread out as ``param_<name>``."""
        d = dataclasses.asdict(self)
        params = d.pop("params")
        d["load_avg"] = " ".join(str(x) for x in self.load_avg) if self.load_avg else ""
        d["flop_per_s"] = self.flop_per_s
        d.update({f"param_{k}": v for k, v in params.items()})
        return d


def make_result(sweep: str, variant: str, device: torch.device | str, dtype: torch.dtype,
                shapes: dict[str, Sequence[int]] | str, params: dict | None = None,
                **fields) -> Result:
    """A :class:`Result` with the environment of ``device`` filled in."""
    env = environment(device)
    if not isinstance(shapes, str):
        shapes = ", ".join(f"{k} {tuple(v)}" for k, v in shapes.items())
    return Result(sweep=sweep, variant=variant, device=env["device"],
                  device_name=env["device_name"], torch_version=env["torch_version"],
                  threads=env["threads"], dtype=str(dtype).replace("torch.", ""),
                  shapes=shapes, params=dict(params or {}), load_avg=env["load_avg"], **fields)


def save_results(results: Iterable[Result], path: str | Path) -> Path:
    """Write results to ``path``: JSON if it ends in ``.json``, CSV if ``.csv``."""
    path = Path(path)
    results = list(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        data = [dataclasses.asdict(r) for r in results]
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    elif path.suffix == ".csv":
        rows = [r.row() for r in results]
        fields: list[str] = []
        for row in rows:
            fields += [k for k in row if k not in fields]
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    else:
        raise ValueError(f"`path` must end in .json or .csv; got {str(path)!r}")
    return path


def load_results(path: str | Path) -> list[Result]:
    """Read results saved as JSON by :func:`save_results` (one file, or every ``*.json`` in a folder)."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    names = {f.name for f in dataclasses.fields(Result)}
    out = []
    for f in files:
        for d in json.loads(f.read_text(encoding="utf-8")):
            out.append(Result(**{k: v for k, v in d.items() if k in names}))
    return out


def find_results_dir(start: str | Path | None = None, relative: str = "results/bench") -> Path | None:
    """The first ``relative`` folder found in ``start`` (default: the working directory) or above."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / relative).is_dir():
            return folder / relative
    return None
