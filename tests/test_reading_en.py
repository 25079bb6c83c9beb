"""The English edition in Chromium: every page read on a phone and on a laptop (the checks
are in tests/reading.py; the Chinese edition is test_reading_zh.py), then every chapter's
figures as those visits measured them: stored sharp, their text readable on a phone."""

import re

import pytest
from browsing import CHAPTERS, LAPTOP, PAGES, PHONE, ROOT
from reading import FIGURES, _measure_figures, laptop_reading, phone_reading

EDITION = "en"


@pytest.mark.parametrize("page", PAGES)
def test_phone_reading(page, visit):
    phone_reading(EDITION, page, visit)


@pytest.mark.parametrize("page", PAGES)
def test_laptop_reading(page, visit):
    laptop_reading(EDITION, page, visit)


# --- figures: sharp when zoomed, labels readable on a phone ---------------------------------

MIN_DENSITY = 2  # stored pixels per CSS pixel shown: a zoomed figure or a HiDPI screen stays sharp
MIN_LABEL_PX = 9  # CSS px of a figure's smallest text on a phone
_NAMED_SIZES = {"xx-small": 0.579, "x-small": 0.694, "small": 0.833, "medium": 1.0,
                "large": 1.2, "x-large": 1.44, "xx-large": 1.728}
_PNG_IN_HTML = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def _png_dpi(data: bytes) -> float:
    """The resolution a PNG says it has (its pHYs chunk; matplotlib writes the figure's dpi)."""
    at = 8
    while at < len(data):
        length, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
        if kind == b"pHYs":
            per_metre = int.from_bytes(data[at + 8:at + 12], "big")
            return round(per_metre * 0.0254, 1)
        at += 12 + length
    return 72.0  # PNG's default when it says nothing


def _stored_figures():
    """sha256 of every figure stored in a chapter -> (where, dpi, smallest text in points).

    The smallest text is what the notebook asks matplotlib for: the font size it sets (the
    last `rcParams["font.size"] = N` at or before the cell, else matplotlib's 10) or any
    smaller `fontsize=`, `labelsize=` or `font_size=` in the cell itself.
    """
    import base64
    import hashlib

    import nbformat

    figures = {}
    for chapter in CHAPTERS:
        nb = nbformat.read(ROOT / f"{chapter}.ipynb", as_version=4)
        base = 10.0
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            for m in re.finditer(r"font\.size\W+(\d+(?:\.\d+)?)", cell.source):
                base = float(m.group(1))
            sizes = [base]
            for m in re.finditer(r"(?:fontsize|labelsize|font_size)\s*=\s*"
                                 r"(\d+(?:\.\d+)?|[\"'][a-z-]+[\"'])", cell.source):
                value = m.group(1).strip("\"'")
                sizes.append(float(value) if value[0].isdigit()
                             else base * _NAMED_SIZES.get(value, 1.0))
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                pngs = ([data["image/png"]] if "image/png" in data else []) + \
                    _PNG_IN_HTML.findall(data.get("text/html", ""))
                for png in pngs:
                    raw = base64.b64decode(png)
                    figures[hashlib.sha256(raw).hexdigest()] = (
                        f"{chapter} cell {i}", _png_dpi(raw), min(sizes))
    return figures


_FIGURE_PROBLEMS: dict[str, list[str]] = {}


def _figure_problems(build, visit) -> dict[str, list[str]]:
    """Every figure of every chapter, as the built page shows it at 390 and 1280 px, measured
    once: ``density`` lists those with fewer than two stored pixels per CSS pixel, ``labels``
    those whose smallest text is under 9 CSS px on the phone."""
    import base64
    import hashlib

    if _FIGURE_PROBLEMS:
        return _FIGURE_PROBLEMS
    _, site = build
    stored = _stored_figures()
    assert stored, "no stored figure found: is the test reading the notebooks?"
    density_problems, label_problems, seen = [], [], 0
    for page in CHAPTERS:
        for width in (PHONE, LAPTOP):
            if ("en", page, width) not in FIGURES:  # run alone: measure them here
                v = visit(page, width)
                _measure_figures(v, "en", page, width)
            for fig in FIGURES["en", page, width]:
                src = fig["src"]
                raw = (base64.b64decode(src.split(",", 1)[1]) if src.startswith("data:")
                       else (site / page).parent.joinpath(src).read_bytes())
                where, dpi, points = stored.get(  # else: the build predates the notebook
                    hashlib.sha256(raw).hexdigest(),
                    (f"{page} {src[-20:]} (not in the notebook)", _png_dpi(raw), 10.0))
                seen += 1
                density = fig["natural"] / fig["shown"]
                if density < MIN_DENSITY - 0.01:
                    density_problems.append(
                        f"{where} at {width} px: {fig['natural']} px shown at "
                        f"{fig['shown']:.0f} CSS px ({density:.2f} px per CSS px)")
                label = points * dpi / 72 / density
                if width == PHONE and label < MIN_LABEL_PX - 0.05:
                    label_problems.append(f"{where} at {width} px: its {points:g} pt text is "
                                          f"{label:.1f} CSS px (a narrower figure or larger text)")
    assert seen > 0, "no figure measured in the built pages"
    _FIGURE_PROBLEMS.update(density=density_problems, labels=label_problems)
    return _FIGURE_PROBLEMS


def test_figures_are_stored_at_twice_their_displayed_size(build, visit):
    """At least two stored pixels per CSS pixel for every figure at both widths: figures are
    stored at twice their display size when the notebooks are executed with
    book/ipython_kernel_config.py (dev.py execute does it), slider frames by
    attnlib.widgets.render_frames."""
    problems = _figure_problems(build, visit)["density"]
    assert problems == [], ("figures not sharp (re-execute the notebooks with "
                            "dev.py execute):\n" + "\n".join(problems))


def test_figure_text_is_at_least_9_css_px_on_a_phone(build, visit):
    problems = _figure_problems(build, visit)["labels"]
    assert problems == [], "figure text too small on a phone:\n" + "\n".join(problems)
