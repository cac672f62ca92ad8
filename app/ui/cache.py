"""Cached wrappers around archlib: what a rerun with an unchanged configuration reuses.

Analyses, level graphs and what is derived from them are memoised per process (frozen, never
changed, no pickling on a hit); tables, SVGs and cross-check results are cached as data (a
refused or stopped layout too). Keys are (model, knob items) tuples.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import streamlit as st

import archlib
from archlib.core.analysis import Analysis, group_key
from archlib.errors import ArchlibError
from archlib.hardware.gate import admit
from archlib.hardware.host import available_memory
from archlib.views import blockgraph, graphdot, graphsvg
from archlib.views.crosscheck import CrossCheck

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

Items = tuple[tuple[str, Any], ...]


# What every rerun reads, keyed by small hashable tuples, is memoised with functools (a dict lookup)
# rather than st.cache_*: Streamlit hashes a cached function's arguments on every call (about 1 ms
# each here), which was a quarter of a shared link's server CPU per session (benchmarks/bench_load.py).
# The results are shared by every session and never changed.
@functools.lru_cache(maxsize=256)
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


@functools.lru_cache(maxsize=64)
def level_graph(model: str, items: Items, level: str, expand: Expand = (), latency: Latency = None) -> nx.DiGraph:
    """The graph of this configuration at `level` (op, unit, block or stage), `expand` drawn finer;
    with `latency`, every node carries its ms (summed over its ops). Shared by every session:
    read it, never change it."""
    from archlib.views.blockgraph import collapse, op_graph

    g = op_graph(analysis(model, items), latency_ms=dict(latency) if latency is not None else None)
    return g if level == "op" else collapse(g, level, expand=expand)


@functools.lru_cache(maxsize=256)
def node_max(model: str, items: Items, level: str, color: str, expand: Expand = (), *,
             latency: Latency = None) -> float:
    """The largest node's `color` cost at `level`: a shared colour scale for several graphs."""
    return max((d.get(color, 0) for _, d in level_graph(model, items, level, expand, latency).nodes(data=True)),
               default=0)


@functools.lru_cache(maxsize=256)
def too_large(model: str, items: Items, level: str, expand: Expand = (), latency: Latency = None) -> str | None:
    """Why this graph will not be laid out (its size against archlib's limits), or None: asked before
    any layout, so a graph that would tie up the server is never handed to dot."""
    g = level_graph(model, items, level, expand, latency)
    why = graphdot.too_large(g)
    if why and not expand and level != "stage" and graphdot.too_large(level_graph(model, items, "stage")):
        why = graphdot.too_large(g, advice="No level draws this model: even its stage-level graph is too large, "
                                           "as its op names have too few scopes to group ops by")
    return why


def graph_svg(model: str, items: Items, level: str, color: str, rankdir: str, top: int | None = None,
              expand: Expand = (), *, legend: bool = False, latency: Latency = None) -> bytes:
    """The graph laid out server-side by Graphviz `dot`, with ids and data attributes on its nodes.

    `legend` (for downloads) adds the colour scale and each node's tooltip to the picture. Raises
    ArchlibError when the graph is too large or dot was stopped at its limits.
    """
    return _layout("svg", model, items, level, color, rankdir, top, expand, legend, latency)


# The page form of a live graph (archlib.views.graphsvg.for_page: the prolog, titles and comments stripped,
# about 13 ms on EfficientNet-B7's op graph) is made once per view and shared: every session opening a
# link reads the same str. Only laid-out graphs are kept here; refusals stay with _svg, which keeps them.
@functools.lru_cache(maxsize=32)
def page_svg(model: str, items: Items, level: str, color: str, rankdir: str, top: int | None = None,
             expand: Expand = (), latency: Latency = None) -> str:
    """graph_svg's picture (no legend) as the live graph embeds it (raises like graph_svg)."""
    return graphsvg.for_page(graph_svg(model, items, level, color, rankdir, top, expand, latency=latency))


def graph_png(model: str, items: Items, level: str, color: str, rankdir: str, top: int | None = None,
              expand: Expand = (), latency: Latency = None) -> bytes:
    """PNG of the graph with its legend; built when its download button is clicked (raises like graph_svg)."""
    return _layout("png", model, items, level, color, rankdir, top, expand, True, latency)


def _layout(fmt: str, *key: Any) -> bytes:
    data, refused = (_svg if fmt == "svg" else _png)(*key)
    if refused:
        raise ArchlibError(refused)
    return data


# A layout is cached whether it succeeded or was refused (too large, or dot stopped at its time or memory
# limit): a session that opens the same view gets the answer at once, never a second dot. Sessions asking at
# the same time wait for the first (st.cache_data holds a lock per key); only "busy" (no dot slot free) is not
# kept, as it passes.
@st.cache_data(max_entries=64, show_spinner=False)
def _svg(model: str, items: Items, level: str, color: str, rankdir: str, top: int | None, expand: Expand,
         legend: bool, latency: Latency) -> tuple[bytes, str]:
    g = level_graph(model, items, level, expand, latency)
    return _kept(lambda: blockgraph.render_svg(g, color_by=color, rankdir=rankdir, top=top, legend=legend,
                                               tooltips=legend))


@st.cache_data(max_entries=8, show_spinner=False)
def _png(model: str, items: Items, level: str, color: str, rankdir: str, top: int | None, expand: Expand,
         legend: bool, latency: Latency) -> tuple[bytes, str]:
    g = level_graph(model, items, level, expand, latency)
    return _kept(lambda: blockgraph.render_png(g, color_by=color, rankdir=rankdir, top=top))


def _kept(render: Callable[[], bytes]) -> tuple[bytes, str]:
    try:
        return render(), ""
    except graphdot.LayoutBusy:
        raise
    except ArchlibError as e:
        return b"", str(e)


@functools.lru_cache(maxsize=64)
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
