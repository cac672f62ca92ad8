"""The Performers page in a real browser: a shared link shows its crossover, a changed
setting changes the numbers and the URL, and a bad value is named. Screenshots go to artifacts/."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from browser_support import ARTIFACTS, IDLE, app_server, chromium
from playwright.sync_api import expect

from archlib.core import attention as att

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with app_server("server-performer.log") as url, \
            chromium(tmp_path_factory.mktemp("chromium"), viewport={"width": 1400, "height": 1800}) as ctx:
        pg = ctx.new_page()
        pg.base = url
        yield pg


def _open(page, path: str) -> None:
    page.goto(page.base + path)
    page.wait_for_timeout(500)
    page.wait_for_selector(IDLE, timeout=60_000)


def _metric(page, label: str):
    box = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text(label))
    return box.first.get_by_test_id("stMetricValue")


def test_shared_link_shows_the_crossover(page):
    _open(page, "/performer?head_dim=64&features=266")
    expect(_metric(page, "MACs crossover")).to_have_text(f"{att.crossover_tokens(64, 266):,} tokens", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "performer_shared_link.png"))


def test_changing_features_changes_numbers_and_url(page):
    _open(page, "/performer")
    expect(_metric(page, "MACs crossover")).to_have_text(f"{att.crossover_tokens(32, 110):,} tokens", timeout=30_000)
    box = page.get_by_role("spinbutton", name="Features m")
    box.fill("55")
    box.press("Enter")
    expect(_metric(page, "MACs crossover")).to_have_text(f"{att.crossover_tokens(32, 55):,} tokens", timeout=30_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    assert parse_qs(urlsplit(page.url).query).get("features") == ["55"]


def test_bad_value_is_named_and_default_used(page):
    _open(page, "/performer?head_dim=9999")
    expect(page.get_by_text("head_dim='9999' is not allowed").first).to_be_visible(timeout=30_000)
    expect(_metric(page, "MACs crossover")).to_have_text(f"{att.crossover_tokens(32, 110):,} tokens", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "performer_bad_link.png"))
