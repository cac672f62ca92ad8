"""Plotly figures of the Performer page (the app's style from charts.py)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from app.ui.charts import PALETTE, _style

NAMES = {"softmax": "softmax attention", "performer": "FAVOR+ (Performer)"}
COLORS = {"softmax": PALETTE[0], "performer": PALETTE[1], "orthogonal": PALETTE[2], "iid": PALETTE[3]}
UNITS = {"macs": "MACs", "memory": "bytes"}
AXIS = {"tokens": "sequence length (tokens)", "image": "image side (pixels)"}


def cost(rows: Sequence[dict[str, Any]], metric: str, axis: str, cross_x: float | None) -> go.Figure:
    """Both attentions' MACs or memory against length (log-log), the crossover marked."""
    fig = go.Figure()
    for a, name in NAMES.items():
        pts = [r for r in rows if r["attention"] == a]
        fig.add_trace(go.Scatter(
            x=[r["x"] for r in pts], y=[r[metric] for r in pts], mode="lines", name=name,
            line=dict(color=COLORS[a], width=2.5), customdata=[r["tokens"] for r in pts],
            hovertemplate=f"%{{customdata:,}} tokens: %{{y:,}} {UNITS[metric]}<extra>{name}</extra>"))
    if cross_x is not None:
        _mark(fig, cross_x, "FAVOR+ cheaper from here", "dash")
    title = "MACs per attention layer" if metric == "macs" else "Memory held by the attention op"
    return _style(fig, 380, title=title, xaxis=dict(type="log", title=AXIS[axis]),
                  yaxis=dict(type="log", title=UNITS[metric]))


def latency(points: Sequence[Any]) -> go.Figure:
    """Measured median forward time (IQR as error bars) against tokens."""
    fig = go.Figure()
    for a, name in NAMES.items():
        pts = [p for p in points if p.attention == a]
        fig.add_trace(go.Scatter(
            x=[p.tokens for p in pts], y=[p.median_ms for p in pts], mode="lines+markers", name=name,
            line=dict(color=COLORS[a]), error_y=dict(type="data", array=[p.iqr_ms for p in pts]),
            hovertemplate="%{x:,} tokens: %{y:.3f} ms<extra>" + name + "</extra>"))
    return _style(fig, 380, title="Measured forward time of one attention layer (median, IQR)",
                  xaxis=dict(type="log", title="sequence length (tokens)"), yaxis=dict(type="log", title="ms"))


def error(rows: Sequence[dict[str, Any]], marked: int) -> go.Figure:
    """Relative error of FAVOR+ (mean, and +- one std over seeds) against m, per feature kind."""
    fig = go.Figure()
    for kind in ("orthogonal", "iid"):
        pts = [r for r in rows if r["kind"] == kind]
        fig.add_trace(go.Scatter(
            x=[r["features"] for r in pts], y=[r["mean"] for r in pts], mode="lines+markers",
            name=f"{kind} features",
            line=dict(color=COLORS[kind]), error_y=dict(type="data", array=[r["std"] for r in pts]),
            hovertemplate="m = %{x}: %{y:.4f} mean relative error<extra>" + kind + "</extra>"))
    _mark(fig, marked, f"m = {marked}", "dot")
    return _style(fig, 380, title="‖FAVOR+ − softmax attention‖ / ‖softmax attention‖ (mean ± std over seeds)",
                  xaxis=dict(type="log", title="random features m"), yaxis=dict(type="log", title="relative error"))


def _mark(fig: go.Figure, x: float, text: str, dash: str) -> None:
    """A vertical line with a label on a log x axis (annotations there take log10(x))."""
    fig.add_vline(x=x, line=dict(color="#475569", dash=dash))
    fig.add_annotation(x=math.log10(x), y=1, yref="paper", text=text, showarrow=False, xanchor="left",
                       yanchor="bottom", font=dict(size=12, color="#475569"))
