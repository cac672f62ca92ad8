"""Mixed-level graphs: expanded groups drawn one level finer, the rest collapsed.

Every node's counts must equal the sum of the table rows it stands for, found here by
name prefix (independently of `collapse`), so totals equal the table's at every mix.
"""
from __future__ import annotations

import re

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import graph_totals

import archlib
from archlib.core.analysis import COUNTS
from archlib.core.ir import INPUT
from archlib.views.blockgraph import (
    cluster_id,
    collapse,
    expandable,
    node_id,
    op_graph,
    render_svg,
    to_dot,
)


def members(a, key: str) -> list:
    return [r for r in a.rows if r.name == key or r.name.startswith(key + ".")]


def sums(rows) -> dict[str, int]:
    out = dict.fromkeys(COUNTS, 0)
    for r in rows:
        for k in COUNTS:
            out[k] += 2 * r.cost.macs if k == "flops" else getattr(r.cost, k)
    return out


def check_mixed(a, level: str, expand: set[str]) -> nx.DiGraph:
    """The invariants of a mixed-level graph against the table."""
    g = collapse(op_graph(a), level, expand=expand)
    assert nx.is_directed_acyclic_graph(g)
    assert graph_totals(g) == a.totals()
    assert sum(d["ops"] for _, d in g.nodes(data=True)) == len(a.rows)  # every op in exactly one node
    for n, d in g.nodes(data=True):
        if n == INPUT:
            continue
        assert n not in expand or not d["expandable"], f"{n} is expanded but drawn as one node"
        rows = members(a, n)
        assert d["ops"] == len(rows), n
        assert {k: d[k] for k in COUNTS} == sums(rows), n
        assert all(p in expand and n.startswith(p + ".") for p in d["parents"]), n
    for c, d in g.graph["clusters"].items():
        assert c in expand and c not in g
        assert {k: d[k] for k in COUNTS} == sums(members(a, c)), c
    # groups at the base level that nobody expanded are exactly the plain collapse's nodes
    base = collapse(op_graph(a), level)
    for n, d in base.nodes(data=True):
        if n not in expand:
            assert n in g and {k: g.nodes[n][k] for k in COUNTS} == {k: d[k] for k in COUNTS}
    return g


CASES = [
    ("efficientnet_b0", "block", {"s2.b1"}),
    ("efficientnet_b0", "block", {"s2.b1", "s2.b1.se", "s4.b2.dw", "s4.b2", "stem"}),
    ("efficientnet_b0", "stage", {"s4", "s4.b1", "s4.b1.se", "head"}),
    ("efficientnet_b0", "unit", {"s3.b2.expand", "s6.b1.se"}),
    ("googlenet", "stage", {"s1", "s1.b1", "s1.b1.branch2", "stem"}),
    ("shufflenet_v2_x1_0", "block", {"s2.b1", "s2.b1.main"}),
    ("deit_tiny_patch16_224", "block", {"s1.b3", "stem"}),
    ("mobilenet_v2", "stage", set()),
    ("regnet_y_400mf", "stage", {"s2", "s3", "s3.b1"}),
]


@pytest.mark.parametrize("model,level,expand", CASES, ids=[f"{m}-{lv}-{len(e)}" for m, lv, e in CASES])
def test_mixed_levels_keep_every_count(model, level, expand):
    check_mixed(archlib.analyze(model, resolution=64) if model != "deit_tiny_patch16_224"
                else archlib.analyze(model), level, expand)


def test_an_expanded_block_shows_its_units_and_the_rest_stays():
    a = archlib.analyze("efficientnet_b0")
    g = collapse(op_graph(a), "block", expand={"s2.b1"})
    assert "s2.b1" not in g and {"s2.b1.expand", "s2.b1.dw", "s2.b1.se", "s2.b1.project"} <= set(g)
    assert {"s2.b2", "s3.b1", "stem", "head"} <= set(g)
    assert g.nodes["s2.b1.dw"]["parents"] == ("s2.b1",) and g.nodes["s2.b1.dw"]["level"] == "unit"
    assert g.nodes["s2.b2"]["parents"] == () and g.nodes["s2.b2"]["expandable"]
    assert g.has_edge("s1.b1", "s2.b1.expand") and g.has_edge("s2.b1.project", "s2.b2")


def test_stem_expands_to_its_ops_and_hidden_names_wait():
    a = archlib.analyze("efficientnet_b0")
    g = collapse(op_graph(a), "stage", expand={"stem", "s2.b1"})  # s2 stays collapsed: s2.b1 waits
    assert {"stem.conv", "stem.bn", "stem.act", "s2"} <= set(g) and "s2.b1" not in g.graph["clusters"]


@pytest.mark.parametrize("bad", ["s9.b1", "stem.conv", "", 3])
def test_unknown_groups_are_named(bad):
    g = op_graph(archlib.analyze("mobilenet_v2"))
    with pytest.raises(archlib.ArchlibError, match=re.escape(f"expand={bad!r}")):
        collapse(g, "block", expand={bad})


@settings(max_examples=25)
@given(data=st.data())
def test_random_expansions_keep_every_count(data):
    a = archlib.analyze("mobilenet_v3_small", resolution=64)
    groups = expandable(op_graph(a))
    expand = data.draw(st.sets(st.sampled_from(groups), max_size=12))
    level = data.draw(st.sampled_from(["stage", "block", "unit"]))
    check_mixed(a, level, expand)


def test_svg_ids_and_data_attributes():
    a = archlib.analyze("efficientnet_b0")
    g = collapse(op_graph(a), "block", expand={"s2.b1"})
    svg = render_svg(g, color_by="params").decode()
    assert svg.count('class="node"') == len(g)
    want = g.nodes["s2.b1.dw"]
    tag = re.search(r'<g id="n&#45;s2\.b1\.dw" class="node"[^>]*>', svg).group(0)
    for k, v in {"name": "s2.b1.dw", "level": "unit", "params": want["params"], "macs": want["macs"],
                 "activations": want["activations"], "out": "x".join(map(str, want["out_shape"])),
                 "share": f"{want['params'] / a.totals()['params']:.6f}"}.items():
        assert f'data-{k}="{v}"' in tag, k
    assert re.search(r'<g id="c&#45;s2\.b1" class="cluster"[^>]*data-ops="14"', svg)
    assert f'data-total-macs="{a.totals()["macs"]}"' in svg


def test_ids_are_injective_and_escape_markup():
    names = ["a.b", "a-b", "a--b", "a/b", "a<b>", 'a"b', "a_b", "ä"]
    ids = [node_id(n) for n in names]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"n-[A-Za-z0-9._-]+", i) for i in ids)
    assert cluster_id("s2.b1") == "c-s2.b1"


def test_hostile_names_stay_text():
    g = nx.DiGraph(model="x")
    zero = dict.fromkeys(COUNTS, 0)
    g.add_node(INPUT, kind="input", out_shape=(3,), ops=0, **zero)
    evil = '"><script>alert(1)</script>\\N'
    g.add_node(evil, kind="conv2d", op="conv2d", in_shape=(3,), out_shape=(3,), ops=1, **{**zero, "macs": 5})
    g.add_edge(INPUT, evil)
    svg = render_svg(g).decode()
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_latency_hook_sums_and_checks_names():
    a = archlib.analyze("mobilenet_v2", resolution=64)
    ms = {r.name: 0.5 for r in a.rows if r.name.startswith("s2.b1.")}
    g = collapse(op_graph(a, latency_ms=ms), "block")
    assert g.nodes["s2.b1"]["ms"] == 0.5 * len(ms) and g.nodes["s2.b1"]["ms_ops"] == len(ms)
    assert "ms" not in g.nodes["s2.b2"]
    assert 'data-ms="' in render_svg(g).decode() and " ms" in to_dot(g)
    with pytest.raises(archlib.ArchlibError, match="nope"):
        op_graph(a, latency_ms={"nope": 1.0})
    with pytest.raises(archlib.ArchlibError, match="finite"):
        op_graph(a, latency_ms={a.rows[0].name: float("nan")})


@pytest.mark.parametrize("expand", [{1, None}, {None, "s2.b1", 2.5}])
def test_expand_of_mixed_non_names_is_named_not_a_type_error(expand):
    with pytest.raises(archlib.ArchlibError, match="expand=.* is not allowed: expand must name groups"):
        archlib.graph("mobilenet_v2", level="block", expand=expand, resolution=64)
