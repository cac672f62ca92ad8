"""Laying out a graph is bounded: too costly a graph is refused before Graphviz's dot starts (every
level, SVG and PNG, the CLI), dot is stopped at its time and memory limits, and only a few run at once."""
from __future__ import annotations

import random
import subprocess
import threading
import time

import pytest

import archlib
from archlib.cli import main
from archlib.core.analysis import Analysis
from archlib.core.ir import IRBuilder
from archlib.views import graphdot
from archlib.views.blockgraph import ORDER, collapse, expandable, op_graph, render_png, render_svg, to_dot


def flat(n: int, *, skips: bool, seed: int = 0):
    """An op graph whose names have no scopes (every op its own stage, as an imported file can be):
    a chain of n ops, each adding a random earlier one when `skips` (h[i] = h[i-1] + h[j])."""
    rng = random.Random(seed)
    b = IRBuilder((4, 8, 8))
    hs = [b.act("n0", b.input, "relu")]
    for i in range(1, n):
        hs.append(b.add(f"n{i}", hs[-1], hs[rng.randrange(i)]) if skips else b.act(f"n{i}", hs[-1], "relu"))
    return op_graph(Analysis.of("flat", {}, b.finish()))


@pytest.fixture
def no_dot(monkeypatch):
    """dot must not start: any attempt fails the test."""
    def refuse(*a, **kw):
        raise AssertionError(f"dot was started: {a}")
    monkeypatch.setattr(graphdot.subprocess, "Popen", refuse)


@pytest.mark.parametrize("model", archlib.list_models())
def test_every_registered_model_is_laid_out_at_every_level(model):
    g = op_graph(archlib.analyze(model))
    for level in ORDER:
        shown = g if level == "op" else collapse(g, level)
        assert graphdot.too_large(shown) is None, (level, graphdot.too_large(shown))


def test_efficientnet_b7_op_level_is_laid_out_and_its_size_is_dots_own():
    """817 boxes, 919 arrows, 938 rows passed by residual and SE arrows: 3,612 nodes in dot's positioning
    (`dot -v` prints that count for this graph); it lays out in about 0.3 s."""
    g = op_graph(archlib.analyze("efficientnet_b7"))
    assert (len(g), g.number_of_edges()) == (817, 919)
    assert graphdot.layout_size(g) == (938, 3612) and graphdot.too_large(g) is None


@pytest.mark.parametrize("level", ORDER)
def test_a_flat_file_with_skips_is_refused_at_every_level_before_dot_starts(level, no_dot):
    """The reviewer's file: 2,400 ops h[i] = h[i-1] + h[j] with no scopes (dot ran for minutes in 9 GB)."""
    g = flat(2400, skips=True)
    shown = g if level == "op" else collapse(g, level)
    assert len(shown) == 2401  # no coarser level is smaller
    for draw in (render_svg, render_png):
        with pytest.raises(archlib.ArchlibError) as e:
            draw(shown)
        msg = str(e.value)
        assert f"The {level}-level graph has 2,401 boxes and 4,785 arrows, and the arrows pass 1,428,180 rows" in msg
        assert "a problem of size 2,863,546" in msg and f"at most {graphdot.MAX_LAYOUT:,} is laid out" in msg
        assert ("share no prefixes" if level == "stage" else "Choose a coarser level") in msg


def test_too_many_boxes_are_refused_with_the_count_and_the_limit(no_dot):
    g = flat(graphdot.MAX_NODES + 100, skips=False)
    with pytest.raises(archlib.ArchlibError, match=f"The op-level graph has {graphdot.MAX_NODES + 101:,} boxes; "
                                                   f"at most {graphdot.MAX_NODES:,} are laid out"):
        render_svg(g)
    g = op_graph(archlib.analyze("efficientnet_v2_l", depth=3.0))
    groups = expandable(g)
    expanded = collapse(g, "stage", expand=groups)  # everything opened: the op graph, in frames
    with pytest.raises(archlib.ArchlibError, match=f"The stage-level graph with {len(groups)} groups expanded has "
                                                   "3,050 boxes; .* Collapse some expanded groups"):
        render_svg(expanded)


def test_the_cli_refuses_an_svg_too_large_to_lay_out_but_writes_its_dot(capsys, no_dot):
    assert main(["graph", "efficientnet_v2_l", "--depth", "3", "--level", "op", "--format", "svg"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: The op-level graph has 3,050 boxes; at most 2,500") and err.count("\n") == 1
    assert main(["graph", "efficientnet_v2_l", "--depth", "3", "--level", "op", "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith("digraph")


@pytest.fixture
def started(monkeypatch):
    """Every dot process started, to check none is left running."""
    procs: list[subprocess.Popen] = []
    real = subprocess.Popen

    def spy(*a, **kw):
        procs.append(real(*a, **kw))
        return procs[-1]
    monkeypatch.setattr(graphdot.subprocess, "Popen", spy)
    return procs


def test_dot_is_stopped_at_its_time_limit(started):
    dot = to_dot(flat(200, skips=True))  # 201 boxes, about 40 s in dot (too_large refuses it: dot called directly)
    t = time.perf_counter()
    with pytest.raises(archlib.ArchlibError, match="took longer than 1 s to lay out this graph and was stopped"):
        graphdot.run_dot(dot, "svg", timeout=1)
    assert time.perf_counter() - t < 10
    assert len(started) == 1 and started[0].returncode is not None  # killed and reaped


def test_dot_is_stopped_at_its_memory_limit(started):
    dot = to_dot(flat(800, skips=True))  # 166,424 rows passed: past 100 MB in a fraction of a second
    with pytest.raises(archlib.ArchlibError, match="needs more than the 100 MiB of memory it may use"):
        graphdot.run_dot(dot, "svg", memory=100 << 20)
    assert started[0].returncode not in (0, None)
    svg = graphdot.run_dot(to_dot(op_graph(archlib.analyze("efficientnet_b7"))), "svg", memory=200 << 20)
    assert b"</svg>" in svg  # B7's op level fits in a fifth of the cap (about 80 MB of address space)


def test_at_most_jobs_dots_run_at_once_and_a_long_wait_says_busy(monkeypatch):
    running, peak, lock = [0], [0], threading.Lock()

    def slow(data, fmt, timeout, memory):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        return b"<svg/>"
    monkeypatch.setattr(graphdot, "_run", slow)
    results: list[object] = []

    def call(timeout: float) -> None:
        try:
            results.append(graphdot.run_dot("digraph {}", "svg", timeout=timeout))
        except graphdot.LayoutBusy as e:
            results.append(e)
    threads = [threading.Thread(target=call, args=(10,)) for _ in range(graphdot.JOBS + 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == graphdot.JOBS and results == [b"<svg/>"] * len(threads)
    results.clear()
    threads = [threading.Thread(target=call, args=(0.05,)) for _ in range(graphdot.JOBS + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    busy = [r for r in results if isinstance(r, graphdot.LayoutBusy)]
    assert len(busy) == 1 and "busy laying out 2 other graphs" in str(busy[0])


def test_the_page_form_keeps_every_box_and_drops_only_the_prolog_titles_and_comments():
    from archlib.views.graphsvg import for_page

    svg = render_svg(op_graph(archlib.analyze("mobilenet_v3_small")), color_by="macs")
    assert svg.lstrip().startswith(b"<?xml") and b"<title>" in svg and b"<!--" in svg  # what dot wrote
    page = for_page(svg)
    assert page.startswith("<svg") and "<title>" not in page and "<!--" not in page
    assert "xlink:title" not in page and "font-family" not in page and len(page) < 0.85 * len(svg)
    assert page.count('class="node"') == svg.count(b'class="node"') > 100
    assert page.count('class="edge"') == svg.count(b'class="edge"') and page.rstrip().endswith("</svg>")
