"""Cached wrappers around archlib: what a rerun with an unchanged configuration reuses.

Analyses are cached as shared resources (frozen, never mutated, no pickling on a hit);
tables, SVGs and cross-check results as data. Keys are (model, knob items) tuples.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

import archlib
from archlib.core.analysis import Analysis, group_key
from archlib.hardware.gate import admit
from archlib.hardware.host import available_memory
from archlib.views import blockgraph
from archlib.views.crosscheck import CrossCheck

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

Items = tuple[tuple[str, Any], ...]


@st.cache_resource(max_entries=256, show_spinner=False)
def analysis(model: str, items: Items) -> Analysis:
    """archlib.analyze for one configuration (raises ArchlibError for an impossible one)."""
    return archlib.analyze(model, **dict(items))


@st.cache_data(max_entries=64, show_spinner=False)
def layer_table(model: str, items: Items) -> pd.DataFrame:
    """One row per op: the per-layer table of the Explore page (and its CSV)."""
    import pandas as pd  # lazily: the first page needs no pandas

    a = analysis(model, items)
    total = a.totals()["macs"] or 1
    rows = []
    for r in a.rows:
        c = r.cost
        rows.append({"name": r.name, "op": r.op, "stage": group_key(r.name, "stage"),
                     "input": "x".join(map(str, r.in_shape)), "output": "x".join(map(str, r.out_shape)),
                     "params": c.params, "macs": c.macs, "flops": c.flops, "elementwise": c.elementwise,
                     "activations": c.activations, "activation_bytes": r.activation_bytes,
                     "buffers": c.buffers, "fvcore": c.fvcore,
                     "macs_share": c.macs / total})
    return pd.DataFrame(rows)


def layer_csv(model: str, items: Items) -> bytes:
    return layer_table(model, items).drop(columns=["macs_share"]).to_csv(index=False).encode()


Expand = tuple[str, ...]  # groups drawn one level finer (archlib.views.blockgraph.collapse)
#: per-op latency in ms as a hashable cache key ((name, ms), ...): this host's predictions (app.hardware.model)
Latency = tuple[tuple[str, float], ...] | None


@st.cache_resource(max_entries=64, show_spinner=False)
def level_graph(model: str, items: Items, level: str, expand: Expand = (), latency: Latency = None) -> nx.DiGraph:
    """The graph of this configuration at `level` (op, unit, block or stage), `expand` drawn finer;
    with `latency`, every node carries its ms (summed over its ops). Shared by every session:
    read it, never change it."""
    from archlib.views.blockgraph import collapse, op_graph

    g = op_graph(analysis(model, items), latency_ms=dict(latency) if latency is not None else None)
    return g if level == "op" else collapse(g, level, expand=expand)


@st.cache_data(max_entries=256, show_spinner=False)
def node_max(model: str, items: Items, level: str, color: str, expand: Expand = (), *,
             latency: Latency = None) -> float:
    """The largest node's `color` cost at `level`: a shared colour scale for several graphs."""
    return max((d.get(color, 0) for _, d in level_graph(model, items, level, expand, latency).nodes(data=True)),
               default=0)


@st.cache_data(max_entries=64, show_spinner=False)
def graph_svg(model: str, items: Items, level: str, color: str, rankdir: str, top: int | None = None,
              expand: Expand = (), *, legend: bool = False, latency: Latency = None) -> bytes:
    """The graph laid out server-side by Graphviz `dot`, with ids and data attributes on its nodes.

    `legend` (for downloads) adds the colour scale and each node's tooltip to the picture.
    """
    g = level_graph(model, items, level, expand, latency)
    return blockgraph.render_svg(g, color_by=color, rankdir=rankdir, top=top, legend=legend, tooltips=legend)


def graph_png(model: str, items: Items, level: str, color: str, rankdir: str, top: int | None = None,
              expand: Expand = (), latency: Latency = None) -> bytes:
    """PNG of the graph with its legend; called only when its download button is clicked."""
    g = level_graph(model, items, level, expand, latency)
    return blockgraph.to_png(blockgraph.to_dot(g, color_by=color, rankdir=rankdir, top=top, legend=True,
                                               tooltips=False))


@st.cache_resource(max_entries=64, show_spinner=False)
def graph_names(models: tuple[tuple[str, Items], ...]) -> tuple[tuple[str, ...], frozenset[str]]:
    """(every expandable group, every group and op name) of these configurations' graphs."""
    groups: dict[str, None] = {}
    ops: set[str] = set()
    for model, items in models:
        g = level_graph(model, items, "op")
        groups.update(dict.fromkeys(blockgraph.expandable(g)))
        ops.update(n for n in g.nodes if n != "input")
    return tuple(groups), frozenset(ops | set(groups))


@st.cache_data(max_entries=16, show_spinner=False)
def crosscheck(model: str, items: Items) -> CrossCheck:
    """archlib's cross-check of this configuration: built, counted by FlopCounterMode and fvcore,
    compared per module (refused before anything is allocated when it would not fit here); one
    heavy job at a time across all sessions (archlib.hardware.gate)."""
    return CrossCheck.run(analysis(model, items), available=available_memory("cpu"),
                          admit=lambda need: admit(need, f"the cross-check of {model}", timeout=120))
