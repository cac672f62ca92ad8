"""A layout reused for a graph of the same structure draws exactly what a fresh layout draws.

(tests/conftest.py gives every test its own kept layouts.)
"""
from __future__ import annotations

import html
import re

import pytest

import archlib
from archlib.views import graphreuse, graphsvg

NODE = re.compile(rb'<g id="(n(?:-|&#45;)[^"]*)" class="node"[^>]*>(.*?)</g>', re.S)


def drawn(svg: bytes) -> dict[bytes, tuple]:
    """Every node's fill and its text lines with their colour: what a reader sees in a box."""
    out = {}
    for m in NODE.finditer(svg):
        body = m.group(2)
        texts = [(html.unescape(t.group(4).decode()), b'fill="white"' in t.group(3))
                 for t in graphreuse._TEXT.finditer(body)]
        out[m.group(1)] = (graphreuse._PATH.search(body).group(1), texts)
    return out


@pytest.mark.parametrize("model,level,first,second", [
    ("efficientnet_b7", "op", {}, {"resolution": 596}),
    ("resnet50", "unit", {}, {"resolution": 160}),
    ("efficientnet_b0", "block", {}, {"resolution": 200}),
])
def test_a_reused_layout_draws_what_a_fresh_one_draws(monkeypatch, model, level, first, second):
    g1, g2 = archlib.graph(model, level=level, **first), archlib.graph(model, level=level, **second)
    graphsvg.render_svg(g1, tooltips=False)
    laid_out = graphsvg.to_svg

    def no_dot(dot: str) -> bytes:
        raise AssertionError("dot ran for a structure already laid out")

    monkeypatch.setattr(graphsvg, "to_svg", no_dot)
    reused = graphsvg.render_svg(g2, tooltips=False)
    monkeypatch.setattr(graphsvg, "to_svg", laid_out)
    monkeypatch.setattr(graphreuse, "LAYOUTS", graphreuse.Layouts())
    fresh = graphsvg.render_svg(g2, tooltips=False)
    assert len(drawn(reused)) == g2.number_of_nodes()
    assert drawn(reused) == drawn(fresh)
    assert reused.count(b'class="node"') == fresh.count(b'class="node"')


def test_a_label_too_wide_for_its_box_is_laid_out_anew():
    g = archlib.graph("mobilenet_v2", level="block")
    svg = graphsvg.to_svg(graphsvg.to_dot(g, tooltips=False))
    top = graphsvg._top(g, "macs", None)
    labels = {graphsvg.node_id(n): (graphreuse.label_lines(graphsvg._label(n, d)), *graphsvg._colours(d, "macs", top))
              for n, d in g.nodes(data=True)}
    assert graphreuse.relabel(svg, labels) is not None  # its own labels fit, of course
    stem = graphsvg.node_id("stem")
    lines, fill, font = labels[stem]
    labels[stem] = ([lines[0], lines[1], lines[2] + " " + "M" * 40], fill, font)
    assert graphreuse.relabel(svg, labels) is None
    labels[stem] = (lines[:2], fill, font)  # another number of lines: another drawing
    assert graphreuse.relabel(svg, labels) is None


def test_pictures_with_clusters_legend_or_tooltips_are_never_reused():
    g = archlib.graph("mobilenet_v2", level="block")
    graphsvg.render_svg(g, tooltips=True)
    graphsvg.render_svg(g, tooltips=False, legend=True)
    assert graphreuse.LAYOUTS.get(graphreuse.structure_key(g, "TB")) is None
    expanded = archlib.graph("mobilenet_v2", level="block", expand={"s2.b1"})
    graphsvg.render_svg(expanded, tooltips=False)
    assert graphreuse.LAYOUTS.get(graphreuse.structure_key(expanded, "TB")) is None
    graphsvg.render_svg(g, tooltips=False)
    assert graphreuse.LAYOUTS.get(graphreuse.structure_key(g, "TB")) is not None
    assert graphreuse.LAYOUTS.get(graphreuse.structure_key(g, "LR")) is None  # the direction is the structure's


def test_the_kept_layouts_are_bounded():
    kept = graphreuse.Layouts(keep=2)
    for k in "abc":
        kept.put(k, k.encode())
    assert kept.get("a") is None and kept.get("b") == b"b" and kept.get("c") == b"c"
    kept.get("b")
    kept.put("d", b"d")
    assert kept.get("c") is None and kept.get("b") == b"b"  # the least recently used goes first


def test_sessions_opening_new_links_of_one_structure_at_once_run_dot_once(monkeypatch):
    import threading

    calls = []
    laid_out = graphsvg.to_svg

    def counted(dot: str) -> bytes:
        calls.append(1)
        return laid_out(dot)

    monkeypatch.setattr(graphsvg, "to_svg", counted)
    graphs = [archlib.graph("resnet50", level="unit", resolution=224 - 8 * i) for i in range(6)]
    out: list[bytes] = [b""] * len(graphs)
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, graphsvg.render_svg(graphs[i], tooltips=False)))
               for i in range(len(graphs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and all(drawn(o) for o in out)
    assert [len(drawn(o)) for o in out] == [g.number_of_nodes() for g in graphs]
