"""The Pareto page in a real browser (Playwright driving Debian's Chromium): the chart draws,
a click on a published point opens it in Explore, and a measurement appears on the
measured-latency axis. Screenshots go to artifacts/."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from browser_support import ARTIFACTS, IDLE, app_server, chromium
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# a published configuration (TF-slim's mobilenet_v2_0.35_96) small enough to measure in a test
TINY = "width=0.35;resolution=96"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "m.sqlite"
    with app_server("server-pareto.log", env={"ARCHLIB_DB": str(db)}) as url:
        yield url


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium"), viewport={"width": 1500, "height": 1300}) as ctx:
        yield ctx.new_page()


def _idle(page, timeout: float = 120_000) -> None:
    time.sleep(0.5)
    page.wait_for_selector(IDLE, timeout=timeout)


def _point_box(page, point_id: str) -> dict:
    """Screen box of the plotted point whose customdata[0] is `point_id`."""
    return page.evaluate("""(pid) => {
        const gd = document.querySelector('.js-plotly-plot');
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
        for (let t = 0; t < gd.data.length; t++) {
            const i = (gd.data[t].customdata || []).findIndex(c => c && c[0] === pid);
            const cd = i < 0 ? null : gd.calcdata[t][i];
            if (!cd || !isFinite(cd.x) || !isFinite(cd.y)) continue;
            return {x: r.left + xa._offset + xa.c2p(cd.x), y: r.top + ya._offset + ya.c2p(cd.y)};
        }
        return null;
    }""", point_id)


def _row_id(model: str, knobs: str) -> str:
    from archlib.data import results

    row = next(r for r in results.load() if r.archlib_model == model and r.knobs_text == knobs)
    return f"r{row.row}"


def test_click_a_point_opens_it_in_explore(server, page):
    page.goto(f"{server}/pareto?model=mobilenet_v2&fam=MobileNetV2")
    _idle(page)
    expect(page.get_by_role("heading", name="Where does it sit?")).to_be_visible()
    page.wait_for_selector(".js-plotly-plot .scatterlayer .point", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "pareto-chart.png"))
    box = _point_box(page, _row_id("mobilenet_v2", "width=0.75;resolution=192"))
    assert box, "the published point is not drawn"
    page.mouse.move(box["x"], box["y"])
    time.sleep(0.5)
    page.mouse.click(box["x"], box["y"])
    page.wait_for_url("**/?*width=0.75*", timeout=60_000)
    _idle(page)
    query = parse_qs(urlsplit(page.url).query)
    assert query["model"] == ["mobilenet_v2"] and query["resolution"] == ["192"]
    expect(page.get_by_role("heading", name="mobilenet_v2")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "pareto-opened-in-explore.png"))


def test_measure_a_model_and_see_it_on_the_measured_axis(server, page):
    page.goto(f"{server}/pareto?model=mobilenet_v2&fam=MobileNetV2&cfg={quote(TINY)}")
    _idle(page)
    page.get_by_role("button", name="Measure latency").click()
    expect(page.get_by_text("Median", exact=True)).to_be_visible(timeout=120_000)
    _idle(page)
    page.screenshot(path=str(ARTIFACTS / "pareto-measured.png"), full_page=True)
    page.goto(f"{server}/pareto?model=mobilenet_v2&fam=MobileNetV2&x=measured&cfg={quote(TINY)}")
    _idle(page)
    page.wait_for_selector(".js-plotly-plot .scatterlayer .point", timeout=60_000)
    box = _point_box(page, _row_id("mobilenet_v2", TINY))
    assert box, "the measured configuration is not on the measured axis"
    n = page.evaluate("""() => { const gd = document.querySelector('.js-plotly-plot');
        return gd.data.map((t, k) => t.customdata ? gd.calcdata[k].filter(c => isFinite(c.x)).length : 0)
                      .reduce((a, b) => a + b, 0); }""")
    assert n >= 1
    page.screenshot(path=str(ARTIFACTS / "pareto-measured-axis.png"))
