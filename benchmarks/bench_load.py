"""Many users at once: server CPU per session and server-side time per session, p50/p95.

A class opening one shared link is this tool's normal case. Browsers on the same two cores
measure the browsers, so this drives the server with a light protocol-level client: each
session opens Streamlit's websocket (/_stcore/stream), asks for one run of the page at a
URL (a `rerun_script` BackMsg carrying the query string) and waits for `script_finished`,
exactly what a browser tab does on load, without rendering anything. A few real Chromium
pages can be added (--browsers) as a check that the protocol client sees what a browser sees.

For each scenario a fresh server starts (cold caches, as when a link is first shared), is
warmed by one unrelated session (imports), then N sessions run concurrently. Reported:
- server CPU per session: (user + system time of the server process and the children it
  waited for, e.g. graphviz's dot) / N, read from /proc before and after;
- time per session from its request to its script's end, p50 and p95 (loopback: this is
  the server's time, queueing included).

    python benchmarks/bench_load.py                 # N = 1, 10, 20, 50; shared and distinct links
    python benchmarks/bench_load.py --n 10 --mix shared

Measured on the 2-core development VM, quiet (one run with --browsers 2; CPU per session varies
by about +-10% between runs: N = 50 on one link gave 0.040-0.044 s over four runs, median 0.042):

       N mix        CPU s/session    p50 s    p95 s  browser s
       1 shared             0.340     0.32     0.32       1.87
      10 shared             0.076     0.63     0.64       1.82
      20 shared             0.067     0.77     0.95       2.12
      50 shared             0.044     1.61     1.70       1.91
       1 distinct           0.400     0.39     0.39       1.93
      10 distinct           0.193     1.43     1.56       2.20
      20 distinct           0.163     2.79     2.85       2.18
      50 distinct           0.160     7.04     7.38       1.80

(N = 1 pays the first analysis, graph and layout of the link. Before this work: 0.145 s per
session on one link and 0.61 s on distinct links at N = 10.)
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
SHARED = "model=efficientnet_b7&level=op"
WARM = "model=mobilenet_v2"


def distinct(i: int) -> str:
    """The i-th of N different EfficientNet-B7 op-level links (a different input side each)."""
    return f"model=efficientnet_b7&level=op&resolution={600 - 4 * i}"


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of `pid` (children counted once reaped)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICK


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run app/main.py` on a free loopback port with its own empty results store."""

    def __init__(self) -> None:
        self.port = free_port()
        self.tmp = tempfile.TemporaryDirectory()
        env = {**os.environ, "ARCHLIB_DB": str(Path(self.tmp.name) / "results.sqlite")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.address", "127.0.0.1",
             "--server.port", str(self.port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_stcore/health", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the app server did not start")

    def session(self, query: str, page: str = "") -> float:
        """One page load at `query`: seconds from the request to the script's end."""
        with connect(f"ws://127.0.0.1:{self.port}/_stcore/stream", subprotocols=["streamlit"],
                     max_size=None, open_timeout=60) as ws:
            msg = BackMsg()
            msg.rerun_script.query_string = query
            msg.rerun_script.page_name = page
            start = time.perf_counter()
            ws.send(msg.SerializeToString())
            while True:
                fwd = ForwardMsg()
                fwd.ParseFromString(ws.recv(timeout=300))
                if fwd.WhichOneof("type") == "script_finished":
                    return time.perf_counter() - start

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.tmp.cleanup()


def browsers(server: Server, query: str, count: int) -> list[float]:
    """Seconds until each of `count` Chromium pages on `query` has finished its run."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("browser_support", ROOT / "tests" / "browser_support.py")
    support = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(support)
    IDLE, chromium = support.IDLE, support.chromium

    out = []
    with tempfile.TemporaryDirectory() as d, chromium(Path(d)) as ctx:
        for _ in range(count):
            page = ctx.new_page()
            start = time.perf_counter()
            page.goto(f"http://127.0.0.1:{server.port}/?{query}")
            page.wait_for_selector(IDLE, timeout=120_000)
            page.wait_for_selector('[data-testid="stMetric"]', timeout=120_000)
            out.append(time.perf_counter() - start)
    return out


def scenario(n: int, mix: str, n_browsers: int) -> dict[str, float]:
    server = Server()
    try:
        server.session(WARM)  # imports and the first page: the server's start, not a session's cost
        queries = [SHARED if mix == "shared" else distinct(i) for i in range(n)]
        times: list[float] = [0.0] * n
        before = cpu_seconds(server.proc.pid)

        def run(i: int) -> None:
            times[i] = server.session(queries[i])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu = cpu_seconds(server.proc.pid) - before
        q = statistics.quantiles(times, n=20, method="inclusive") if n > 1 else [times[0]] * 19
        row = {"n": n, "mix": mix, "cpu_per_session": cpu / n, "p50": statistics.median(times), "p95": q[18]}
        if n_browsers:
            row["browser_median"] = statistics.median(browsers(server, queries[0], n_browsers))
        return row
    finally:
        server.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="*", default=[1, 10, 20, 50])
    ap.add_argument("--mix", nargs="*", default=["shared", "distinct"], choices=("shared", "distinct"))
    ap.add_argument("--browsers", type=int, default=0, help="real Chromium pages opened after the N sessions")
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPUs; links: shared = /?{SHARED}; distinct = /?{distinct(0)} ... (600 - 4 i px)")
    print(f"{'N':>4} {'mix':<9} {'CPU s/session':>14} {'p50 s':>8} {'p95 s':>8}" + ("  browser s" if args.browsers else ""))
    for mix in args.mix:
        for n in args.n:
            r = scenario(n, mix, args.browsers)
            extra = f"  {r['browser_median']:9.2f}" if args.browsers else ""
            print(f"{r['n']:>4} {r['mix']:<9} {r['cpu_per_session']:>14.3f} {r['p50']:>8.2f} {r['p95']:>8.2f}{extra}",
                  flush=True)


if __name__ == "__main__":
    main()
