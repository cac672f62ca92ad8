"""The live graph component: Graphviz's SVG rendered in the page (st.components.v2), with
pan and zoom (svg-pan-zoom 3.6.2, vendored with its licence under vendor/), hover
details, click to expand/collapse or select, search and a colour legend.

Components are trusted code: the SVG comes from Graphviz fed DOT in which every name
was escaped (archlib.views.graphsvg), and the JavaScript writes node details with
textContent only. Nothing else from a user reaches the HTML.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import streamlit as st

from app.ui.graph import keys
from archlib.core.analysis import human
from archlib.views import graphreuse
from archlib.views.graphsvg import LABELS, PAGE_CSS, scale

HERE = Path(__file__).resolve().parent
NAME = "archlib_graph"

HTML = """<div class="ag-root">
  <div class="ag-bar">
    <input class="ag-search" type="search" placeholder="Search the graph: name or operator, e.g. s4 or dw (Enter: next)"
           aria-label="Search the graph" autocomplete="off" spellcheck="false">
    <span class="ag-count" aria-live="polite"></span>
    <button class="ag-prev" title="Previous match (Shift+Enter)">↑</button>
    <button class="ag-next" title="Next match (Enter)">↓</button>
  </div>
  <div class="ag-stage">
    <div class="ag-svg"></div>
    <div class="ag-tools">
      <button class="ag-out" title="Zoom out (or scroll down)">−</button>
      <button class="ag-in" title="Zoom in (or scroll up)">+</button>
      <button class="ag-fit" title="Fit the whole graph">Fit</button>
      <button class="ag-reset" title="Back to the first view">Reset</button>
      <span class="ag-zoom" title="100%: labels at 10 px"></span>
    </div>
    <div class="ag-card" hidden></div>
    <div class="ag-legend"></div>
    <canvas class="ag-mini" hidden title="Overview: press or drag to go there"></canvas>
  </div>
  <div class="ag-help"></div>
</div>"""


def _js() -> str:
    vendor = (HERE / "vendor" / "svg-pan-zoom.min.js").read_text()
    # the vendored build is a browserify bundle: run as is, it sets window.svgPanZoom; then the parts, then the
    # module's default export (one ES module, so the parts are plain functions in its scope)
    return "\n;\n".join([vendor, (HERE / "view.js").read_text(), (HERE / "graph.js").read_text()])


# the page form of the SVG leaves its labels' font to the style sheet (archlib.views.graphsvg.PAGE_CSS)
COMPONENT = st.components.v2.component(NAME, html=HTML, css=(HERE / "graph.css").read_text() + PAGE_CSS, js=_js())


@functools.lru_cache(maxsize=64)  # graphs are shared and never changed (app.ui.cache.level_graph)
def signature(g: nx.DiGraph, rankdir: str) -> str:
    """Equal for graphs of one structure (same nodes, edges, clusters): a kept zoom still fits."""
    return graphreuse.structure_key(g, rankdir)[:16]


def legend(top: float, color: str) -> dict[str, Any]:
    """The colour scale the component draws: its title, classes and ends."""
    classes = [{"color": c, "range": f"{human(lo)} – {human(hi)}"} for c, lo, hi in scale(top)]
    top = top if top > 0 else 1  # ms are fractions: no floor of 1
    return {"title": f"{LABELS[color]} per box (grey: none)", "classes": classes, "low": "0",
            "mid": human(top / 2), "high": human(top)}


HELP = ("Scroll to zoom, drag (or Shift+scroll) to pan. Hover a box for its details; click a group to expand it "
        "in place (click its frame to collapse it again), an op to select it.")


def mount(svg: str, *, key: str, sig: str, focus: str, legend: dict[str, Any], height: int,
          on_click: Callable[[], None], latency_source: str = "", help: str = HELP) -> None:
    """Show the live graph (`svg` in its page form, app.ui.cache.page_svg); `on_click` runs (before the rerun)
    when a box is clicked."""
    data = {"svg": svg, "view": key, "sig": sig, "focus": focus, "legend": legend, "height": height,
            "latency_source": latency_source, "help": help}
    COMPONENT(key=key, data=data, on_click_change=on_click, height="content")


def clicked(key: str) -> dict[str, str] | None:
    """The click the component with `key` just reported ({"action", "name"}), or None."""
    value = st.session_state.get(key)
    return parse_click(value.get("click") if hasattr(value, "get") else None)


def parse_click(ev: Any) -> dict[str, str] | None:
    """A click event from the browser, checked as untrusted input: None unless well formed."""
    if not isinstance(ev, dict):
        return None
    action, name = ev.get("action"), ev.get("name")
    if action not in ("toggle", "select", "clear") or not isinstance(name, str) or len(name) > keys.MAX_NAME:
        return None
    return {"action": action, "name": name}
