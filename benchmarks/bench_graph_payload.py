"""Bytes the browser receives (on the wire, through a counting TCP proxy) while it uses the live graph,
with the websocket compressed and not: the first load of EfficientNet-B7 at op level, a rerun that
leaves the graph as it is (Streamlit sends a reference to an element it already has), and a click
that selects a box (the component's data changes, so its SVG is sent again).

    python benchmarks/bench_graph_payload.py      (from the repository root; needs Debian's Chromium)
"""
from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/lib/chromium/chromium"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'  # a rerun has finished
LINK = "?model=efficientnet_b7&level=op"
received = [0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_proxy(port: int, target: int) -> None:
    """127.0.0.1:port -> 127.0.0.1:target, counting what comes back from the server."""
    async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter, count: bool) -> None:
        try:
            while data := await r.read(65536):
                received[0] += len(data) if count else 0
                w.write(data)
                await w.drain()
        except OSError:
            pass
        finally:
            w.close()

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        sr, sw = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(cr, sw, False), pipe(sr, cw, True))

    async def serve() -> None:
        async with await asyncio.start_server(handle, "127.0.0.1", port) as srv:
            await srv.serve_forever()
    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()


def measure(compress: bool) -> None:
    port, front = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.port", str(port),
                             "--server.enableWebsocketCompression", str(compress).lower()], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        start_proxy(front, port)
        from playwright.sync_api import sync_playwright

        with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(tmp, executable_path=CHROMIUM, headless=True,
                                                       viewport={"width": 1400, "height": 1000},
                                                       args=["--headless=new", "--no-sandbox", "--disable-gpu",
                                                             "--disable-dev-shm-usage"])
            page = ctx.new_page()

            def step(label: str) -> None:
                page.wait_for_timeout(1200)
                page.wait_for_selector(IDLE, timeout=120_000)
                page.wait_for_timeout(1000)
                print(f"websocket compression {'on ' if compress else 'off'}  {label:42s} {received[0] / 1e6:7.3f} MB",
                      flush=True)
                received[0] = 0

            page.goto(f"http://127.0.0.1:{front}/{LINK}")
            page.wait_for_function("() => (window.__archlibGraphDrawn || {})['graph_explore']", timeout=120_000)
            step("first load (page, scripts, the graph)")
            box = page.get_by_role("spinbutton", name="Batch size")
            box.fill("2")
            box.press("Enter")
            step("a rerun that leaves the graph as it is")
            page.locator(".ag-root").scroll_into_view_if_needed()
            page.locator(".ag-search").fill("s2.b1.dw.conv")
            page.locator(".ag-search").press("Enter")
            page.wait_for_timeout(800)
            received[0] = 0
            page.locator('g.node[data-name="s2.b1.dw.conv"]').click()
            step("a click that selects an op")
            ctx.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def svg_sizes() -> None:
    """What the component is given: the page form of the SVG of a few graphs, and its gzip size."""
    import gzip

    import archlib
    from archlib.views.blockgraph import collapse, op_graph, render_svg
    from archlib.views.graphsvg import for_page

    for model, level in (("efficientnet_b0", "block"), ("efficientnet_b7", "block"), ("efficientnet_b7", "op")):
        g = op_graph(archlib.analyze(model))
        svg = for_page(render_svg(g if level == "op" else collapse(g, level))).encode()
        print(f"{model} {level}: {len(g if level == 'op' else collapse(g, level))} boxes, live SVG "
              f"{len(svg) / 1e6:.3f} MB ({len(gzip.compress(svg)) / 1e6:.3f} MB gzipped)")


if __name__ == "__main__":
    svg_sizes()
    for on in (False, True):
        measure(on)
