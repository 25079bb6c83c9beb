"""Progress bars for long work, with or without tqdm.

attnlib needs only torch.  When tqdm is installed (``pip install "attnlib[progress]"``)
:func:`progress_bar` gives a ``tqdm.auto`` bar: a widget in notebooks, text in a
terminal.  Without it, a plain line on stderr every tenth of the way.  Disabled,
it gives a bar whose methods do nothing, so callers never test for ``None``.
"""

from __future__ import annotations

import sys
import time


class _SilentBar:
    """A bar that shows nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **values) -> None:
        pass

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass


class _TextBar(_SilentBar):
    """``desc: 30/300 steps (10%), 2.1 s  loss=0.512`` on ``file``, every tenth of the way."""

    def __init__(self, total: int, desc: str, file) -> None:
        self.total, self.desc, self.file = max(int(total), 0), desc, file
        self.n, self.postfix, self.shown = 0, "", -1
        self.start = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.n += n
        tenth = self.n * 10 // self.total if self.total else 10
        if tenth != self.shown:
            self.shown = tenth
            pct = f" ({self.n / self.total:.0%})" if self.total else ""
            line = (f"{self.desc}: {self.n}/{self.total} steps{pct}, "
                    f"{time.perf_counter() - self.start:.1f} s")
            print(line + (f"  {self.postfix}" if self.postfix else ""), file=self.file,
                  flush=True)

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text


def progress_bar(total: int, desc: str, *, enabled: bool = True, file=None):
    """A context manager giving a bar with ``update``, ``set_postfix`` and ``set_postfix_str``.

    Args:
        total: how many ``update(1)`` calls make the whole job.
        desc: the label in front of the bar.
        enabled: False gives a bar that shows nothing.
        file: where a text bar writes (default ``sys.stderr``).
    """
    if not enabled:
        return _SilentBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _TextBar(total, desc, file or sys.stderr)
    return tqdm(total=total, desc=desc, unit="step", file=file or sys.stderr, leave=True)
