"""The machinery every checker shares: :class:`Report`, :class:`Case` and the loop that runs them.

A checker builds a few :class:`Case` objects (inputs, the reference answer, a
diagnosis of known mistakes) and hands them to :func:`_run`, which calls the
reader's function on each, never lets its traceback escape, and stops at the
first failure with a plain-text explanation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

@dataclass
class Report:
    """The outcome of a checker: ``passed`` and the lines shown to the reader."""

    exercise: str
    passed: bool
    lines: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return "\n".join(self.lines)

    def __repr__(self) -> str:
        return str(self)


@dataclass
class Case:
    """One input for the reader's function and how to judge the answer.

    ``diagnose(got)`` returns a hint naming a known mistake, or ``None``.
    """

    label: str
    args: tuple
    expected: torch.Tensor
    diagnose: Callable[[torch.Tensor], str | None] = lambda got: None
    rtol: float = 1e-5
    atol: float = 1e-6
    error_hint: str = "hint: run it on these inputs yourself and print the shapes step by step."

    def hint(self, got: torch.Tensor, default: str) -> str:
        """The diagnosis for ``got``, or ``default`` when no known mistake matches."""
        try:
            return self.diagnose(got) or default
        except Exception:  # a diagnosis must never hide the report itself
            return default


def _describe(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor {tuple(x.shape)} {str(x.dtype).replace('torch.', '')}"
    if isinstance(x, torch.nn.Module):
        return type(x).__name__
    return repr(x)


def _short(t: torch.Tensor) -> str:
    flat = t.detach().flatten()[:6].tolist()
    more = ", ..." if t.numel() > 6 else ""
    return "[" + ", ".join(f"{v:.4g}" for v in flat) + more + "]"


_WIDTH = 72  # the longest expected/got line a failing comparison prints (it fits a phone)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and the word in the right number: ``plural(1, "head")`` is ``"1 head"``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _aligned(expected: list[float], got: list[float]) -> tuple[str, str]:
    """Two lists written entry by entry, each pair padded to one width, so columns line up."""
    pairs = [(f"{e:.4g}", f"{g:.4g}") for e, g in zip(expected, got)]
    width = [max(len(a), len(b)) for a, b in pairs]
    return (", ".join(a.rjust(w) for (a, _), w in zip(pairs, width)),
            ", ".join(b.rjust(w) for (_, b), w in zip(pairs, width)))


def _index(where) -> str:
    return "[" + ", ".join(str(i) for i in where) + "]"


def _largest_difference(expected: torch.Tensor, got: torch.Tensor) -> tuple[float, tuple[int, ...]]:
    """The largest ``|got - expected|`` and its index; a NaN facing a number comes first."""
    e, g = expected.detach().double().cpu(), got.detach().double().cpu()
    d = (g - e).abs()
    d = torch.where((g == e) | (torch.isnan(g) & torch.isnan(e)), torch.zeros_like(d), d).flatten()
    flat = int(torch.where(torch.isnan(d), torch.full_like(d, float("inf")), d).argmax())
    value = d[flat].item()
    where = []
    for n in reversed(expected.shape):  # torch.unravel_index needs torch 2.2
        flat, i = divmod(flat, n)
        where.append(i)
    return value, tuple(reversed(where))


def _comparison(expected: torch.Tensor, got: torch.Tensor,
                show: Callable[[torch.Tensor], str] = _short) -> list[str]:
    """The lines that show where ``got`` differs from ``expected`` (same shape, not close).

    A result of up to 6 entries is shown whole, written by ``show``.  A larger one may well be right in its
    first entries (a head or a row in the wrong place), so up to 6 entries around the
    largest difference are shown instead, along the last axis longer than 1, lined up
    and with their index named.
    """
    diff, where = _largest_difference(expected, got)
    if expected.numel() <= 6:
        if show is _short:  # entry by entry, lined up
            e, g = _aligned(expected.detach().flatten().tolist(), got.detach().flatten().tolist())
            return [f"expected [{e}]", f"got      [{g}]", f"largest difference {diff:.3g}"]
        return [f"expected {show(expected)}", f"got      {show(got)}",
                f"largest difference {diff:.3g}"]
    axis = max(i for i, n in enumerate(expected.shape) if n > 1)
    n, col = expected.shape[axis], where[axis]
    row = list(where)
    row[axis] = slice(None)
    rows = [t.detach()[tuple(row)].flatten().tolist() for t in (expected, got)]
    for width in range(min(6, n), 0, -1):  # fewer entries until both lines fit
        lo = min(max(col - (width - 1) // 2, 0), n - width)
        hi = lo + width
        cells = _aligned(rows[0][lo:hi], rows[1][lo:hi])
        before, after = ("..., " if lo > 0 else ""), (", ..." if hi < n else "")
        shown = ["[" + before + c + after + "]" for c in cells]
        if len("expected " + shown[0]) <= _WIDTH:
            break
    span = ":" if (lo, hi) == (0, n) else f"{lo}:{hi}"
    entries = _index(span if i == axis else w for i, w in enumerate(where))
    return [f"entries {entries}, around the largest difference:",
            f"expected {shown[0]}", f"got      {shown[1]}",
            f"largest difference {diff:.3g} at {_index(where)}"]


def _run(exercise: str, fn, cases: list[Case], pick: Callable = lambda out: out, *,
         returns: str = "a tensor", return_hint: str = "hint: return a torch.Tensor.",
         show: Callable[[torch.Tensor], str] = _short) -> Report:
    """Run ``fn`` on every case; stop at the first failure with a friendly explanation.

    ``pick`` turns the reader's return value into the tensor compared with the case (or a
    message saying what came instead); ``returns`` and ``return_hint`` say what the reader
    should return, and ``show`` writes a small result, for checkers whose answer is not a
    tensor (counts, say).
    """
    name = getattr(fn, "__name__", "your function")
    if not callable(fn):
        return Report(exercise, False, [f"✗ {exercise}: expected a function, got {_describe(fn)}."])
    for i, case in enumerate(cases, 1):
        head = f"✗ {exercise}, case {i}/{len(cases)} ({case.label})"
        inputs = "inputs: " + ", ".join(_describe(a) for a in case.args)
        try:
            with torch.no_grad():
                out = fn(*[a.clone() if isinstance(a, torch.Tensor) else a for a in case.args])
        except NotImplementedError:
            return Report(exercise, False, [
                f"… {exercise}: not done yet.",  # three short lines: they fit a phone
                f"`{name}` still raises NotImplementedError; replace the stub",
                "with your code and run the cell again."])
        except Exception as err:  # the reader's code: report it, never re-raise
            return Report(exercise, False, [
                head, inputs, f"`{name}` raised {type(err).__name__}: {err}", case.error_hint])
        got = pick(out)
        if not isinstance(got, torch.Tensor):
            what = got if isinstance(got, str) else f"expected {returns}, got {_describe(got)}"
            return Report(exercise, False, [
                head, inputs, what,
                "hint: did you forget a `return`?" if out is None else return_hint])
        lines = [head, inputs]
        if got.shape != case.expected.shape:
            hint = case.hint(got, "hint: print the shape after each step and compare with the legend.")
            return Report(exercise, False, lines + [
                f"expected shape {tuple(case.expected.shape)}, got {tuple(got.shape)}", hint])
        if torch.isnan(got).any() and not torch.isnan(case.expected).any():
            hint = case.hint(got, "hint: where can 0/0 or inf - inf happen in your code?")
            return Report(exercise, False, lines + ["your result contains NaN", hint])
        if not torch.allclose(got.double(), case.expected.double(), rtol=case.rtol, atol=case.atol):
            hint = case.hint(got, "hint: compare your result with the reference row by row.")
            return Report(exercise, False, lines + _comparison(case.expected, got, show) + [hint])
    return Report(exercise, True, [f"✓ {exercise}: all {len(cases)} cases pass. Well done!"])


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-5)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
