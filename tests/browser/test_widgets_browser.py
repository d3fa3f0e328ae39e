"""The widgets' browser front end in JupyterLab, driven with the mouse and keyboard in headless Chromium.

A click on the figure adds a point of the selected class (shift-click removes the nearest), and the model
reacts: the perceptron is presented the point, the network trains a frame on it. A burst of slider key
presses ends with the canvas showing the state of the last value. The canvas painted by the browser from
arrays matches matplotlib's own full drawing of the same figure.

Each test writes its own small notebook into the server's folder; the kernel is asked what it holds by
running a cell that prints it, as a user would.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from ._lab_ui import Notebook

pytestmark = pytest.mark.browser

PERCEPTRON_STATUS = re.compile(r"example (\d+)/(\d+), w = \(([-\d.]+), ([-\d.]+)\)")
BOUNDARY_STATUS = re.compile(r"(\d+) training points, epoch (\d+)")


def write_notebook(server, name: str, *sources: str) -> str:
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s}
             for s in sources]
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    path = f"widget_tests/{name}.ipynb"
    (Path(server.root) / "widget_tests").mkdir(exist_ok=True)
    (Path(server.root) / path).write_text(json.dumps(nb))
    return path


def open_widget(page, server, path: str) -> tuple[Notebook, object]:
    """Open and run the notebook; return it and the (painted) canvas of the widget in cell 0."""
    nb = Notebook.open(page, server, path)
    nb.run_all()
    assert not nb.error_outputs(), nb.error_outputs()
    canvas = nb.cell(0).locator("canvas.nnkit-canvas").first
    canvas.wait_for()
    wait_until(lambda: canvas.get_attribute("data-frames"), "the widget's canvas was never painted")
    canvas.scroll_into_view_if_needed()
    return nb, canvas


def wait_until(condition, message: str, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(message)


def kernel_says(nb: Notebook, index: int):
    """Run cell ``index`` (which prints one JSON line) and return what it printed."""
    nb.run_cell(index)
    return json.loads(nb.outputs_text(index).strip().splitlines()[-1])


def canvas_pixels(canvas) -> np.ndarray:
    """The canvas as the browser holds it: (H, W, 4) uint8."""
    from PIL import Image

    url = canvas.evaluate("c => c.toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))


def wait_for_stable_canvas(canvas, quiet_s: float = 0.6, timeout_s: float = 30.0) -> np.ndarray:
    deadline = time.monotonic() + timeout_s
    last, since = canvas_pixels(canvas), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.15)
        now = canvas_pixels(canvas)
        if not np.array_equal(now, last):
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return now
    return last


def click_at(canvas, xy, shift: bool = False) -> None:
    """Click the canvas at canvas pixel ``xy`` (the canvas is shown at its natural size)."""
    canvas.click(position={"x": float(xy[0]), "y": float(xy[1])}, modifiers=["Shift"] if shift else None)


def near(pixels: np.ndarray, xy, rgb, radius: int = 2, tol: int = 40) -> bool:
    """Is there a pixel of colour ``rgb`` within ``radius`` of ``xy``?"""
    x, y = int(round(xy[0])), int(round(xy[1]))
    patch = pixels[y - radius:y + radius + 1, x - radius:x + radius + 1, :3].astype(int)
    return bool((np.abs(patch - np.array(rgb)).max(axis=2) <= tol).any())


TAB_BLUE, TAB_RED = (31, 119, 180), (214, 39, 40)

# Where to click: the grid point of the data axes farthest from every data point, in canvas pixels.
FREE_SPOT = """import json
import numpy as np
def free_spot(w, ax, X):
    xs = np.linspace(*ax.get_xlim(), 40)[4:-4]
    ys = np.linspace(*ax.get_ylim(), 40)[4:-4]
    grid = np.array([(x, y) for x in xs for y in ys])
    best = grid[np.argmax(((grid[:, None, :] - X[None]) ** 2).sum(-1).min(1))]
    px, py = ax.transData.transform(best)
    return [float(px), float(w.fig.bbox.height - py)], [float(v) for v in best]
"""


def test_perceptron_click_adds_a_point_and_the_model_reacts(page, lab_server):
    path = write_notebook(
        lab_server, "perceptron_click",
        "from nnkit.widgets import PerceptronWidget\n"
        "w = PerceptronWidget('separable', n=20, mode='browser')\nw",
        FREE_SPOT + "spot, data_xy = free_spot(w, w.ax, w.X)\nprint(json.dumps(spot))",
        "print(json.dumps({'n': len(w.X), 'last': [float(v) for v in w.X[-1]], 'label': int(w.y[-1]),"
        " 'w': [float(v) for v in w.model.w], 'data_xy': data_xy}))",
    )
    nb, canvas = open_widget(page, lab_server, path)
    widget = nb.cell(0).locator(".jp-OutputArea-output").first
    spot = kernel_says(nb, 1)
    before = wait_for_stable_canvas(canvas)
    assert not near(before, spot, TAB_BLUE), "the free spot is not free"
    status = PERCEPTRON_STATUS.search(widget.inner_text())
    assert status and status.group(2) == "20" and float(status.group(3)) == 0.0

    click_at(canvas, spot)  # "click adds" is +1 by default
    wait_until(lambda: "/21," in widget.inner_text(), "the click did not add a point to the data")
    after = wait_for_stable_canvas(canvas)
    assert near(after, spot, TAB_BLUE), "the new +1 point is not drawn where the click was"
    state = kernel_says(nb, 2)
    assert state["n"] == 21 and state["label"] == 1
    np.testing.assert_allclose(state["last"], state["data_xy"], atol=0.05)  # where the click was
    assert any(state["w"]), "the perceptron was not presented the new point (w is still 0)"

    click_at(canvas, spot, shift=True)  # shift-click removes the nearest point: the new one
    wait_until(lambda: "/20," in widget.inner_text(), "shift-click did not remove the point")
    assert not near(wait_for_stable_canvas(canvas), spot, TAB_BLUE)
    assert kernel_says(nb, 2)["n"] == 20

    click_at(canvas, spot)
    wait_until(lambda: "/21," in widget.inner_text(), "the second click did not add a point")
    widget.locator("button.jupyter-button", has_text=re.compile(r"^\s*reset\s*$")).first.click()
    wait_until(lambda: "/20," in widget.inner_text(), "reset did not restore the data set")
    state = kernel_says(nb, 2)
    assert state["n"] == 20 and not any(state["w"])


def test_boundary_click_adds_a_point_and_the_network_trains_on_it(page, lab_server):
    path = write_notebook(
        lab_server, "boundary_click",
        "from nnkit.widgets import DecisionBoundaryWidget\n"
        "w = DecisionBoundaryWidget('moons', n=120, grid=30, mode='browser')\nw",
        FREE_SPOT + "spot, data_xy = free_spot(w, w.ax, np.vstack([w.X_train, w.X_test]))\n"
        "print(json.dumps(spot))",
        "print(json.dumps({'n': len(w.X_train), 'last': [float(v) for v in w.X_train[-1]],"
        " 'label': int(w.y_train[-1]), 'epoch': w.epoch, 'data_xy': data_xy}))",
    )
    nb, canvas = open_widget(page, lab_server, path)
    widget = nb.cell(0).locator(".jp-OutputArea-output").first
    spot = kernel_says(nb, 1)
    n0, epoch0 = (int(g) for g in BOUNDARY_STATUS.search(widget.inner_text()).groups())
    assert epoch0 == 0
    before = wait_for_stable_canvas(canvas)

    widget.locator("button", has_text="class 0").first.click()
    click_at(canvas, spot)
    wait_until(lambda: f"{n0 + 1} training points, epoch 10" in widget.inner_text(),
               "the click did not add a training point and train a frame on it")
    after = wait_for_stable_canvas(canvas)
    assert not np.array_equal(before, after)
    state = kernel_says(nb, 2)
    assert state["n"] == n0 + 1 and state["label"] == 0 and state["epoch"] == 10
    np.testing.assert_allclose(state["last"], state["data_xy"], atol=0.05)
    # a filled blue point with a black edge where the click was
    assert near(after, spot, TAB_BLUE, radius=3), "the new class-0 point is not drawn where the click was"

    click_at(canvas, spot, shift=True)
    wait_until(lambda: f"{n0} training points" in widget.inner_text(), "shift-click did not remove it")
    assert kernel_says(nb, 2)["n"] == n0


def test_slider_burst_ends_on_the_last_value(page, lab_server):
    presses = 8
    path = write_notebook(
        lab_server, "optimizer_burst",
        "from nnkit.widgets import OptimizerWidget\nw = OptimizerWidget('quadratic', mode='browser')\nw",
        "import json\nprint(json.dumps({'sent': w.view.frames_sent, 'lr': w.lr.value}))",
        "w.view.send_full_scene()  # the current state, painted afresh",
    )
    nb, canvas = open_widget(page, lab_server, path)
    sent0 = kernel_says(nb, 1)["sent"]
    slider = nb.slider("lr", nb.cell(0)).first
    readout = slider.locator(".widget-readout").first
    start = readout.inner_text()
    slider.locator(".noUi-handle").first.focus()
    for _ in range(presses):  # as fast as the keyboard goes
        nb.page.keyboard.press("ArrowRight")
    wait_until(lambda: readout.inner_text() != start, "the slider did not move")
    nb.wait_until_done(60_000)
    after_burst = wait_for_stable_canvas(canvas)
    state = kernel_says(nb, 1)
    assert f"{state['lr']:.4f}" == readout.inner_text().strip(), "the kernel does not hold the last value"
    scenes = state["sent"] - sent0
    assert 1 <= scenes < presses, f"{presses} key presses made {scenes} scenes: stale values were drawn"
    assert canvas.get_attribute("data-frame") == str(state["sent"]), "the last scene sent is not shown"

    nb.run_cell(2)  # the same state sent again: the picture must not change
    time.sleep(0.5)
    assert canvas.get_attribute("data-frame") == str(state["sent"] + 1)
    np.testing.assert_array_equal(wait_for_stable_canvas(canvas), after_burst)


@pytest.mark.parametrize("widget", [
    "PerceptronWidget('separable', n=30, mode='browser'); w.step(33)",
    "OptimizerWidget('rosenbrock', mode='browser'); w.show_frame(120)",
    "ApproximationWidget('sin', hidden=6, mode='browser'); w.train(200)",
    "DecisionBoundaryWidget('moons', n=200, grid=40, mode='browser'); w.train(60)",
])
def test_browser_canvas_looks_like_matplotlib(page, lab_server, widget):
    from PIL import Image

    name = widget.split("(")[0]
    folder = Path(lab_server.root) / "widget_tests"
    full, still = folder / f"{name}-full.png", folder / f"{name}-background.png"
    path = write_notebook(
        lab_server, f"look_{name}",
        f"from nnkit import widgets as W\nw = W.{widget.replace('; ', chr(10))}\nw",
        "import numpy as np\nfrom PIL import Image\n"
        f"open({str(still)!r}, 'wb').write(w.view.background)  # what the kernel sent as still\n"
        "w.fig.canvas.draw()  # matplotlib draws the whole figure\n"
        f"Image.fromarray(np.asarray(w.fig.canvas.buffer_rgba())).save({str(full)!r})",
    )
    nb, canvas = open_widget(page, lab_server, path)
    shown = wait_for_stable_canvas(canvas)[..., :3].astype(int)
    reference = np.asarray(Image.open(full).convert("RGB")).astype(int)
    assert shown.shape == reference.shape
    differ = np.abs(shown - reference).max(axis=2) > 60
    painted = np.abs(shown - np.asarray(Image.open(still).convert("RGB")).astype(int)).max(axis=2) > 60
    assert painted.mean() > 0.002, f"{name}: the browser painted nothing over the background"
    # the same picture up to anti-aliasing, marker outlines and glyphs (the tick labels of axes whose
    # limits follow the model are text the browser rasterises): what differs is a part of what the
    # browser painted (measured: 4-37 %; an artist misplaced or missing makes it about 100 %)
    assert differ.mean() < 0.03 and differ.mean() < 0.5 * painted.mean(), (
        f"{name}: {differ.mean():.2%} of the pixels differ from matplotlib's drawing; "
        f"the browser painted {painted.mean():.2%}")


def test_play_animates_and_pause_stops(page, lab_server):
    path = write_notebook(
        lab_server, "perceptron_play",
        "from nnkit.widgets import PerceptronWidget\n"
        "w = PerceptronWidget('xor', n=20, mode='browser')\nw",
        "import json\nprint(json.dumps({'t': w.t, 'play': w.play.value, 'sent': w.view.frames_sent}))",
    )
    nb, canvas = open_widget(page, lab_server, path)
    widget = nb.cell(0).locator(".jp-OutputArea-output").first
    buttons = widget.locator(".nnkit-player button")
    painted = int(canvas.get_attribute("data-frames"))
    buttons.nth(0).click()  # play
    wait_until(lambda: int(PERCEPTRON_STATUS.search(widget.inner_text()).group(1)) >= 10,
               "play did not present examples")
    buttons.nth(1).click()  # pause
    nb.wait_until_done(30_000)
    time.sleep(0.5)
    state = kernel_says(nb, 1)
    assert state["t"] >= 10 and state["play"] == state["t"], state
    assert int(canvas.get_attribute("data-frames")) >= painted + 5, "play did not repaint frame after frame"
    time.sleep(1.0)
    assert kernel_says(nb, 1)["t"] == state["t"], "pause did not stop the animation"
    buttons.nth(2).click()  # stop: back to the start
    wait_until(lambda: "epoch 1, example 0/20" in widget.inner_text(), "stop did not go back to the start")


def test_reset_while_playing_goes_on_from_the_start(page, lab_server):
    """Ticks still in flight when reset is pressed are not applied: Play goes on from 0 one frame at a
    time, instead of jumping the perceptron ahead by every tick sent since it started."""
    path = write_notebook(
        lab_server, "perceptron_reset_playing",
        "from nnkit.widgets import PerceptronWidget\n"
        "w = PerceptronWidget('xor', n=20, mode='browser')\n"
        "frames = []  # the model's t after every frame, 'reset' where reset was pressed\n"
        "step = w.step\n"
        "w.step = lambda n=1, draw=True: (step(n, draw), frames.append(w.t))[0]\n"
        "w.reset_button.on_click(lambda _b: frames.append('reset'))\nw",
        "import json\nprint(json.dumps({'t': w.t, 'frames': frames}))",
    )
    nb, canvas = open_widget(page, lab_server, path)
    widget = nb.cell(0).locator(".jp-OutputArea-output").first
    buttons = widget.locator(".nnkit-player button")
    buttons.nth(0).click()  # play
    wait_until(lambda: int(PERCEPTRON_STATUS.search(widget.inner_text()).group(1)) >= 12,
               "play did not present examples")
    widget.locator("button.jupyter-button", has_text=re.compile(r"^\s*reset\s*$")).first.click()
    time.sleep(1.5)  # playing on after the reset
    buttons.nth(1).click()  # pause
    nb.wait_until_done(30_000)
    time.sleep(0.5)
    state = kernel_says(nb, 1)
    frames = state["frames"]
    assert frames.count("reset") == 1 and max(frames[:frames.index("reset")]) >= 12, frames
    after = frames[frames.index("reset") + 1:]
    assert len(after) >= 5, f"play did not go on after the reset: {frames}"
    assert after == list(range(1, len(after) + 1)), (
        f"after the reset Play jumped instead of going on from 0 one example a frame: {after}")
    assert state["t"] == after[-1]
