import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from attnlib.widgets import plot_temperature, temperature_widget  # noqa: E402


def bar_heights(ax):
    return torch.tensor([p.get_height() for p in ax.patches], dtype=torch.float64)


@pytest.mark.parametrize("tau", [0.1, 1.0, 7.5])
def test_plot_temperature_draws_the_softmax(tau):
    z = torch.tensor([2.0, 1.0, -0.5, 0.0])
    ax = plot_temperature(z, tau)
    torch.testing.assert_close(bar_heights(ax), torch.softmax(z.double() / tau, 0))


def test_widget_redraws_for_the_slider_value():
    z = torch.tensor([2.0, 1.0, -0.5])
    w = temperature_widget(z)
    slider = w.children[0]
    assert slider.description == "temperature" and slider.value == 1.0
    slider.value = 10 ** 0.5
    torch.testing.assert_close(bar_heights(w.result), torch.softmax(z.double() / 10 ** 0.5, 0))


@pytest.mark.parametrize("call,exc,pattern", [
    (lambda: plot_temperature(torch.ones(2, 3), 1.0), ValueError, r"`scores` must be 1-D .*\(2, 3\)"),
    (lambda: plot_temperature(torch.ones(3), 0.0), ValueError, r"`temperature` must be a positive"),
    (lambda: plot_temperature([1.0, 2.0], 1.0), TypeError, r"`scores` must be a torch.Tensor"),
    (lambda: temperature_widget(torch.ones(3), low=2.0), ValueError, r"low < 1 < high"),
])
def test_errors(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
