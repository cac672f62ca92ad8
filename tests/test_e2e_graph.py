"""The live graph in a real browser (Debian's Chromium driven by Playwright): hover, wheel zoom,
click to expand (and the URL), search, a selection from the link, and EfficientNet-B7 at op level.

Screenshots go to artifacts/graph_*.png.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_support import ARTIFACTS, IDLE, app_server, chromium
from playwright.sync_api import expect

import archlib
from archlib.core.ir import INPUT
from archlib.views.blockgraph import collapse, op_graph

pytestmark = pytest.mark.browser
VIEW = "graph_explore"


@pytest.fixture(scope="module")
def server():
    with app_server("server_graph.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium"), viewport={"width": 1400, "height": 1000},
                  accept_downloads=True) as ctx:
        yield ctx


@pytest.fixture
def page(browser):
    pg = browser.new_page()
    yield pg
    pg.close()


def drawn(page, after: float = 0, timeout: int = 90_000) -> dict:
    """Wait for the graph to be drawn (after time `after`, page clock); what it reports."""
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_function(f"() => ((window.__archlibGraphDrawn || {{}})['{VIEW}'] || {{at: -1}}).at > {after}",
                           timeout=timeout)
    return page.evaluate(f"window.__archlibGraphDrawn['{VIEW}']")


def open_graph(page, server: str, query: str) -> dict:
    page.goto(f"{server}/?{query}")
    info = drawn(page)
    page.locator(".ag-root").scroll_into_view_if_needed()
    page.mouse.move(5, 5)
    return info


def query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()}


def shot(page, name: str) -> None:
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / f"graph_{name}.png"))


def node(page, name: str):
    return page.locator(f'g.node[data-name="{name}"]')


def test_hover_explains_a_box_and_the_wheel_zoom_survives_a_knob(server, page):
    info = open_graph(page, server, "model=mobilenet_v2")
    shot(page, "block")
    want = collapse(op_graph(archlib.analyze("mobilenet_v2")), "block").nodes["s2.b1"]
    node(page, "s2.b1").hover()
    card = page.locator(".ag-card")
    expect(card).to_be_visible()
    for text in ("s2.b1", "block · 8 ops", "16×112×112 → 24×56×56", f"{want['macs']:,}", f"{want['params']:,}"):
        expect(card).to_contain_text(text)
    shot(page, "hover")
    zoom, transform = page.locator(".ag-zoom").inner_text(), page.locator(".svg-pan-zoom_viewport").get_attribute(
        "transform")
    box = page.locator(".ag-stage").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -500)
    expect(page.locator(".ag-zoom")).not_to_have_text(zoom)
    expect(page.locator(".svg-pan-zoom_viewport")).not_to_have_attribute("transform", transform)
    zoomed = page.locator(".ag-zoom").inner_text()
    slider = page.get_by_role("slider", name="resolution")  # same boxes, new numbers: the view stays
    slider.focus()
    slider.press("ArrowRight")
    drawn(page, info["at"])
    expect(page).to_have_url(re.compile(r"resolution="))
    expect(page.locator(".ag-zoom")).to_have_text(zoomed)


def test_a_click_expands_in_place_and_the_url_follows(server, page):
    info = open_graph(page, server, "model=mobilenet_v2")
    node(page, "s2.b1").click()
    info = drawn(page, info["at"])
    assert query(page) == {"model": "mobilenet_v2", "expand": "s2.b1", "focus": "s2.b1"}
    expect(page.locator('g.cluster[data-name="s2.b1"]')).to_have_count(1)
    expect(node(page, "s2.b1.dw")).to_have_count(1)
    expect(node(page, "s2.b1")).to_have_count(0)
    page.mouse.move(5, 5)
    shot(page, "expanded")
    with page.expect_download() as dl:  # the download is the view as shown, with its colour scale
        page.get_by_test_id("stDownloadButton").filter(has_text="SVG").click()
    svg = Path(dl.value.path()).read_text()
    assert 'id="c&#45;s2.b1" class="cluster"' in svg and "MACs per node" in svg
    page.locator('g.cluster[data-name="s2.b1"] > text').first.click()  # the frame's title collapses it
    drawn(page, info["at"])
    expect(node(page, "s2.b1")).to_have_count(1)
    assert "expand" not in query(page)


def test_search_highlights_and_a_link_selects(server, page):
    open_graph(page, server, "model=mobilenet_v2&focus=s4.b1")
    expect(node(page, "s4.b1")).to_have_class(re.compile(r"\bag-selected\b"))
    expect(page.get_by_text(re.compile(r"Selected: s4\.b1"))).to_be_visible()
    g = collapse(op_graph(archlib.analyze("mobilenet_v2")), "block")
    want = [n for n, d in g.nodes(data=True) if "dw" in f"{n} {d['op']} {' '.join(d['kinds'])}"]
    page.locator(".ag-search").fill("dw")
    expect(page.locator("g.node.ag-match")).to_have_count(len(want))
    expect(page.locator(".ag-count")).to_have_text(f"1 of {len(want)}")
    page.locator(".ag-search").press("Enter")
    expect(page.locator(".ag-count")).to_have_text(f"2 of {len(want)}")
    expect(page.locator("g.node.ag-current")).to_have_attribute("data-name", want[1])
    shot(page, "search")


def test_efficientnet_b7_draws_all_its_ops(server, page):
    a = archlib.analyze("efficientnet_b7")
    info = open_graph(page, server, "model=efficientnet_b7&level=op")
    assert info["nodes"] == len(a.rows) + 1 == 817  # 816 ops and the input
    names = page.locator("g.node").evaluate_all("els => els.map(e => e.dataset.name)")
    assert sorted(names) == sorted([INPUT] + [r.name for r in a.rows])
    expect(page.locator("canvas.ag-mini")).to_be_visible()  # the overview strip of a graph too big to read whole
    shot(page, "b7_op")
