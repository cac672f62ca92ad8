"""Offline: visiting every page (and the heavier views) sends no request past 127.0.0.1.

The browser made 822 requests to Streamlit's icon host (a Material favicon fetched from
fonts.gstatic.com) on a run of the hostile-input sweep; the icons inside pages come from the
font Streamlit bundles, and the favicon is now a local file. Requests elsewhere are aborted,
as they would fail offline, and listed.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from browser_support import ARTIFACTS, IDLE, app_server, chromium

pytestmark = pytest.mark.browser

PATHS = ["/", "/scaling", "/compare", "/concepts", "/pareto", "/performer", "/pareto?x=measured",
         "/performer?view=error"]


def test_no_request_leaves_the_loopback(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "m.sqlite"))
    outside: list[str] = []
    local = 0
    with app_server("offline.log") as url, chromium(tmp_path / "chromium", viewport={"width": 1400,
                                                                                     "height": 1400}) as ctx:
        def route(r):
            nonlocal local
            host = urlsplit(r.request.url).hostname
            if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
                local += 1
                return r.continue_()
            outside.append(r.request.url)
            return r.abort()

        ctx.route("**/*", route)
        page = ctx.new_page()
        for path in PATHS:
            page.goto(url + path)
            page.wait_for_selector(IDLE, timeout=60_000)
            page.wait_for_timeout(500)  # late requests: fonts, icons, the favicon
        icon = page.evaluate("document.querySelector(\"link[rel='shortcut icon']\").href")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "offline_performer_error.png"))
    assert local > 100 and not outside, sorted(set(outside))
    assert icon.startswith("data:image/svg+xml") or urlsplit(icon).hostname == "127.0.0.1", icon[:80]
