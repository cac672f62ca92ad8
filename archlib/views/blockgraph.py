"""The model as a networkx DiGraph at op, unit, block or stage level, and as DOT/SVG.

Nodes carry the same counts as the analysis table; collapsing a level sums them, so the
graph's totals equal the table's at every level.
"""
from __future__ import annotations

import html
from typing import Any

import networkx as nx

from archlib.core.analysis import COUNTS, Analysis, group_key, human, parse_level
from archlib.core.ir import INPUT
from archlib.errors import ArchlibError

COLOR_BY = ("macs", "params", "activations", "elementwise")
# light-to-dark sequential palette (ColorBrewer YlOrRd, 9 classes)
_PALETTE = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026")


def op_graph(a: Analysis) -> nx.DiGraph:
    """One node per op (plus `input`), an edge per data dependency."""
    g = nx.DiGraph(model=a.model)
    g.add_node(INPUT, kind="input", out_shape=a.input_shape, ops=0, **dict.fromkeys(COUNTS, 0))
    for row, op in zip(a.rows, a.ir.ops):
        c = row.cost
        g.add_node(op.name, kind=op.kind, in_shape=row.in_shape, out_shape=row.out_shape, ops=1,
                   params=c.params, buffers=c.buffers, macs=c.macs, flops=c.flops,
                   elementwise=c.elementwise, activations=c.activations, fvcore=c.fvcore)
        for src in op.inputs:
            g.add_edge(src, op.name, shape=g.nodes[src]["out_shape"])
    return g


def collapse(g: nx.DiGraph, level: str | int) -> nx.DiGraph:
    """Merge ops sharing a name prefix of the level's depth; counts are summed."""
    level = parse_level(level)
    out = nx.DiGraph(model=g.graph.get("model"), level=level)
    for n, d in g.nodes(data=True):
        key = n if n == INPUT else group_key(n, level)
        if key not in out:
            out.add_node(key, kind=d["kind"], kinds=set(), in_shape=d.get("in_shape"), ops=0,
                         **dict.fromkeys(COUNTS, 0))
        node = out.nodes[key]
        node["kinds"].add(d["kind"])
        node["out_shape"] = d["out_shape"]  # ops are in order: the last one's output
        node["ops"] += d["ops"]
        for k in COUNTS:
            node[k] += d[k]
    for n in out.nodes:
        kinds = out.nodes[n].pop("kinds")
        if len(kinds) > 1 or out.nodes[n]["ops"] > 1:
            out.nodes[n]["kind"] = "group"
    for u, v, d in g.edges(data=True):
        cu = u if u == INPUT else group_key(u, level)
        cv = group_key(v, level)
        if cu != cv:
            out.add_edge(cu, cv, shape=d["shape"])
    return out


def to_dot(g: nx.DiGraph, *, color_by: str = "macs", rankdir: str = "TB", top: int | None = None) -> str:
    """DOT source: boxes labelled with name, shape and costs, filled by `color_by`.

    Shades run from 0 to `top` (default: the graph's largest node), so graphs drawn with
    one `top` share a colour scale.
    """
    if color_by not in COLOR_BY:
        raise ArchlibError(f"color_by={color_by!r} is not allowed: color_by must be one of {', '.join(COLOR_BY)}.")
    if rankdir not in ("TB", "LR"):
        raise ArchlibError(f"rankdir={rankdir!r} is not allowed: rankdir must be TB or LR.")
    if top is None:
        top = max((d[color_by] for _, d in g.nodes(data=True)), default=0)
    top = max(top, 1)
    ids = {n: f"n{i}" for i, n in enumerate(g.nodes)}
    lines = [
        "digraph G {",
        f'  graph [rankdir={rankdir}, fontname="Helvetica", nodesep=0.25, ranksep=0.3];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [color="#777777", fontname="Helvetica", fontsize=8];',
    ]
    for n, d in g.nodes(data=True):
        shade = _PALETTE[min(len(_PALETTE) - 1, int(len(_PALETTE) * d[color_by] / top))] if d[color_by] else "#f0f0f0"
        font = "white" if shade in _PALETTE[6:] else "black"
        lines.append(f'  {ids[n]} [label=<{_label(n, d)}>, fillcolor="{shade}", fontcolor="{font}", '
                     f'tooltip="{html.escape(_tooltip(n, d))}"];')
    for u, v in g.edges:
        lines.append(f"  {ids[u]} -> {ids[v]};")
    lines.append("}")
    return "\n".join(lines)


def _shape(s: Any) -> str:
    return "x".join(str(v) for v in s) if s else ""


def _label(n: str, d: dict) -> str:
    head = f"<b>{html.escape(n)}</b>"
    kind = d["kind"] if d["kind"] != "group" else f"{d['ops']} ops"
    rows = [head, f"{html.escape(kind)} &rarr; {_shape(d['out_shape'])}"]
    if n != INPUT:
        rows.append(f"MACs {human(d['macs'])} · params {human(d['params'])}")
    return "<br/>".join(rows)


def _tooltip(n: str, d: dict) -> str:
    return (f"{n}: {d['kind']}, out {_shape(d['out_shape'])}, MACs {d['macs']:,}, params {d['params']:,}, "
            f"activations {d['activations']:,}, elementwise {d['elementwise']:,}")


def to_svg(dot: str) -> bytes:
    """Lay out DOT with Graphviz's `dot` (server side) and return SVG bytes."""
    import graphviz

    return graphviz.Source(dot).pipe(format="svg")


def to_png(dot: str) -> bytes:
    import graphviz

    return graphviz.Source(dot).pipe(format="png")
