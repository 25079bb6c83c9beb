"""Pictures of attention weights: one heatmap, or one small heatmap per head.

matplotlib is imported inside the functions, not when ``attnlib`` is imported:
the package itself needs only torch, and plotting is the optional extra
``pip install "attnlib[plot]"``.  The functions take tensors on any device, with
or without gradients, and never change them.
"""

from __future__ import annotations

import math

import torch

from . import _checks

# The widest figure the defaults draw, in inches: a phone shows it in a column of about 358 CSS
# px, where 12 pt text (the book's size) is still 9 px tall.
MAX_WIDTH = 6.4


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "attnlib's plotting helpers need matplotlib; install it with "
            "`pip install matplotlib` or `pip install \"attnlib[plot]\"`"
        ) from err
    return plt


def _to_numpy(weights: torch.Tensor):
    """A detached CPU copy as a NumPy array (half precision widened to float32)."""
    w = weights.detach().cpu()
    if w.dtype in (torch.float16, torch.bfloat16):
        w = w.float()
    return w.numpy()


def _check_weights(weights, name: str, legend: str, rank: int) -> None:
    _checks.tensor(weights, name)
    _checks.floating(weights, name)
    _checks.rank(weights, name, legend, exact=rank)


def _check_labels(labels, name: str, expected: int, what: str) -> list[str] | None:
    if labels is None:
        return None
    if isinstance(labels, str):
        raise TypeError(f"`{name}` must be a sequence of labels, one per {what}; got a str "
                        f"{labels!r} (use {labels.split()!r} for one label per word)")
    labels = [str(x) for x in labels]
    if len(labels) != expected:
        raise ValueError(f"`{name}` must have one label per {what} ({expected}); "
                         f"got {len(labels)} labels")
    return labels


def _decorate(ax, S: int, L: int, x_labels, y_labels, xlabel, ylabel, title) -> None:
    if x_labels is not None:
        ax.set_xticks(range(S))
        ax.set_xticklabels(x_labels, rotation=90)
    if y_labels is not None:
        ax.set_yticks(range(L))
        ax.set_yticklabels(y_labels)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)


def plot_attention(weights: torch.Tensor, *, ax=None, x_labels=None, y_labels=None,
                   title: str | None = None, xlabel: str | None = "key",
                   ylabel: str | None = "query", cmap: str = "viridis",
                   colorbar: bool = True):
    """Draw an ``(L, S)`` weight matrix as a heatmap: row ``i`` is query ``i``'s weights.

    Args:
        weights: floating-point tensor on any device (detached and copied to the
            CPU for drawing; the tensor itself is not changed).
        ax: a matplotlib ``Axes`` to draw on; default a new figure, at most
            ``MAX_WIDTH`` inches wide.
        x_labels: ``S`` labels for the keys (columns), e.g. the words.
        y_labels: ``L`` labels for the queries (rows).
        title, xlabel, ylabel: texts; ``None`` leaves one out.
        cmap: a matplotlib colormap name.
        colorbar: add a colorbar next to the heatmap.

    Returns:
        the ``Axes`` drawn on; its image is ``ax.images[0]``.

    Shapes:
        - weights: ``(L, S)``
    """
    _check_weights(weights, "weights", "(L, S)", 2)
    L, S = weights.shape
    x_labels = _check_labels(x_labels, "x_labels", S, "key (S)")
    y_labels = _check_labels(y_labels, "y_labels", L, "query (L)")
    _checks.boolean(colorbar, "colorbar")
    plt = _pyplot()
    if ax is None:
        width = min(MAX_WIDTH, max(3.5, 1.5 + 0.4 * S))
        height = min(8.0, max(2.5, 1.0 + 0.35 * L))
        _, ax = plt.subplots(figsize=(width, height), layout="constrained")
    image = ax.imshow(_to_numpy(weights), cmap=cmap, aspect="auto", interpolation="nearest")
    _decorate(ax, S, L, x_labels, y_labels, xlabel, ylabel, title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax)
    return ax


def plot_heads(weights: torch.Tensor, *, ncols: int | None = None, x_labels=None,
               y_labels=None, titles=None, suptitle: str | None = None,
               xlabel: str | None = "key", ylabel: str | None = "query",
               cmap: str = "viridis", figsize: tuple[float, float] | None = None):
    """One heatmap per head, side by side, on one colour scale (0 to the largest weight).

    Args:
        weights: floating-point tensor on any device, e.g. ``weights[b]`` of
            :class:`attnlib.MultiHeadAttention`'s output (not changed).
        ncols: heads per row; default ``min(H, 4)``.
        x_labels: ``S`` labels for the keys; y_labels: ``L`` labels for the queries.
        titles: ``H`` titles; default ``"head 0"``, ``"head 1"``, ...
        suptitle: a title for the whole figure.
        xlabel, ylabel: axis texts, written on the outer axes only.
        cmap: a matplotlib colormap name.
        figsize: the figure size; default grows with ``H``, ``L`` and ``S``, at most
            ``MAX_WIDTH`` inches wide.

    Returns:
        a 1-D NumPy array of ``H`` ``Axes``, ``axes[h]`` showing head ``h``.  Unused
        grid cells are hidden.

    Shapes:
        - weights: ``(H, L, S)``
    """
    _check_weights(weights, "weights", "(H, L, S)", 3)
    H, L, S = weights.shape
    if ncols is None:
        ncols = min(H, 4)
    _checks.positive_int(ncols, "ncols")
    ncols = min(ncols, H)
    nrows = math.ceil(H / ncols)
    x_labels = _check_labels(x_labels, "x_labels", S, "key (S)")
    y_labels = _check_labels(y_labels, "y_labels", L, "query (L)")
    titles = _check_labels(titles, "titles", H, "head (H)")
    if titles is None:
        titles = [f"head {h}" for h in range(H)]
    plt = _pyplot()
    if figsize is None:
        cell_w, cell_h = min(4.0, 1.0 + 0.3 * S), min(4.0, 1.0 + 0.3 * L)
        figsize = (min(MAX_WIDTH, ncols * cell_w + 1.0),
                   nrows * cell_h + (0.6 if suptitle else 0.2))
    fig, grid = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, sharex=True,
                             sharey=True, layout="constrained")
    data = _to_numpy(weights)
    vmax = float(data.max()) if data.size and data.max() > 0 else 1.0
    axes = grid.ravel()
    image = None
    for h in range(H):
        ax = axes[h]
        image = ax.imshow(data[h], cmap=cmap, vmin=0.0, vmax=vmax, aspect="auto",
                          interpolation="nearest")
        first_in_row = h % ncols == 0
        last_in_column = h + ncols >= H  # nothing drawn below it
        if last_in_column:
            ax.tick_params(labelbottom=True)  # sharex hid them if a hidden cell is below
        _decorate(ax, S, L, x_labels, y_labels, xlabel if last_in_column else None,
                  ylabel if first_in_row else None, titles[h])
    for ax in axes[H:]:
        ax.set_visible(False)
    fig.colorbar(image, ax=list(axes[:H]), shrink=0.8)
    if suptitle:
        fig.suptitle(suptitle)
    return axes[:H]
