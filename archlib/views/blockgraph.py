"""The model as a networkx DiGraph at op, unit, block or stage level, and as DOT/SVG.

Nodes carry the same counts as the analysis table; collapsing a level sums them, so the
graph's totals equal the table's at every level, and at every mix of levels: `collapse`
takes a set of groups to `expand`, which are shown one level finer (recursively, down to
ops) while the rest stays at the base level. Expanded groups become clusters (boxes drawn
around their parts) that carry their own sums.

Rendering (DOT, SVG with stable ids and data attributes, PNG) lives in
`archlib.views.graphsvg` and is re-exported here.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

from archlib.core.analysis import COUNTS, LEVELS, Analysis, group_key, parse_level
from archlib.core.ir import INPUT
from archlib.errors import ArchlibError
from archlib.views.graphsvg import (
    COLOR_BY,
    annotate_svg,
    cluster_id,
    node_id,
    render_png,
    render_svg,
    to_dot,
    to_png,
    to_svg,
)

#: the named levels from coarse to fine
ORDER = ("stage", "block", "unit", "op")


def op_graph(a: Analysis, *, latency_ms: Mapping[str, float] | None = None) -> nx.DiGraph:
    """One node per op (plus `input`), an edge per data dependency.

    `latency_ms` (optional) maps op names to milliseconds, measured or predicted; it is
    carried as each node's `ms` and summed by `collapse`. Unknown names are refused.
    """
    g = nx.DiGraph(model=a.model)
    g.add_node(INPUT, kind="input", op="input", out_shape=a.input_shape, ops=0, **dict.fromkeys(COUNTS, 0))
    for row, op in zip(a.rows, a.ir.ops):
        c = row.cost
        g.add_node(op.name, kind=op.kind, op=operator(op.kind, op.attrs), in_shape=row.in_shape,
                   out_shape=row.out_shape, ops=1, params=c.params, buffers=c.buffers, macs=c.macs,
                   flops=c.flops, elementwise=c.elementwise, activations=c.activations, fvcore=c.fvcore)
        for src in op.inputs:
            g.add_edge(src, op.name, shape=g.nodes[src]["out_shape"])
    if latency_ms is not None:
        _attach_latency(g, latency_ms)
    return g


def operator(kind: str, attrs: Mapping[str, Any]) -> str:
    """A short operator description: `conv2d 3x3/2 dw`, `act:silu`, `linear`."""
    if kind == "act" and "fn" in attrs:
        return f"act:{attrs['fn']}"
    if kind == "conv2d" and "kernel" in attrs:
        k, s = attrs["kernel"], attrs.get("stride", (1, 1))
        text = f"conv2d {k[0]}x{k[1]}" + (f"/{s[0]}" if s[0] > 1 else "")
        groups = attrs.get("groups", 1)
        if groups > 1:
            text += " dw" if groups == attrs.get("in_ch") == attrs.get("out_ch") else f" g{groups}"
        return text
    return kind


def _attach_latency(g: nx.DiGraph, latency_ms: Mapping[str, float]) -> None:
    unknown = [n for n in latency_ms if n not in g or n == INPUT]
    if unknown:
        raise ArchlibError(f"latency_ms names {len(unknown)} ops the graph does not have, e.g. {unknown[0]!r}: "
                           "keys must be op names of this configuration.")
    for n, ms in latency_ms.items():
        if not (isinstance(ms, (int, float)) and math.isfinite(ms) and ms >= 0):
            raise ArchlibError(f"latency_ms[{n!r}]={ms!r} is not allowed: it must be a finite number >= 0.")
        g.nodes[n]["ms"] = float(ms)


def _levels(level: str | int) -> list[str | int]:
    """The levels from `level` down to ops, in the order an expansion walks them."""
    level = parse_level(level)
    if isinstance(level, int) and not isinstance(level, bool):
        return [*range(level, level + 16), "op"]
    return list(ORDER[ORDER.index(level):]) if level in ORDER else [level, "op"]


def _place(name: str, levels: list[str | int], expand: frozenset[str]) -> tuple[str, tuple[str, ...], int]:
    """(the group `name` is drawn in, the expanded groups around it, the index of its level)."""
    i, key = 0, group_key(name, levels[0])
    parents: list[str] = []
    while key in expand and key != name:
        parents.append(key)
        for j in range(i + 1, len(levels)):  # the next level that splits the group (stem: unit, not block)
            if (finer := group_key(name, levels[j])) != key:
                i, key = j, finer
                break
        else:
            i, key = len(levels) - 1, name
    return key, tuple(parents), i


def collapse(g: nx.DiGraph, level: str | int, *, expand: Iterable[str] = ()) -> nx.DiGraph:
    """Merge ops sharing a name prefix of the level's depth; counts are summed.

    Groups named in `expand` are drawn one level finer (a block as its units, a unit as
    its ops; recursively when their parts are named too) and recorded as clusters in
    `graph["clusters"]` with their sums. A name that is no group of this graph is refused;
    a group hidden inside a collapsed one has no effect until its parent is expanded.
    """
    levels = _levels(level)
    expand = _check_expand(g, expand)
    out = nx.DiGraph(model=g.graph.get("model"), level=level, expand=tuple(sorted(expand)), clusters={})
    key_of: dict[str, str] = {}
    for n, d in g.nodes(data=True):
        key, parents, i = (n, (), 0) if n == INPUT else _place(n, levels, expand)
        key_of[n] = key
        if key not in out:
            shown = levels[i] if n != INPUT else "input"
            out.add_node(key, kind=d["kind"], op=d.get("op", d["kind"]), kinds=Counter(), in_shape=d.get("in_shape"),
                         ops=0, parents=parents, level=shown if isinstance(shown, str) else f"depth {shown}",
                         expandable=False, **dict.fromkeys(COUNTS, 0))
        node = out.nodes[key]
        _add(node, d)
        node["out_shape"] = d["out_shape"]  # ops are in order: the last one's output
        node["expandable"] |= key != n
        for depth, p in enumerate(parents):
            if p not in out.graph["clusters"]:
                out.graph["clusters"][p] = {"parents": parents[:depth], "kind": "expanded", "kinds": Counter(),
                                            "in_shape": d.get("in_shape"), "ops": 0, **dict.fromkeys(COUNTS, 0)}
            _add(out.graph["clusters"][p], d)
            out.graph["clusters"][p]["out_shape"] = d["out_shape"]
    for _, node in out.nodes(data=True):
        if node["ops"] > 1 or len(node["kinds"]) > 1 or node["expandable"]:
            node["kind"], node["op"] = "group", "group"
    for u, v, d in g.edges(data=True):
        if key_of[u] != key_of[v]:
            out.add_edge(key_of[u], key_of[v], shape=d["shape"])
    return out


def _add(acc: dict[str, Any], d: Mapping[str, Any]) -> None:
    acc["ops"] += d["ops"]
    if d["ops"]:
        acc["kinds"][d.get("op", d["kind"])] += d["ops"]
    for k in COUNTS:
        acc[k] += d[k]
    if "ms" in d:
        acc["ms"] = acc.get("ms", 0.0) + d["ms"]
        acc["ms_ops"] = acc.get("ms_ops", 0) + d.get("ms_ops", 1)


def expandable(g: nx.DiGraph) -> list[str]:
    """Every group of an op graph that can be expanded (stages, blocks, units), in order."""
    seen: dict[str, None] = {}
    for n in g.nodes:
        if n == INPUT:
            continue
        for level in ORDER[:-1]:
            if (key := group_key(n, level)) != n:
                seen.setdefault(key)
    return list(seen)


def _check_expand(g: nx.DiGraph, expand: Iterable[str]) -> frozenset[str]:
    names = frozenset(expand)
    if not names:
        return names
    bad = sorted((n for n in names if not isinstance(n, str)), key=repr)  # mixed types (1, None) do not compare
    groups = set(expandable(g)) if not bad else set()
    bad += sorted(n for n in names if isinstance(n, str) and n not in groups)
    if bad:
        some = ", ".join(expandable(g)[:6])
        raise ArchlibError(f"expand={bad[0]!r} is not allowed: expand must name groups of this graph "
                           f"(stages, blocks or units such as {some}).")
    return names


__all__ = ["COLOR_BY", "LEVELS", "ORDER", "annotate_svg", "cluster_id", "collapse", "expandable", "node_id",
           "op_graph", "operator", "render_png", "render_svg", "to_dot", "to_png", "to_svg"]
