"""DOT, SVG and PNG of a block graph (see `archlib.views.blockgraph`).

Every node gets an id derived from its name (`n-s2.b1`; clusters of expanded groups
`c-s2.b1`), so a node keeps its id across knob changes and a page can find it again.
`annotate_svg` adds data attributes to Graphviz's own `g.node`/`g.cluster` elements:
name, operator, input/output shapes, every count, the share of the model's total of the
colouring cost, and latency where the graph carries it. `render_svg`/`render_png` refuse a
graph too costly to lay out before Graphviz starts, and Graphviz runs bounded in time and
memory (`archlib.views.graphdot`). Names are escaped wherever they
are written (DOT strings, HTML-like labels, XML attributes): an imported model's names
are untrusted text.
"""
from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

import networkx as nx

from archlib.core.analysis import COUNTS, human
from archlib.core.ir import INPUT
from archlib.errors import ArchlibError
from archlib.views import graphdot, graphreuse

COLOR_BY = ("macs", "params", "activations", "elementwise", "ms")
# light-to-dark sequential palette (ColorBrewer YlOrRd, 9 classes)
_PALETTE = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026")
ZERO = "#f0f0f0"  # a node with none of the cost
LABELS = {"macs": "MACs", "params": "params", "activations": "activations", "elementwise": "elementwise ops",
          "ms": "ms"}


def _escape_id(name: str) -> str:
    # letters, digits, '.' and '_' stay; '-' doubles; anything else becomes -<hex>-: injective and safe in
    # DOT, XML, HTML ids and CSS (after CSS.escape of the dots)
    return "".join(c if c.isascii() and (c.isalnum() or c in "._") else "--" if c == "-" else f"-{ord(c):x}-"
                   for c in name)


def node_id(name: str) -> str:
    """The SVG id of a node: stable across knob changes, derived from its name."""
    return "n-" + _escape_id(name)


def cluster_id(name: str) -> str:
    """The SVG id of an expanded group's cluster."""
    return "c-" + _escape_id(name)


def shade(value: float, top: float) -> str:
    """The fill of a node with `value` of the cost on a scale from 0 to `top`."""
    if not value:
        return ZERO
    return _PALETTE[min(len(_PALETTE) - 1, int(len(_PALETTE) * value / _positive(top)))]


def _positive(top: float) -> float:
    """The top of a colour scale: itself, or 1 for an all-zero graph (ms are fractions: no floor of 1)."""
    return top if top > 0 else 1


def scale(top: float) -> list[tuple[str, float, float]]:
    """The legend: (colour, lower bound, upper bound) of each class of the palette."""
    top = _positive(top)
    n = len(_PALETTE)
    return [(c, top * i / n, top * (i + 1) / n) for i, c in enumerate(_PALETTE)]


def _dot_str(text: str) -> str:
    return '"' + html.escape(text, quote=False).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _shape(s: Any) -> str:
    return "x".join(str(v) for v in s) if s else ""


def _check(color_by: str, rankdir: str, g: nx.DiGraph | None = None) -> None:
    if color_by not in COLOR_BY:
        raise ArchlibError(f"color_by={color_by!r} is not allowed: color_by must be one of {', '.join(COLOR_BY)}.")
    if color_by == "ms" and g is not None and not any("ms" in d for _, d in g.nodes(data=True)):
        raise ArchlibError("color_by='ms' needs a graph with latencies (op_graph(..., latency_ms=...)): measure the "
                           "layers or calibrate this host for predicted latency.")
    if rankdir not in ("TB", "LR"):
        raise ArchlibError(f"rankdir={rankdir!r} is not allowed: rankdir must be TB or LR.")


def to_dot(g: nx.DiGraph, *, color_by: str = "macs", rankdir: str = "TB", top: int | None = None,
           legend: bool = False, tooltips: bool = True) -> str:
    """DOT source: boxes labelled with name, shape and costs, filled by `color_by`.

    Shades run from 0 to `top` (default: the graph's largest node), so graphs drawn with
    one `top` share a colour scale. Expanded groups are clusters around their parts;
    `legend` adds the colour scale under the graph; `tooltips` adds each node's details.
    """
    _check(color_by, rankdir, g)
    top = _top(g, color_by, top)
    lines = [
        "digraph G {",
        f'  graph [rankdir={rankdir}, fontname="Helvetica", nodesep=0.25, ranksep=0.3];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [color="#777777", fontname="Helvetica", fontsize=8];',
    ]
    if legend:
        lines.append(f"  graph [labelloc=b, labeljust=l, label=<{_legend(top, color_by)}>];")
    lines += _nested(g, color_by, top, tooltips)
    for u, v in g.edges:
        lines.append(f'  "{node_id(u)}" -> "{node_id(v)}";')
    lines.append("}")
    return "\n".join(lines)


def _nested(g: nx.DiGraph, color_by: str, top: int, tooltips: bool) -> list[str]:
    """Node statements, each inside the clusters of the expanded groups it belongs to."""
    clusters: Mapping[str, dict] = g.graph.get("clusters", {})
    nodes_in: dict[str, list[str]] = {}
    for n, d in g.nodes(data=True):
        nodes_in.setdefault(d["parents"][-1] if d.get("parents") else "", []).append(n)
    clusters_in: dict[str, list[str]] = {}
    for c, d in clusters.items():
        clusters_in.setdefault(d["parents"][-1] if d["parents"] else "", []).append(c)
    lines: list[str] = []

    def emit(parent: str, indent: str) -> None:
        for c in clusters_in.get(parent, []):
            d = clusters[c]
            lines.append(f'{indent}subgraph "cluster_{cluster_id(c)}" {{')
            lines.append(f'{indent}  id="{cluster_id(c)}"; label=<{_cluster_label(c, d)}>; labelloc=t; labeljust=l; '
                         f'style="rounded,dashed"; color="#8a8f98"; fontsize=10; penwidth=1.2;'
                         + (f" tooltip={_dot_str(_tooltip(c, d))};" if tooltips else ""))
            emit(c, indent + "  ")
            lines.append(f"{indent}}}")
        for n in nodes_in.get(parent, []):
            d = g.nodes[n]
            fill, font = _colours(d, color_by, top)
            tip = f", tooltip={_dot_str(_tooltip(n, d))}" if tooltips else ""
            lines.append(f'{indent}"{node_id(n)}" [id="{node_id(n)}", label=<{_label(n, d)}>, fillcolor="{fill}", '
                         f'fontcolor="{font}"{tip}];')

    emit("", "  ")
    return lines


def _top(g: nx.DiGraph, color_by: str, top: float | None) -> float:
    """The top of the colour scale: `top`, else the graph's largest node (never 0)."""
    if top is None:
        top = max((d.get(color_by, 0) for _, d in g.nodes(data=True)), default=0)
    return _positive(top)


def _colours(d: Mapping[str, Any], color_by: str, top: float) -> tuple[str, str]:
    """(fill, font colour) of a node: its shade, and white text on the dark ones."""
    fill = shade(d.get(color_by, 0), top)
    return fill, "white" if fill in _PALETTE[6:] else "black"


def _label(n: str, d: Mapping[str, Any]) -> str:
    head = f"<b>{html.escape(n)}</b>"
    kind = d.get("op", d["kind"]) if d["kind"] != "group" else f"{d['ops']} ops"
    rows = [head, f"{html.escape(kind)} &rarr; {_shape(d['out_shape'])}"]
    if n != INPUT:
        cost = f"MACs {human(d['macs'])} · params {human(d['params'])}"
        rows.append(cost + (f" · {d['ms']:.3g} ms" if "ms" in d else ""))
    return "<br/>".join(rows)


def _cluster_label(c: str, d: Mapping[str, Any]) -> str:
    return f"<b>{html.escape(c)}</b> · {d['ops']} ops · MACs {human(d['macs'])} · params {human(d['params'])}"


def _tooltip(n: str, d: Mapping[str, Any]) -> str:
    text = (f"{n}: {d.get('op', d['kind'])}, in {_shape(d.get('in_shape'))}, out {_shape(d['out_shape'])}, "
            f"MACs {d['macs']:,}, params {d['params']:,}, activations {d['activations']:,}, "
            f"elementwise {d['elementwise']:,}")
    return text + (f", {d['ms']:.4g} ms" if "ms" in d else "")


def _legend(top: float, color_by: str) -> str:
    cells = "".join(f'<td bgcolor="{c}" width="34" height="12"></td>' for c, _, _ in scale(top))
    ticks = "".join(f'<td><font point-size="8">{human(lo)}</font></td>' for _, lo, _ in scale(top))
    return (f'<table border="0" cellspacing="0" cellpadding="2"><tr><td colspan="9" align="left">'
            f'{LABELS[color_by]} per node, 0 to {human(top)} (grey: none)</td></tr>'
            f"<tr>{cells}</tr><tr>{ticks}</tr></table>")


def to_svg(dot: str) -> bytes:
    """Lay out DOT with Graphviz's `dot` (server side) and return SVG bytes; dot runs bounded in time and
    memory (archlib.views.graphdot): a layout past the bounds is an ArchlibError naming them."""
    return graphdot.run_dot(dot, "svg")


def to_png(dot: str) -> bytes:
    """Lay out DOT with Graphviz's `dot` and return PNG bytes (bounded as `to_svg`)."""
    return graphdot.run_dot(dot, "png")


# Graphviz writes '-' in ids as &#45;
_NODE_G = re.compile(rb'<g id="([nc](?:-|&#45;)[^"]*)" class="(?:node|cluster)">')


def annotate_svg(svg: bytes, g: nx.DiGraph, *, color_by: str = "macs") -> bytes:
    """Graphviz's SVG with data attributes on every node and cluster (and totals on the root)."""
    totals = {k: sum(d.get(k, 0) for _, d in g.nodes(data=True)) for k in (*COUNTS, "ms")}
    by_id = {node_id(n): (n, d) for n, d in g.nodes(data=True)}
    by_id |= {cluster_id(c): (c, d) for c, d in g.graph.get("clusters", {}).items()}

    def attrs(m: re.Match) -> bytes:
        found = by_id.get(html.unescape(m.group(1).decode()))
        if found is None:
            return m.group(0)
        n, d = found
        extra = _data_attrs(n, d, totals, color_by)
        return m.group(0)[:-1] + b" " + extra.encode() + b">"

    out = _NODE_G.sub(attrs, svg)
    root = " ".join(f'data-total-{k}="{v}"' for k, v in totals.items()) + f' data-color-by="{color_by}"'
    return out.replace(b"<svg ", b"<svg " + root.encode() + b" ", 1)


def _data_attrs(n: str, d: Mapping[str, Any], totals: Mapping[str, int], color_by: str) -> str:
    total = totals[color_by]
    values = {
        "name": n, "kind": d["kind"], "op": d.get("op", d["kind"]), "level": d.get("level", ""),
        "ops": d["ops"], "in": _shape(d.get("in_shape")), "out": _shape(d.get("out_shape")),
        **{k: d[k] for k in COUNTS}, "share": f"{d.get(color_by, 0) / total:.6f}" if total else "0",
        "kinds": json.dumps(dict(d["kinds"].most_common())) if d.get("kinds") else "",
        "expandable": "1" if d.get("expandable") else "",
    }
    if "ms" in d:
        values |= {"ms": f"{d['ms']:.6g}", "ms-ops": d.get("ms_ops", d["ops"])}
    return " ".join(f'data-{k}="{html.escape(str(v), quote=True)}"' for k, v in values.items() if v != "")


def render_svg(g: nx.DiGraph, *, color_by: str = "macs", rankdir: str = "TB", top: int | None = None,
               legend: bool = False, tooltips: bool = True) -> bytes:
    """The annotated SVG of `g`: DOT, Graphviz layout, then data attributes on each node.

    A graph too costly to lay out is refused before dot starts (`graphdot.too_large`: its size,
    the limit, and a coarser level or fewer expanded groups to try).
    """
    graphdot.check(g)
    # a graph of a structure already laid out here gets that layout with its own labels and fills
    key = graphreuse.structure_key(g, rankdir) if not (legend or tooltips or g.graph.get("clusters")) else None
    if key is None:
        svg = to_svg(to_dot(g, color_by=color_by, rankdir=rankdir, top=top, legend=legend, tooltips=tooltips))
        return annotate_svg(svg, g, color_by=color_by)
    svg = _relabelled(g, key, color_by, rankdir, top)
    if svg is None:
        with graphreuse.LAYOUTS.laying_out(key):  # sessions opening links of this structure wait for one layout
            svg = _relabelled(g, key, color_by, rankdir, top)
            if svg is None:
                svg = to_svg(to_dot(g, color_by=color_by, rankdir=rankdir, top=top, tooltips=False))
                graphreuse.LAYOUTS.put(key, svg)
    return annotate_svg(svg, g, color_by=color_by)


def _relabelled(g: nx.DiGraph, key: str, color_by: str, rankdir: str, top: float | None) -> bytes | None:
    """The kept layout of `g`'s structure with `g`'s labels and fills, or None (none kept, or one does not fit)."""
    kept = graphreuse.LAYOUTS.get(key)
    if kept is None:
        return None
    _check(color_by, rankdir, g)
    scale_top = _top(g, color_by, top)
    return graphreuse.relabel(kept, {node_id(n): (graphreuse.label_lines(_label(n, d)), *_colours(d, color_by, scale_top))
                                     for n, d in g.nodes(data=True)})


def render_png(g: nx.DiGraph, *, color_by: str = "macs", rankdir: str = "TB", top: int | None = None) -> bytes:
    """A PNG of `g` with its colour legend (refused like `render_svg` when too costly to lay out)."""
    graphdot.check(g)
    return to_png(to_dot(g, color_by=color_by, rankdir=rankdir, top=top, legend=True, tooltips=False))


_PROLOG = re.compile(rb"^.*?(?=<svg\b)", re.S)
_TITLES = re.compile(rb"<title>[^<]*</title>\n?|<!--.*?-->\n?", re.S)
#: attributes a page states once in its style sheet (PAGE_CSS) instead of on every element: dot writes these
#: values on every label of ours; any other value is left on its element
_DEFAULTS = re.compile(rb' (?:font-family="Helvetica,sans-Serif"|font-size="10.00"|text-anchor="start"|'
                       rb'xlink:title="[^"]*")')
#: what a page embedding `for_page`'s SVG states for the attributes it dropped (text-anchor's default is start)
PAGE_CSS = ("svg text:not([font-family]) { font-family: Helvetica, sans-serif; }\n"
            "svg text:not([font-size]) { font-size: 10px; }\n")


def for_page(svg: bytes) -> str:
    """The SVG as a page embeds it, about a fifth smaller: no XML prolog, no <title>s or link titles (a page's
    hover card replaces them), no comments, and the font and anchor dot writes on every label left to the
    page's style sheet (PAGE_CSS)."""
    return _DEFAULTS.sub(b"", _TITLES.sub(b"", _PROLOG.sub(b"", svg, count=1))).decode()
