"""Suite-wide options: `pytest --no-browser` skips the JupyterLab-in-Chromium tests."""

import pytest


def pytest_addoption(parser):
    parser.addoption("--no-browser", action="store_true", default=False,
                     help="skip tests that drive JupyterLab in headless Chromium (marked 'browser')")


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--no-browser"):
        return
    skip = pytest.mark.skip(reason="--no-browser given")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
