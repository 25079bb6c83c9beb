"""Interactive figures for the chapters: a live widget and a static slider.

Two kinds, for two kinds of reader (both need matplotlib, imported when used):

- :func:`temperature_widget` and :func:`live_figure` are ipywidgets controls that
  redraw a figure in a live kernel (Jupyter, Colab; need ipywidgets).
- :func:`static_slider` draws every frame once, when the notebook runs, and
  returns a :class:`StaticSlider`, whose HTML is a range input and one image
  switched by a few lines of inline JavaScript.  It works in the static HTML
  book without a kernel and without a network.

The static slider's HTML, which the book's browser tests rely on: a
``<div class="attnlib-slider" id="ID">`` holding a visible ``<label>`` with
the current value (``<output id="ID-value">``), an ``<input type="range"
id="ID-range">`` and one ``<img id="ID-img" alt="...">`` whose ``src`` (a
``data:image/png;base64,...`` URI) and ``alt`` change on the input's ``input``
event.  ``ID`` is unique per figure.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import math
from collections.abc import Callable, Sequence

import torch

from . import _checks

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_ids = itertools.count()  # makes element ids unique within one kernel


def _check_scores(scores) -> None:
    _checks.tensor(scores, "scores")
    _checks.floating(scores, "scores")
    _checks.rank(scores, "scores", "(S,)", exact=1)


def _temperature_weights(scores: torch.Tensor, temperature: float) -> torch.Tensor:
    return torch.softmax(scores.detach().double().cpu() / temperature, dim=0)


def plot_temperature(scores: torch.Tensor, temperature: float, *, ax=None):
    """Bar chart of ``softmax(scores / temperature)`` for one row of scores.

    Args:
        scores: one row of attention scores.
        temperature: ``tau > 0``; small values sharpen, large values flatten.
        ax: a matplotlib ``Axes``; default a new figure.

    Returns:
        the ``Axes``; its bars' heights are the weights.

    Shapes:
        - scores: ``(S,)``
    """
    _check_scores(scores)
    _checks.positive_number(temperature, "temperature")
    import matplotlib.pyplot as plt

    weights = _temperature_weights(scores, temperature)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 2.8), layout="constrained")
    ax.bar(range(len(weights)), weights.numpy())
    ax.set_ylim(0, 1)
    ax.set_xlabel("key")
    ax.set_ylabel("weight")
    ax.set_title(f"softmax(scores / {temperature:.3g})")
    return ax


def temperature_widget(scores: torch.Tensor, *, low: float = 0.05, high: float = 20.0):
    """A log-scale slider for the temperature, redrawing :func:`plot_temperature`.

    Returns:
        an ``ipywidgets.interactive``; its ``result`` is the last ``Axes`` drawn.

    Shapes:
        - scores: ``(S,)``
    """
    _checks.positive_number(low, "low")
    _checks.positive_number(high, "high")
    if not low < 1.0 < high:
        raise ValueError(f"`low` and `high` must satisfy low < 1 < high; "
                         f"got low={low}, high={high}")
    _check_scores(scores)
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(temperature: float):
        ax = plot_temperature(scores, temperature)
        plt.show()
        return ax

    slider = widgets.FloatLogSlider(
        value=1.0, base=10, min=math.log10(low), max=math.log10(high), step=0.05,
        description="temperature", style={"description_width": "initial"},
        layout=widgets.Layout(width="100%", max_width="32em"))
    return live_figure(draw, f"live temperature slider, {low:g} to {high:g}",
                       temperature=slider)


def live_figure(draw: Callable, summary: str, **controls):
    """``ipywidgets.interactive(draw, **controls)`` whose plain-text form is ``summary``.

    A notebook stores a widget's plain text next to its view; ipywidgets' own
    is one long line listing every control.  Controls given without a
    ``description_width`` get ``"initial"``, so their labels are never cut.

    Returns:
        the ``interactive`` widget; its ``result`` is ``draw``'s last return value.
    """
    import ipywidgets as widgets

    for control in controls.values():
        style = getattr(control, "style", None)
        if style is not None and hasattr(style, "description_width") \
                and not style.description_width:
            style.description_width = "initial"

    class LiveFigure(widgets.interactive):
        def __repr__(self) -> str:
            return summary

    return LiveFigure(draw, **controls)


class StaticSlider:
    """Pre-rendered frames behind a range input: an interactive figure with no kernel.

    Attributes:
        frames: the PNG images, one per slider position.
        values: the label shown for each position (e.g. ``"0.5"``).
        alts: the image's alt text for each position.
        label: the slider's name, shown before the value.
        start: the position shown first.
        element_id: the id of the outer ``<div>``; the input, image and value
            label have ids ``element_id + "-range"``, ``"-img"``, ``"-value"``.
        width: the width in CSS pixels to show the frames at (``None``: their own
            pixel width); frames drawn at twice that stay sharp when zoomed.
    """

    def __init__(self, frames: Sequence[bytes], values: Sequence[str], alts: Sequence[str], *,
                 label: str, start: int = 0, element_id: str | None = None,
                 width: int | None = None):
        frames, values, alts = list(frames), [str(v) for v in values], [str(a) for a in alts]
        if not frames:
            raise ValueError("`frames` must hold at least one PNG image; got none")
        for i, frame in enumerate(frames):
            if not isinstance(frame, bytes):
                raise TypeError(f"`frames` must be PNG images as bytes; frame {i} is a "
                                f"{type(frame).__name__}")
            if not frame.startswith(_PNG_MAGIC):
                raise ValueError(f"`frames` must be PNG images; frame {i} starts with "
                                 f"{frame[:8]!r}")
        for name, seq in (("values", values), ("alts", alts)):
            if len(seq) != len(frames):
                raise ValueError(f"`{name}` must have one entry per frame ({len(frames)}); "
                                 f"got {len(seq)}")
        if any(not a.strip() for a in alts):
            raise ValueError("`alts` must describe every frame; got an empty alt text")
        if not isinstance(start, int) or not 0 <= start < len(frames):
            raise ValueError(f"`start` must be a frame index in [0, {len(frames) - 1}]; "
                             f"got {start!r}")
        self.frames, self.values, self.alts = frames, values, alts
        self.label, self.start = str(label), start
        if width is not None and (isinstance(width, bool) or not isinstance(width, int)
                                  or width < 1):
            raise ValueError(f"`width` must be a positive number of CSS pixels; got {width!r}")
        self.width = width
        if element_id is None:
            digest = hashlib.sha1(b"".join(frames) + json.dumps(values).encode()).hexdigest()
            element_id = f"attnlib-slider-{digest[:10]}-{next(_ids)}"
        self.element_id = element_id

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        return (f"StaticSlider({self.label!r}: {len(self)} frames, "
                f"{self.values[0]} to {self.values[-1]}, showing {self.values[self.start]})")

    def to_html(self) -> str:
        """The slider as one self-contained HTML fragment (inline images and script)."""
        uris = ["data:image/png;base64," + base64.b64encode(f).decode("ascii") for f in self.frames]
        ident, esc = self.element_id, html.escape
        k = self.start

        def js(obj) -> str:  # JSON that cannot end the <script> element early
            return json.dumps(obj).replace("</", "<\\/")

        return "\n".join([
            f'<div class="attnlib-slider" id="{esc(ident)}" style="max-width:100%">',
            f'<label for="{esc(ident)}-range" style="display:block">{esc(self.label)} = '
            f'<output id="{esc(ident)}-value" for="{esc(ident)}-range">'
            f'{esc(self.values[k])}</output></label>',
            f'<input type="range" id="{esc(ident)}-range" min="0" max="{len(self) - 1}" '
            f'step="1" value="{k}" aria-label="{esc(self.label)}" '
            f'style="width:100%;max-width:32em">',
            f'<img id="{esc(ident)}-img" src="{uris[k]}" alt="{esc(self.alts[k])}" '
            + (f'width="{self.width}" ' if self.width else "")
            + 'style="display:block;max-width:100%;height:auto">',
            "</div>",
            "<script>",
            "(function () {",
            f"  var id = {js(ident)}, frames = {js(uris)};",
            f"  var values = {js(self.values)}, alts = {js(self.alts)};",
            '  var range = document.getElementById(id + "-range");',
            '  var img = document.getElementById(id + "-img");',
            '  var out = document.getElementById(id + "-value");',
            '  range.addEventListener("input", function () {',
            "    var k = Number(range.value);",
            "    img.src = frames[k]; img.alt = alts[k]; out.textContent = values[k];",
            "  });",
            "})();",
            "</script>",
        ])

    def _repr_html_(self) -> str:
        return self.to_html()


def render_frames(draw: Callable, values: Sequence, *, figsize=(5.5, 3.0), dpi: int = 100,
                  font_size: float = 12.0, colors: int | None = 64,
                  scale: int = 2) -> list[bytes]:
    """Draw ``draw(fig, value)`` into a fresh figure for every value; return the PNGs.

    Each PNG has ``scale`` times the figure's pixels at ``dpi`` (``figsize * dpi``): shown
    at ``figsize[0] * dpi`` CSS pixels, it stays sharp on a phone or a HiDPI screen.

    Each figure is closed after it is saved, so nothing is shown in the notebook.
    ``colors`` reduces each frame to that many colours (about a third of the
    bytes for line and bar charts); ``None`` keeps matplotlib's full-colour PNG.
    """
    import matplotlib.pyplot as plt

    frames = []
    with plt.rc_context({"font.size": font_size}):
        for value in values:
            fig = plt.figure(figsize=figsize, dpi=dpi, layout="constrained")
            try:
                draw(fig, value)
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=dpi * scale, metadata={"Software": None})
            finally:
                plt.close(fig)
            frames.append(buf.getvalue() if colors is None else _fewer_colors(buf, colors))
    return frames


def _fewer_colors(png: io.BytesIO, colors: int) -> bytes:
    from PIL import Image  # installed with matplotlib

    png.seek(0)
    source = Image.open(png)
    image = source.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    # keep the resolution matplotlib wrote (the pHYs chunk): what the frame's size means
    image.save(out, format="PNG", optimize=True, dpi=source.info.get("dpi", (72, 72)))
    return out.getvalue()


def static_slider(draw: Callable, values: Sequence, *, label: str, alt, fmt: str = "{}",
                  start: int = 0, figsize=(5.5, 3.0), dpi: int = 100,
                  font_size: float = 12.0, colors: int | None = 64) -> StaticSlider:
    """A slider over ``values`` for the static book: every frame drawn now.

    Args:
        draw: ``draw(fig, value)`` draws the picture for one value into ``fig``.
        values: the slider's positions, in order.
        label: the slider's name, shown with the current value.
        alt: the image's alt text, a string or ``alt(value) -> str``.
        fmt: format string for the value shown, e.g. ``"{:.2g}"``.
        start: the index of the value shown first.
        figsize, dpi, font_size: the size of every frame and of its text.
        colors: the number of colours per frame (see :func:`render_frames`).

    Returns:
        a :class:`StaticSlider`; a notebook displays it as HTML.
    """
    values = list(values)
    if not values:
        raise ValueError("`values` must hold at least one slider position; got none")
    if not callable(draw):
        raise TypeError(f"`draw` must be a function draw(fig, value); got {type(draw).__name__}")
    alts = [alt(v) if callable(alt) else alt for v in values]
    frames = render_frames(draw, values, figsize=figsize, dpi=dpi, font_size=font_size,
                           colors=colors)
    return StaticSlider(frames, [fmt.format(v) for v in values], alts, label=label, start=start,
                        width=round(figsize[0] * dpi))


def temperature_slider(scores: torch.Tensor, temperatures: Sequence[float]) -> StaticSlider:
    """The static twin of :func:`temperature_widget`: one frame per temperature.

    Each frame is :func:`plot_temperature`; its alt text names the temperature
    and lists the weights.  The slider starts at ``tau = 1`` if it is among the
    temperatures, else at the first one.

    Shapes:
        - scores: ``(S,)``
    """
    _check_scores(scores)
    temperatures = [float(t) for t in temperatures]
    for t in temperatures:
        _checks.positive_number(t, "temperatures")

    def alt(t: float) -> str:
        w = ", ".join(f"{x:.2f}" for x in _temperature_weights(scores, t).tolist())
        return f"Bar chart of softmax(scores / τ) at τ = {t:.3g}: weights {w}"

    return static_slider(lambda fig, t: plot_temperature(scores, t, ax=fig.add_subplot()),
                         temperatures, label="temperature τ", alt=alt, fmt="{:.3g}",
                         start=temperatures.index(1.0) if 1.0 in temperatures else 0)
