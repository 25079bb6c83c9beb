"""attnlib.plotting: the pictures show the input's numbers, labels land, bad input is named."""

import subprocess
import sys

import numpy as np
import pytest
import torch

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from attnlib.plotting import plot_attention, plot_heads  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def weights(*shape, gen=None, device="cpu"):
    return torch.softmax(torch.randn(*shape, generator=gen), dim=-1).to(device)


def test_plot_attention_returns_axes_showing_the_weights(device, gen):
    w = weights(3, 5, gen=gen, device=device).requires_grad_()
    before = w.detach().clone()
    ax = plot_attention(w, x_labels=list("abcde"), y_labels=["x", "y", "z"], title="one map")
    assert isinstance(ax, Axes)
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), before.cpu().numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcde")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y", "z"]
    assert ax.get_title() == "one map"
    assert ax.get_xlabel() == "key" and ax.get_ylabel() == "query"
    # the input is untouched: same values, same device, still part of the graph
    assert torch.equal(w.detach(), before) and w.requires_grad and w.device == before.device


def test_plot_attention_draws_on_a_given_axes(gen):
    fig, (ax1, ax2) = plt.subplots(1, 2)
    out = plot_attention(weights(2, 2, gen=gen), ax=ax2, colorbar=False, xlabel=None)
    assert out is ax2 and not ax1.images and len(ax2.images) == 1
    assert ax2.get_xlabel() == "" and len(fig.axes) == 2  # no colorbar axes added


def test_plot_attention_accepts_half_precision_and_float64(gen):
    w = weights(4, 4, gen=gen)
    for dtype in (torch.bfloat16, torch.float16, torch.float64):
        ax = plot_attention(w.to(dtype))
        np.testing.assert_allclose(np.asarray(ax.images[0].get_array()),
                                   w.to(dtype).float().numpy())


def test_plot_heads_returns_one_axes_per_head(device, gen):
    w = weights(5, 3, 4, gen=gen, device=device)
    axes = plot_heads(w, ncols=2, x_labels=["k0", "k1", "k2", "k3"], suptitle="five heads")
    assert isinstance(axes, np.ndarray) and axes.shape == (5,)
    assert all(isinstance(ax, Axes) for ax in axes)
    for h, ax in enumerate(axes):
        np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), w[h].cpu().numpy())
        assert ax.get_title() == f"head {h}"
        assert ax.images[0].get_clim() == (0.0, pytest.approx(w.max().item()))  # one scale
    fig = axes[0].figure
    assert fig.get_suptitle() == "five heads"
    hidden = [ax for ax in fig.axes if not ax.get_visible()]
    assert len(hidden) == 1  # a 3 x 2 grid for five heads
    assert [t.get_text() for t in axes[4].get_xticklabels()] == ["k0", "k1", "k2", "k3"]


def test_plot_heads_titles_and_default_columns(gen):
    axes = plot_heads(weights(2, 3, 3, gen=gen), titles=["previous", "same word"],
                      y_labels=["a", "b", "c"])
    assert [ax.get_title() for ax in axes] == ["previous", "same word"]
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["a", "b", "c"]
    assert axes[0].get_ylabel() == "query" and axes[1].get_ylabel() == ""


ERRORS = [
    ("attention 3-D", lambda: plot_attention(torch.rand(2, 3, 4)), ValueError,
     r"`weights` must be 2-D with shape \(L, S\); got 3-D shape \(2, 3, 4\)"),
    ("attention 1-D", lambda: plot_attention(torch.rand(4)), ValueError,
     r"`weights` must be 2-D with shape \(L, S\); got 1-D shape \(4,\)"),
    ("heads 2-D", lambda: plot_heads(torch.rand(3, 4)), ValueError,
     r"`weights` must be 3-D with shape \(H, L, S\); got 2-D shape \(3, 4\)"),
    ("numpy weights", lambda: plot_attention(np.zeros((2, 2))), TypeError,
     r"`weights` must be a torch.Tensor; got ndarray"),
    ("int weights", lambda: plot_attention(torch.ones(2, 2, dtype=torch.long)), TypeError,
     r"`weights` must be a floating-point tensor; got dtype torch.int64"),
    ("x_labels length", lambda: plot_attention(torch.rand(2, 4), x_labels=["a", "b", "c"]),
     ValueError, r"`x_labels` must have one label per key \(S\) \(4\); got 3 labels"),
    ("y_labels length", lambda: plot_heads(torch.rand(1, 2, 4), y_labels=["a"]),
     ValueError, r"`y_labels` must have one label per query \(L\) \(2\); got 1 labels"),
    ("labels str", lambda: plot_attention(torch.rand(2, 2), x_labels="the cat"), TypeError,
     r"`x_labels` must be a sequence of labels, one per key \(S\); "
     r"got a str 'the cat' \(use \['the', 'cat'\]"),
    ("titles length", lambda: plot_heads(torch.rand(2, 2, 2), titles=["only one"]), ValueError,
     r"`titles` must have one label per head \(H\) \(2\); got 1 labels"),
    ("ncols zero", lambda: plot_heads(torch.rand(2, 2, 2), ncols=0), ValueError,
     r"`ncols` must be a positive int; got 0"),
    ("colorbar", lambda: plot_attention(torch.rand(2, 2), colorbar="yes"), TypeError,
     r"`colorbar` must be True or False; got str 'yes'"),
]


@pytest.mark.parametrize("call,exc,pattern", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_bad_input_gets_a_helpful_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_default_figures_fit_a_phone_column(gen):
    """However many keys and heads, a default figure is at most MAX_WIDTH inches wide; its
    width still grows with S below that."""
    from attnlib.plotting import MAX_WIDTH

    try:
        wide = plot_attention(torch.rand(6, 40, generator=gen)).figure.get_size_inches()[0]
        narrow = plot_attention(torch.rand(6, 5, generator=gen)).figure.get_size_inches()[0]
        heads = plot_heads(torch.rand(8, 6, 12, generator=gen))[0].figure
        assert wide == MAX_WIDTH and narrow < MAX_WIDTH
        assert heads.get_size_inches()[0] == MAX_WIDTH
    finally:
        plt.close("all")


def test_importing_attnlib_does_not_import_matplotlib():
    code = "import sys, attnlib, attnlib.plotting; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
