"""Uploading an ONNX file in a real browser (Playwright driving Debian's Chromium): the file is
imported and kept, its link opens it in Explore, its hostile names run nothing and a file name's
Markdown (a remote image, a link) renders nowhere: not in a button label, not in the model select.
Screenshots go to artifacts/ (upload.png, upload-select.png, upload-explore.png)."""
from __future__ import annotations

import hashlib
import os
import time
from urllib.parse import unquote

import pytest
from browser_support import ARTIFACTS, IDLE, app_server, chromium
from onnx_graphs import N, model, weight
from playwright.sync_api import expect

import archlib

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"
MD_PAYLOAD = "![t](https:tracker.example?u=1) [click](https:evil.example)"
#: what the payload would render as, were it Markdown
RENDERED = 'img[src*="tracker.example"], a[href*="evil.example"]'


def _idle(page, timeout: float = 120_000) -> None:
    time.sleep(0.5)
    page.wait_for_selector(IDLE, timeout=timeout)


def test_upload_then_explore(tmp_path):
    m = model([N("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2], name="/stem/conv/Conv"),
               N("Relu", ["c"], ["r"], name=f"/stem/{HOSTILE}"),
               N("Conv", ["r", "w2"], ["c2"], pads=[1, 1, 1, 1], group=8, name="/s1/dw/Conv"),
               N("GlobalAveragePool", ["c2"], ["g"], name="/head/pool"), N("Flatten", ["g"], ["f"], name="/head/flat"),
               N("Gemm", ["f", "fw", "fb"], ["y"], transB=1, name="/head/fc")],
              [weight("w", 8, 3, 3, 3), weight("w2", 8, 1, 3, 3), weight("fw", 10, 8), weight("fb", 10)],
              shape=(1, 3, 64, 64))
    path = tmp_path / "tiny_cnn.onnx"
    path.write_bytes(m.SerializeToString())
    payload = tmp_path / f"{MD_PAYLOAD}.onnx"  # another file (one weight more), under a name that is Markdown
    payload.write_bytes(model(list(m.graph.node), [*m.graph.initializer, weight("spare", 4, 4)],
                              shape=(1, 3, 64, 64)).SerializeToString())
    db = tmp_path / "db" / "results.sqlite"
    dialogs: list[str] = []
    with app_server("server-upload.log", env={"ARCHLIB_DB": str(db)}) as url, \
            chromium(tmp_path / "chromium", viewport={"width": 1500, "height": 1100}) as ctx:
        page = ctx.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{url}/upload")
        _idle(page)
        chooser = page.locator('[data-testid="stFileUploader"] input[type="file"]')
        chooser.set_input_files(str(payload))
        _idle(page)
        expect(page.get_by_text("Every view of the catalogue")).to_be_visible(timeout=60_000)
        chooser.set_input_files(str(path))
        _idle(page)
        expect(page.get_by_text("Opened in this session")).to_be_visible(timeout=60_000)
        # the first upload's button: its label is the file name as text, nothing of it rendered
        expect(page.get_by_role("button", name=MD_PAYLOAD[:20])).to_be_visible()
        assert page.locator(RENDERED).count() == 0
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        page.keyboard.type("tracker")  # the list is virtual: filter it down to the upload
        expect(page.get_by_role("option", name=MD_PAYLOAD[:20])).to_be_visible(timeout=10_000)
        assert page.locator(RENDERED).count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "upload-select.png"))
        page.keyboard.press("Escape")
        uploads = list((db.parent / "uploads").glob("*.onnx"))
        assert len(uploads) == 2
        name = f"onnx:{hashlib.sha256(path.read_bytes()).hexdigest()}"
        assert (db.parent / "uploads" / f"{name[5:]}.onnx").exists()
        macs = archlib.analyze(str(path)).totals()["macs"]
        expect(page.locator('[data-testid="stMetric"]').filter(has_text="MACs").first).to_contain_text(
            archlib.core.analysis.human(macs))
        assert name in unquote(page.url)
        page.screenshot(path=str(ARTIFACTS / "upload.png"))
        fresh = ctx.new_page()  # the link, opened anew: another user of this server
        fresh.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        fresh.goto(f"{url}/?model={name}&level=unit")
        _idle(fresh)
        expect(fresh.get_by_role("heading", name="tiny_cnn.onnx")).to_be_visible(timeout=60_000)
        expect(fresh.locator('g.node[data-name="s1.dw.Conv"]')).to_be_visible(timeout=60_000)  # the live graph
        _idle(fresh)
        fresh.screenshot(path=str(ARTIFACTS / "upload-explore.png"))
    assert dialogs == [], "a name from the file ran as script"
    assert all(os.path.exists(p) for p in uploads)
