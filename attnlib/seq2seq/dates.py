"""A toy translation task made in code: dates written many ways, to ISO 8601.

``"23 Nov 2026"``, ``"Nov 23rd, 2026"``, ``"23/11/26"`` and a dozen other
spellings all translate to ``"2026-11-23"``.  A good alignment is easy to see:
the year's digits of the output should look at the year in the input, the
month's at the month's digits or name, the day's at the day.

Everything is generated from a seed, nothing is downloaded:

* dates are drawn without repetition from 1950-01-01 .. 2049-12-31 and shared
  out between the splits, so no date (and so no input string) is in two splits;
* ``train``, ``val`` and ``test`` use the :data:`SHORT_FORMATS` (at most
  :data:`SHORT_MAX_LEN` characters);
* ``long`` uses only the :data:`LONG_FORMATS`, which combine the same pieces
  (full weekday and month names, ordinals like ``23rd``, the words ``the`` and
  ``of``) into inputs that are *all* longer than any training input:
  :data:`LONG_MIN_LEN` > :data:`SHORT_MAX_LEN`, checked at import.

Two-digit years follow a fixed pivot: ``50``..``99`` are 1950..1999 and
``00``..``49`` are 2000..2049, so ``"05/03/49"`` is 2049-03-05.
"""

from __future__ import annotations

import datetime as _dt
import random

from .. import _checks

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FIRST_DATE = _dt.date(1950, 1, 1)
LAST_DATE = _dt.date(2049, 12, 31)
SPLITS = ("train", "val", "test", "long")


def ordinal(day: int) -> str:
    """``1 -> "1st"``, ``2 -> "2nd"``, ``11 -> "11th"``, ``23 -> "23rd"``."""
    if 11 <= day % 100 <= 13:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def _parts(year: int, month: int, day: int, weekday: int) -> dict[str, str]:
    """The pieces a template is made of; ``weekday`` is 0 for Monday, as in ``date.weekday()``."""
    month_name, weekday_name = MONTHS[month - 1], WEEKDAYS[weekday]
    return {
        "d": str(day), "dd": f"{day:02d}", "dth": ordinal(day),
        "m": str(month), "mm": f"{month:02d}", "Mon": month_name[:3], "Month": month_name,
        "yy": f"{year % 100:02d}", "yyyy": str(year),
        "Wkd": weekday_name[:3], "Weekday": weekday_name,
    }


#: Formats of the train, val and test splits (name -> template over :func:`_parts`).
SHORT_FORMATS: dict[str, str] = {
    "dd/mm/yy": "{dd}/{mm}/{yy}",                    # 23/11/26
    "d.m.yyyy": "{d}.{m}.{yyyy}",                    # 23.11.2026
    "dd-Mon-yy": "{dd}-{Mon}-{yy}",                  # 23-Nov-26
    "d Mon yyyy": "{d} {Mon} {yyyy}",                # 23 Nov 2026
    "Mon d, yyyy": "{Mon} {d}, {yyyy}",              # Nov 23, 2026
    "Mon dth, yyyy": "{Mon} {dth}, {yyyy}",          # Nov 23rd, 2026
    "d Month yyyy": "{d} {Month} {yyyy}",            # 23 November 2026
    "Month d, yyyy": "{Month} {d}, {yyyy}",          # November 23, 2026
    "Wkd d Mon yy": "{Wkd} {d} {Mon} {yy}",          # Mon 23 Nov 26
    "Weekday dd/mm/yy": "{Weekday} {dd}/{mm}/{yy}",  # Monday 23/11/26
    "the dth of Mon yy": "the {dth} of {Mon} {yy}",  # the 23rd of Nov 26
}

#: Formats reserved for the ``long`` split: the same pieces, more of them at once.
LONG_FORMATS: dict[str, str] = {
    "Weekday, Month dth, yyyy": "{Weekday}, {Month} {dth}, {yyyy}",
    "Weekday, the dth of Month yyyy": "{Weekday}, the {dth} of {Month} {yyyy}",
    "on Weekday d Month yyyy": "on {Weekday} {d} {Month} {yyyy}",
}


def _scan(templates: dict[str, str]) -> tuple[int, int, set[str]]:
    """Shortest and longest rendering of any template over every possible date, and its characters.

    Every (month, day) of a leap year with every weekday: within 1950..2049 each
    such combination is a real date (the calendar repeats every 28 years there),
    and years are always 4 or 2 digits, so this covers every length that occurs.
    """
    lengths, chars = set(), set("0123456789")
    day = _dt.date(2000, 1, 1)
    while day.year == 2000:
        for weekday in range(7):
            parts = _parts(2000, day.month, day.day, weekday)
            texts = [t.format(**parts) for t in templates.values()]
            lengths.update(len(text) for text in texts)
            chars.update(*texts)
        day += _dt.timedelta(days=1)
    return min(lengths), max(lengths), chars


SHORT_MIN_LEN, SHORT_MAX_LEN, _short_chars = _scan(SHORT_FORMATS)
LONG_MIN_LEN, LONG_MAX_LEN, _long_chars = _scan(LONG_FORMATS)
if not LONG_MIN_LEN > SHORT_MAX_LEN:  # a design check on the tables above, not on user input
    raise RuntimeError(f"long formats ({LONG_MIN_LEN}..{LONG_MAX_LEN} chars) must all be longer "
                       f"than short ones ({SHORT_MIN_LEN}..{SHORT_MAX_LEN})")
if not _long_chars <= _short_chars:
    raise RuntimeError(f"long formats use characters never seen in training: "
                       f"{sorted(_long_chars - _short_chars)}")

#: Every character a source string can contain, sorted (the long formats add none).
SOURCE_CHARS = "".join(sorted(_short_chars))
#: Every character a target string can contain, sorted.
TARGET_CHARS = "-0123456789"


def render(date: _dt.date, fmt: str) -> str:
    """Write ``date`` in the format named ``fmt`` (a key of SHORT_FORMATS or LONG_FORMATS).

    >>> import datetime
    >>> render(datetime.date(2026, 11, 23), "Mon dth, yyyy")
    'Nov 23rd, 2026'
    """
    if not isinstance(date, _dt.date):
        raise TypeError(f"`date` must be a datetime.date; got {type(date).__name__}")
    templates = {**SHORT_FORMATS, **LONG_FORMATS}
    if fmt not in templates:
        raise ValueError(f"`fmt` must be one of {sorted(templates)}; got {fmt!r}")
    if not FIRST_DATE <= date <= LAST_DATE:
        raise ValueError(f"`date` must be between {FIRST_DATE} and {LAST_DATE} (two-digit years "
                         f"would be ambiguous outside); got {date}")
    return templates[fmt].format(**_parts(date.year, date.month, date.day, date.weekday()))


def iso(date: _dt.date) -> str:
    """The target: ``YYYY-MM-DD``."""
    return date.isoformat()


def make_splits(seed: int = 0, *, n_train: int = 6000, n_val: int = 500, n_test: int = 1000,
                n_long: int = 1000) -> dict[str, list[tuple[str, str]]]:
    """Draw the four splits of (source, target) pairs, deterministically from ``seed``.

    Args:
        seed: the seed of the private :class:`random.Random` used; the same seed
            and sizes always give the same lists (no global random state is used).
        n_train, n_val, n_test, n_long: how many pairs in each split.

    Returns:
        ``{"train": [...], "val": [...], "test": [...], "long": [...]}``, each a
        list of ``(source, target)`` string pairs such as
        ``("Nov 23rd, 2026", "2026-11-23")``.  The splits have no date in
        common; ``train``, ``val``, ``test`` use :data:`SHORT_FORMATS` and ``long``
        uses :data:`LONG_FORMATS`, so every ``long`` source is longer than every
        ``train`` source.
    """
    _checks.positive_int(n_train, "n_train")
    for name, n in [("n_val", n_val), ("n_test", n_test), ("n_long", n_long)]:
        _checks.positive_int(n, name)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"`seed` must be an int; got {type(seed).__name__} {seed!r}")
    n_days = (LAST_DATE - FIRST_DATE).days + 1
    sizes = {"train": n_train, "val": n_val, "test": n_test, "long": n_long}
    if sum(sizes.values()) > n_days:
        raise ValueError(f"the splits ask for {sum(sizes.values())} distinct dates but only "
                         f"{n_days} exist between {FIRST_DATE} and {LAST_DATE}")
    rng = random.Random(seed)
    offsets = rng.sample(range(n_days), sum(sizes.values()))
    splits, start = {}, 0
    for name, n in sizes.items():
        formats = sorted(LONG_FORMATS if name == "long" else SHORT_FORMATS)
        pairs = []
        for off in offsets[start:start + n]:
            date = FIRST_DATE + _dt.timedelta(days=off)
            pairs.append((render(date, rng.choice(formats)), iso(date)))
        splits[name] = pairs
        start += n
    longest_train = max(len(s) for s, _ in splits["train"])
    shortest_long = min(len(s) for s, _ in splits["long"])
    if not shortest_long > longest_train:  # guaranteed by the formats; kept as a visible check
        raise RuntimeError(f"long inputs ({shortest_long}+ chars) are not longer than the "
                           f"training inputs ({longest_train})")
    return splits


FORMAT_EXAMPLES: dict[str, str] = {
    name: render(_dt.date(2026, 11, 23), name) for name in (*SHORT_FORMATS, *LONG_FORMATS)
}
"""Each format applied to 2026-11-23, for display."""

__all__ = ["FORMAT_EXAMPLES", "LONG_FORMATS", "MONTHS", "SHORT_FORMATS", "SOURCE_CHARS",
           "TARGET_CHARS", "WEEKDAYS", "iso", "make_splits", "ordinal", "render"]
