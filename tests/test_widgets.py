import base64
import io
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from attnlib.widgets import (StaticSlider, live_figure, plot_temperature,  # noqa: E402
                             render_frames, static_slider, temperature_slider,
                             temperature_widget)

PNG = b"\x89PNG\r\n\x1a\n"


def bar_heights(ax):
    return torch.tensor([p.get_height() for p in ax.patches], dtype=torch.float64)


@pytest.mark.parametrize("tau", [0.1, 1.0, 7.5])
def test_plot_temperature_draws_the_softmax(tau):
    z = torch.tensor([2.0, 1.0, -0.5, 0.0])
    ax = plot_temperature(z, tau)
    torch.testing.assert_close(bar_heights(ax), torch.softmax(z.double() / tau, 0))


def test_widget_redraws_for_the_slider_value_and_shows_its_whole_label():
    z = torch.tensor([2.0, 1.0, -0.5])
    w = temperature_widget(z)
    slider = w.children[0]
    assert slider.description == "temperature" and slider.value == 1.0
    assert slider.style.description_width == "initial"  # the label is not cut to a fixed width
    slider.value = 10 ** 0.5
    torch.testing.assert_close(bar_heights(w.result), torch.softmax(z.double() / 10 ** 0.5, 0))


def test_live_figure_stores_a_short_plain_text_and_uncut_labels():
    import ipywidgets as widgets

    seen = []
    head = widgets.Dropdown(options=[("head 0: previous word", 0), ("head 1", 1)],
                            description="head")
    query = widgets.IntSlider(value=2, min=0, max=5, description="query")
    w = live_figure(lambda head, query: seen.append((head, query)) or head + query,
                    "live heads", head=head, query=query)
    bundle = w._repr_mimebundle_()
    assert bundle["text/plain"] == "live heads"
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert head.style.description_width == query.style.description_width == "initial"
    query.value = 4
    assert seen[-1] == (0, 4) and w.result == 4
    assert temperature_widget(torch.ones(3))._repr_mimebundle_()["text/plain"] == (
        "live temperature slider, 0.05 to 20")


# --- the static slider -------------------------------------------------------------------


class Tags(HTMLParser):
    """Every start tag as (tag, attrs, index of the enclosing div or None), and script text."""

    def __init__(self):
        super().__init__()
        self.tags, self.scripts, self._divs, self._in_script = [], [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs), self._divs[-1] if self._divs else None))
        if tag == "div":
            self._divs.append(len(self.tags) - 1)
        self._in_script = tag == "script"
        if tag == "script":
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "div":
            self._divs.pop()
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def parse(markup):
    p = Tags()
    p.feed(markup)
    p.close()
    return p


def js_array(script, name):
    """The JSON value assigned to `name` in the slider's script."""
    m = re.search(rf"\b{name} = (\[.*?\]|\".*?\")[,;]", script)
    assert m, f"{name} not found in the script"
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def slider():
    return temperature_slider(torch.tensor([2.0, 1.0, 0.0, -1.0]), [0.1, 0.5, 1.0, 2.0, 10.0])


def test_temperature_slider_has_one_png_frame_per_temperature(slider):
    assert len(slider) == len(slider.frames) == 5
    assert all(f.startswith(PNG) for f in slider.frames)
    assert len(set(slider.frames)) == 5, "every temperature must draw a different picture"
    assert slider.values == ["0.1", "0.5", "1", "2", "10"]
    assert slider.start == 2 and slider.values[slider.start] == "1"  # starts at tau = 1
    w = torch.softmax(torch.tensor([2.0, 1.0, 0.0, -1.0]).double() / 0.5, 0)
    assert slider.alts[1] == ("Bar chart of softmax(scores / τ) at τ = 0.5: weights "
                              + ", ".join(f"{x:.2f}" for x in w.tolist()))
    assert repr(slider) == "StaticSlider('temperature τ': 5 frames, 0.1 to 10, showing 1)"


def test_frames_are_what_draw_draws():
    import matplotlib.pyplot as plt

    heights, open_before = [], plt.get_fignums()

    def draw(fig, value):
        heights.append(value)
        fig.add_subplot().bar([0, 1], [value, 1 - value])

    frames = render_frames(draw, [0.2, 0.7])
    assert heights == [0.2, 0.7] and len(frames) == 2 and frames[0] != frames[1]
    from PIL import Image
    full = render_frames(draw, [0.2], colors=None)[0]
    small = Image.open(io.BytesIO(frames[0]))
    assert small.mode == "P" and len(small.getcolors()) <= 64  # the default: 64 colours
    assert Image.open(io.BytesIO(full)).mode == "RGBA" and len(frames[0]) < len(full)
    assert small.size == (1100, 600)  # figsize (5.5, 3.0) at 100 dpi, stored at twice that
    # and says so, as matplotlib's own PNG does (the pHYs chunk: 200 dots per inch)
    assert [round(d) for d in small.info["dpi"]] == [200, 200]
    assert Image.open(io.BytesIO(full)).info["dpi"] == small.info["dpi"]
    once = render_frames(draw, [0.2], scale=1)[0]
    assert Image.open(io.BytesIO(once)).size == (550, 300)
    html = static_slider(draw, [0.2, 0.7], label="v", alt="bars").to_html()
    assert 'width="550"' in html  # shown at the figure's own size: two pixels per CSS pixel
    assert plt.get_fignums() == open_before, "render_frames must close its figures"


def test_html_follows_the_contract(slider):
    markup = slider._repr_html_()
    p = parse(markup)
    divs = [(i, a) for i, (t, a, _) in enumerate(p.tags) if t == "div"]
    assert len(divs) == 1 and divs[0][1]["class"] == "attnlib-slider"
    root, ident = divs[0][0], divs[0][1]["id"]
    inside = [(t, a) for t, a, parent in p.tags if parent == root]
    ranges = [a for t, a in inside if t == "input" and a.get("type") == "range"]
    imgs = [a for t, a in inside if t == "img"]
    labels = [a for t, a in inside if t == "label"]
    outputs = [a for t, a in inside if t == "output"]
    assert len(ranges) == 1 and len(imgs) == 1 and len(labels) == 1 and len(outputs) == 1
    rng, img = ranges[0], imgs[0]
    assert (rng["min"], rng["max"], rng["value"]) == ("0", "4", "2")
    assert labels[0]["for"] == rng["id"] == f"{ident}-range"
    assert img["id"] == f"{ident}-img" and outputs[0]["id"] == f"{ident}-value"
    assert img["src"] == "data:image/png;base64," + base64.b64encode(slider.frames[2]).decode()
    assert img["alt"] == slider.alts[2]
    assert re.search(r"temperature τ = <output [^>]*>1</output>", markup), "visible value"
    # the script swaps in the frame, alt and value of the position chosen
    (script,) = p.scripts
    assert js_array(script, "id") == ident
    frames = js_array(script, "frames")
    assert [base64.b64decode(u.split(",", 1)[1]) for u in frames] == slider.frames
    assert js_array(script, "values") == slider.values
    assert js_array(script, "alts") == slider.alts
    assert 'addEventListener("input"' in script
    assert "http" not in markup, "the slider must need no network"


def test_element_ids_are_unique_per_figure():
    draw = lambda fig, v: fig.add_subplot().plot([0, v])  # noqa: E731
    a = static_slider(draw, [1, 2], label="v", alt="a line")
    b = static_slider(draw, [1, 2], label="v", alt="a line")  # the same picture twice
    c = static_slider(draw, [1, 3], label="v", alt="a line")
    ids = {s.element_id for s in (a, b, c)}
    assert len(ids) == 3
    assert all(re.fullmatch(r"[A-Za-z][\w-]*", i) for i in ids)


def test_label_alt_and_values_are_escaped():
    nasty = 'a "quoted" <b>&</b> </script><script>alert(1)</script>'
    s = StaticSlider([render_frames(lambda f, v: f.add_subplot(), [0])[0]] * 2,
                     [nasty, "2"], [nasty, "second"], label=nasty)
    markup = s.to_html()
    p = parse(markup)
    assert [t for t, _, _ in p.tags].count("script") == 1, "no script may be injected"
    assert [t for t, _, _ in p.tags].count("b") == 0, "no markup may be injected"
    img = next(a for t, a, _ in p.tags if t == "img")
    assert img["alt"] == nasty  # the attribute round-trips exactly
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in markup
    (script,) = p.scripts
    assert js_array(script, "values") == [nasty, "2"]
    assert js_array(script, "alts") == [nasty, "second"]


@pytest.mark.parametrize("call,exc,pattern", [
    (lambda: plot_temperature(torch.ones(2, 3), 1.0), ValueError, r"`scores` must be 1-D .*\(2, 3\)"),
    (lambda: plot_temperature(torch.ones(3), 0.0), ValueError, r"`temperature` must be a positive"),
    (lambda: plot_temperature([1.0, 2.0], 1.0), TypeError, r"`scores` must be a torch.Tensor"),
    (lambda: temperature_widget(torch.ones(3), low=2.0), ValueError, r"low < 1 < high"),
    (lambda: temperature_slider(torch.ones(3), [1.0, -2.0]), ValueError,
     r"`temperatures` must be a positive"),
    (lambda: static_slider(lambda f, v: None, [], label="x", alt="y"), ValueError,
     r"`values` must hold at least one"),
    (lambda: static_slider("draw", [1], label="x", alt="y"), TypeError,
     r"`draw` must be a function .* got str"),
    (lambda: StaticSlider([], [], [], label="x"), ValueError, r"`frames` must hold"),
    (lambda: StaticSlider(["a.png"], ["1"], ["y"], label="x"), TypeError,
     r"`frames` must be PNG images as bytes; frame 0 is a str"),
    (lambda: StaticSlider([b"GIF89a.."], ["1"], ["y"], label="x"), ValueError,
     r"frame 0 starts with b'GIF89a"),
    (lambda: StaticSlider([PNG], ["1", "2"], ["y"], label="x"), ValueError,
     r"`values` must have one entry per frame \(1\); got 2"),
    (lambda: StaticSlider([PNG], ["1"], [" "], label="x"), ValueError, r"`alts` must describe"),
    (lambda: StaticSlider([PNG], ["1"], ["y"], label="x", start=1), ValueError,
     r"`start` must be a frame index in \[0, 0\]; got 1"),
])
def test_errors(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


# --- the slider in a real browser (the same Chromium as tests/test_browser.py) -----------

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def test_moving_the_slider_changes_the_picture_in_a_browser(slider):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the browser tests: install Debian's chromium")
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    other = temperature_slider(torch.tensor([0.0, 1.0]), [0.5, 1.0])
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 390, "height": 800})
        errors, requests = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url)
                if not r.url.startswith(("data:", "about:")) else None)
        page.set_content(f"<!doctype html><html><body>{slider.to_html()}"
                         f"{other.to_html()}</body></html>")
        root = page.locator(f"#{slider.element_id}")
        img = root.locator("img")
        assert img.get_attribute("src").endswith(base64.b64encode(slider.frames[2]).decode())
        root.locator("input[type=range]").fill("4")  # fires the input event
        assert img.get_attribute("src").endswith(base64.b64encode(slider.frames[4]).decode())
        assert img.get_attribute("alt") == slider.alts[4]
        assert root.locator("label").inner_text() == "temperature τ = 10"
        # the other figure on the page did not move
        assert page.locator(f"#{other.element_id} output").inner_text() == "1"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        browser.close()
    assert errors == [] and requests == []
