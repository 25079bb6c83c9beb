"""Interactive widgets for the chapters (need ipywidgets and matplotlib, imported when used).

A widget only works in a live kernel; the book's static pages show the state
saved when the notebook ran.  Each chapter therefore keeps a static picture of
the same idea next to every widget.
"""

from __future__ import annotations

import math

import torch

from . import _checks


def _check_scores(scores) -> None:
    _checks.tensor(scores, "scores")
    _checks.floating(scores, "scores")
    _checks.rank(scores, "scores", "(S,)", exact=1)


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

    weights = torch.softmax(scores.detach().double().cpu() / temperature, dim=0)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 2.8))
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
        raise ValueError(f"`low` and `high` must satisfy low < 1 < high; got low={low}, high={high}")
    _check_scores(scores)
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(temperature: float):
        ax = plot_temperature(scores, temperature)
        plt.show()
        return ax

    slider = widgets.FloatLogSlider(value=1.0, base=10, min=math.log10(low), max=math.log10(high),
                                    step=0.05, description="temperature")
    return widgets.interactive(draw, temperature=slider)
