"""Driving a widget as the browser and the kernel would, without either (shared by the widget tests)."""

from __future__ import annotations

import asyncio
import threading


def click(w, ax, x, y, shift=False):
    """What the browser sends for a click at data point (x, y) of ``ax``."""
    px, py = ax.transData.transform((x, y))
    w.view._on_front_end_msg(w.view, {"click": [float(px), float(py)], "shift": shift}, [])


def on_own_loop(coroutine):
    """``asyncio.run(coroutine())`` on an event loop of its own, in a thread: the test process may have
    another library's loop running in this one (Playwright's sync API leaves one)."""
    out = []
    thread = threading.Thread(target=lambda: out.append(asyncio.run(coroutine())))
    thread.start()
    thread.join(60)
    return out[0]
