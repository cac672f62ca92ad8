"""The stage-table editor in a real browser (Debian's Chromium, Playwright): open a link with a
custom table, edit a row in the grid, and see the totals and the URL follow."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_support import ARTIFACTS, IDLE, app_server, chromium
from playwright.sync_api import expect

import archlib
from archlib.core.analysis import human

pytestmark = pytest.mark.browser

CUSTOM = "t1k3s1c16n1-t6k3s2c24n2-t6k7s2c40n2-t6k3s2c80n3"
EDITED = "t1k3s1c16n1-t6k3s2c24n2-t6k7s2c48n2-t6k3s2c80n3"  # row 3: c 40 -> 48
ROW_H = 35  # the grid's header and row height (px)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with app_server("stages_server.log") as url:
        with chromium(tmp_path_factory.mktemp("chromium"), viewport={"width": 1500, "height": 1400}) as ctx:
            pg = ctx.new_page()
            pg.base = url
            yield pg


def macs(page) -> str:
    box = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text("MACs",
                                                                                                       exact=True))
    return box.first.get_by_test_id("stMetricValue").inner_text()


def wait_idle(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=60_000)


def test_open_a_custom_table_link_and_edit_a_row(page):
    page.goto(f"{page.base}/?model=efficientnet_b0&stages={CUSTOM}")
    wait_idle(page)
    grid = page.get_by_test_id("stExpander").get_by_test_id("stDataFrame")
    expect(grid).to_be_visible(timeout=30_000)
    assert macs(page) == human(archlib.analyze("efficientnet_b0", stages=CUSTOM).totals()["macs"])
    assert page.locator("#glide-cell-6-2").inner_text() == "40"  # row 3's c, in the grid's accessible table
    grid.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "stages_editor_link.png"))

    box = grid.bounding_box()
    page.mouse.click(box["x"] + 60, box["y"] + ROW_H + ROW_H / 2)  # row 1, the first column
    page.wait_for_timeout(300)
    for key in ["ArrowDown"] * 2 + ["ArrowRight"] * 5:  # row 3; stage, vs paper, t, k, s -> c
        page.keyboard.press(key)
    page.keyboard.press("Enter")  # opens the cell's editor: an input holding the cell's value
    cell = page.locator("input.gdg-input")
    expect(cell).to_have_value("40", timeout=10_000)
    cell.fill("48")
    cell.press("Enter")
    deadline = time.time() + 60
    while parse_qs(urlsplit(page.url).query).get("stages") != [EDITED] and time.time() < deadline:
        page.wait_for_timeout(200)
    wait_idle(page)
    assert parse_qs(urlsplit(page.url).query)["stages"] == [EDITED]
    expect(page.get_by_test_id("stMetric").filter(has_text="MACs").first).to_contain_text(
        human(archlib.analyze("efficientnet_b0", stages=EDITED).totals()["macs"]))
    expect(page.locator("#glide-cell-6-2")).to_have_text("48")
    expect(page.locator("#glide-cell-2-2")).to_have_text("✎ changed")
    sidebar_box = page.get_by_test_id("stSidebar").get_by_test_id("stTextInputField").and_(
        page.get_by_label("stages", exact=True))
    expect(sidebar_box).to_have_value(EDITED)
    page.get_by_test_id("stExpander").get_by_test_id("stDataFrame").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "stages_editor_edited.png"))
