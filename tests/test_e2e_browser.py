"""End-to-end tests in a real browser: Debian's Chromium driven by Playwright, against the real server.

Run with `pytest -m browser tests/test_e2e_browser.py`. Screenshots go to artifacts/.
Needs Debian's Chromium (CI installs it).
"""
from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_support import ARTIFACTS, IDLE, app_server, chromium
from playwright.sync_api import expect

import archlib
from archlib.core.analysis import human

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    """The app as users run it, from the repository root, on a free port."""
    started = time.perf_counter()
    with app_server("server.log") as url:
        yield {"url": url, "started": started}


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium"), viewport={"width": 1400, "height": 2200},
                  accept_downloads=True) as ctx:
        yield ctx


@pytest.fixture
def page(browser):
    pg = browser.new_page()  # a fresh tab: a fresh Streamlit session
    yield pg
    pg.close()


def open_link(page, server, path: str):
    page.goto(server["url"] + path)
    page.wait_for_selector(IDLE, timeout=60_000)
    expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=30_000)


def metric(page, label: str):
    box = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
    return box.first.get_by_test_id("stMetricValue")


def query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()}


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(400)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_first_page_renders(server, page):
    """The default page's numbers on screen (its speed is benchmarks/bench_app.py's, not a test's)."""
    open_link(page, server, "/")
    elapsed = time.perf_counter() - server["started"]
    shot(page, "explore_default")
    from app.ui import state
    a = archlib.analyze(state.default_model())
    expect(metric(page, "MACs")).to_have_text(human(a.totals()["macs"]))
    (ARTIFACTS / "first_render_seconds.txt").write_text(f"{elapsed:.2f}\n")


def test_a_link_too_long_to_read_renders_the_defaults_with_a_message(server, page):
    """A query over the codec's cap is not read: the page renders with its defaults and says why.
    (12,000 characters: over the cap, under the 16 KB request head the web server always takes.)"""
    from app.ui import state
    open_link(page, server, "/?model=mobilenet_v2&width=0.5&q=" + "x" * 12_000)
    expect(page.get_by_text(f"at most {state.MAX_QUERY_CHARS:,} are read")).to_be_visible()
    expect(metric(page, "MACs")).to_have_text(human(archlib.analyze(state.default_model()).totals()["macs"]))
    shot(page, "explore_long_link")
    assert query(page) == {"model": state.default_model()}


def test_shared_link_shows_its_numbers(server, page):
    open_link(page, server, "/?model=mobilenet_v2&width=0.5&resolution=160")
    t = archlib.analyze("mobilenet_v2", width=0.5, resolution=160).totals()
    expect(metric(page, "MACs")).to_have_text(human(t["macs"]))
    expect(metric(page, "Parameters")).to_have_text(human(t["params"]))
    expect(page.get_by_role("slider", name="width")).to_have_value("0.5")
    assert query(page) == {"model": "mobilenet_v2", "width": "0.5", "resolution": "160"}
    expect(page.get_by_test_id("stCode").filter(has_text="width=0.5").first).to_be_visible()
    shot(page, "explore_shared_link")


def test_moving_a_slider_changes_totals_and_url(server, page):
    open_link(page, server, "/?model=mobilenet_v2")
    expect(metric(page, "MACs")).to_have_text(human(archlib.analyze("mobilenet_v2").totals()["macs"]))
    slider = page.get_by_role("slider", name="width")
    slider.focus()
    for _ in range(4):  # step 0.05 each: 1.0 -> 1.2
        slider.press("ArrowRight")
    want = archlib.analyze("mobilenet_v2", width=1.2).totals()
    expect(metric(page, "MACs")).to_have_text(human(want["macs"]), timeout=20_000)
    expect(metric(page, "Parameters")).to_have_text(human(want["params"]))
    page.wait_for_selector(IDLE)
    expect(page).to_have_url(re.compile(r"width=1\.2"))
    assert query(page) == {"model": "mobilenet_v2", "width": "1.2"}
    shot(page, "explore_after_slider")


def test_switching_pages_keeps_the_model(server, page):
    open_link(page, server, "/?model=resnet50&width=0.5")
    for name in ("Scaling", "Compare", "Concepts", "Explore"):
        page.get_by_test_id("stTopNavLink").filter(has_text=name).click()
        page.wait_for_selector(IDLE, timeout=60_000)
        expect(page).to_have_url(re.compile(r"model=resnet50"), timeout=20_000)
        expect(page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model")).to_have_value("resnet50")
        expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=30_000)
        shot(page, f"switch_{name.lower()}")
    t = archlib.analyze("resnet50", width=0.5).totals()
    expect(metric(page, "MACs")).to_have_text(human(t["macs"]))  # the knobs came back with the page


def test_csv_download_parses_with_the_same_totals(server, page):
    import pandas as pd

    open_link(page, server, "/?model=mobilenet_v2&width=0.75&view=layers")
    with page.expect_download() as dl:
        page.get_by_test_id("stDownloadButton").filter(has_text="CSV").click()
    df = pd.read_csv(io.StringIO(Path(dl.value.path()).read_text()))
    a = archlib.analyze("mobilenet_v2", width=0.75)
    t = a.totals()
    assert len(df) == len(a.rows)
    for col in ("params", "macs", "flops", "elementwise", "activations", "buffers", "fvcore"):
        assert int(df[col].sum()) == t[col], col
    shot(page, "explore_layers")


def test_bad_link_warns_and_falls_back(server, page):
    open_link(page, server, "/?model=mobilenet_v2&width=9&level=%5Bx%5D(javascript:alert(1))&colour=red")
    alerts = page.get_by_test_id("stAlert")
    expect(alerts.filter(has_text="width='9' is not allowed")).to_contain_text("[0.1, 3]")
    expect(alerts.filter(has_text="level=")).to_contain_text("one of stage, block, unit, op")
    expect(alerts.filter(has_text="Unknown parameter colour")).to_be_visible()
    assert alerts.locator("a").count() == 0  # nothing from the URL became a link
    expect(metric(page, "MACs")).to_have_text(human(archlib.analyze("mobilenet_v2").totals()["macs"]))
    assert query(page) == {"model": "mobilenet_v2"}
    shot(page, "explore_bad_link")


def test_scaling_link(server, page):
    open_link(page, server, "/scaling?phi=2&budget=400M")
    base = archlib.analyze("efficientnet_b0").totals()["macs"]
    ratio = archlib.analyze("efficientnet_b0", phi=2.0).totals()["macs"] / base
    expect(metric(page, "Computed growth")).to_have_text(f"×{ratio:.3f}")
    expect(page.get_by_text(re.compile(r"φ = [\d.]+ uses"))).to_be_visible()
    shot(page, "scaling_efficientnet")
    page.get_by_test_id("stButtonGroup").get_by_text("MobileNet α, ρ").click()
    page.wait_for_selector(IDLE)
    expect(metric(page, "Computed cost")).to_be_visible(timeout=20_000)
    expect(page).to_have_url(re.compile(r"lab=mobilenet"))
    shot(page, "scaling_mobilenet")
    page.get_by_test_id("stButtonGroup").get_by_text("RegNet widths").click()
    page.wait_for_selector(IDLE)
    shot(page, "scaling_regnet")


def test_compare_and_concepts_links(server, page):
    open_link(page, server, "/compare?model=mobilenet_v2&n=3&m2=mobilenet_v1&m3=resnet18&m3.width=0.5")
    for m, k in (("mobilenet_v2", {}), ("mobilenet_v1", {}), ("resnet18", {"width": 0.5})):
        expect(page.get_by_test_id("stMetricValue").get_by_text(human(archlib.analyze(m, **k).totals()["macs"]),
                                                                exact=True).first).to_be_visible()
    shot(page, "compare")
    open_link(page, server, "/concepts?cin=16&cout=32&k=3&size=28")
    expect(metric(page, "Standard MACs")).to_have_text(human(3 * 3 * 16 * 32 * 28 * 28))
    shot(page, "concepts")


@pytest.mark.skipif(os.environ.get("ARCHLIB_SKIP_CROSSCHECK") == "1", reason="asked to skip")
def test_crosscheck_panel(server, page):
    open_link(page, server, "/?model=mobilenet_v2&resolution=96&view=crosscheck")
    page.get_by_role("button", name=re.compile("Run the cross-check")).click()
    expect(page.get_by_text(re.compile("FlopCounterMode agrees"))).to_be_visible(timeout=90_000)
    expect(page.get_by_text(re.compile("fvcore agrees"))).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"]:visible').first).to_be_visible()  # others sit in closed tabs
    page.wait_for_timeout(1500)  # the table's canvas paints after the element appears
    shot(page, "explore_crosscheck")
