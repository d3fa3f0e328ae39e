"""The instructor's JupyterLab has nbgrader's extensions: the Nbgrader menu, formgrader, assignment list.

Checked in the browser (what an instructor clicks), not only with ``jupyter labextension list``: the
front-end extension must load and its server extensions must answer.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

NBGRADER_ITEMS = ("Assignment List", "Course List", "Formgrader", "Create assignment")


def open_nbgrader_menu(page) -> list[str]:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).click()
    menu = page.locator(".lm-Menu").last
    menu.wait_for()
    return [label.strip() for label in menu.locator(".lm-Menu-itemLabel").all_inner_texts()]


def test_nbgrader_menu_formgrader_and_assignment_list(page, lab_server):
    page.goto(lab_server.lab_url(workspace="nbgrader-extensions"), wait_until="domcontentloaded")
    page.locator(".lm-MenuBar-itemLabel").first.wait_for(timeout=120_000)
    menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
    assert "Nbgrader" in menus, f"no Nbgrader menu in JupyterLab's menu bar: {menus}"

    items = open_nbgrader_menu(page)
    missing = [item for item in NBGRADER_ITEMS if item not in items]
    assert not missing, f"the Nbgrader menu lacks {missing} (has {items})"

    # Formgrader: a tab whose page is served by nbgrader's server extension.
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Formgrader$")).click()
    page.locator(".lm-TabBar-tab", has_text="Formgrader").first.wait_for()
    formgrader = page.frame_locator("iframe[src*='formgrader']").first
    formgrader.get_by_text("Manage Assignments").first.wait_for(timeout=60_000)

    # Assignment list: the students' panel, answered by the assignment_list server extension.
    open_nbgrader_menu(page)
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Assignment List$")).click()
    page.locator(".lm-TabBar-tab", has_text="Assignments").first.wait_for()
    page.get_by_text("Released assignments").first.wait_for()

    # Create assignment: the instructor's cell-metadata sidebar.
    assert page.locator(".lm-TabBar-tab", has_text="Create Assignment").count() >= 1, (
        "nbgrader's Create Assignment sidebar is missing"
    )
