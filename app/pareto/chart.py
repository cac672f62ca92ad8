"""The Pareto scatter: plotly for the page, and the same picture as a server-side SVG.

Colour = family (fixed per family, whatever the filter), symbol = source, open symbol =
a value marked unverified. Frontiers are staircases (the attainable region's edge): one
dashed line per source and a solid one overall. customdata[0] is the point's id.
"""
from __future__ import annotations

import html
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from app.pareto.data import AXES, FAMILIES

_PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563",
            "#65a30d", "#7c3aed", "#0d9488", "#b45309", "#be123c", "#1d4ed8", "#15803d", "#a21caf", "#475569",
            "#0369a1", "#854d0e")
COLORS = {f: _PALETTE[i % len(_PALETTE)] for i, f in enumerate(FAMILIES)}
SYMBOLS = {"paper": "circle", "torchvision": "square", "timm": "diamond", "pycls": "triangle-up"}
DASH = {"paper": "dot", "torchvision": "dash", "timm": "dashdot", "pycls": "longdash"}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _flags(row: Mapping[str, Any]) -> str:
    out = []
    if row.get("unverified"):
        out.append("⚠ unverified value (see the notes in the CSV)")
    if row.get("disagreement"):
        out.append("⚠ " + html.escape(row["disagreement"]))
    elif row.get("conflict"):
        out.append("⚠ the notes record a conflict between sources")
    if not row.get("archlib_model"):
        out.append("not in archlib: cannot open in Explore")
    return "<br>".join(out)


def _archlib_counts(r: Mapping[str, Any]) -> str:
    """archlib's own count of the configuration the point opens as, and how far the source is from it."""
    parts = []
    for name, pub, ours, d in (("MACs", "macs_M", "archlib_macs_M", 0), ("params", "params_M", "archlib_params_M", 2)):
        if _num(r.get(ours)) is None:
            continue
        text = f"{name} {_num(r[ours]):,.{d}f}M"
        if _num(r.get(pub)) and abs(_num(r[pub]) / _num(r[ours]) - 1) > 0.02:
            text += f" (this source: {_num(r[pub]) / _num(r[ours]) - 1:+.0%})"
        parts.append(text)
    return "archlib counts " + " · ".join(parts) if parts else ""


def _hover(r: Mapping[str, Any]) -> str:
    """The hover text of a point: model, numbers (only those known), citation and flags."""
    lines = [f"<b>{html.escape(str(r['label']))}</b> · {html.escape(str(r['variant']))[:60]}",
             f"{html.escape(r['family'])} · source: {r['kind']}"]
    if _num(r.get("top1_pct")) is not None:
        lines.append(f"top-1 <b>{r['top1_pct']:.2f}%</b>")
    costs = [f"{name} {_num(r.get(c)):,.{d}f}M" for name, c, d in (("MACs", "macs_M", 0), ("params", "params_M", 2))
             if _num(r.get(c)) is not None]
    if costs:
        lines.append(" · ".join(costs))
    ours = _archlib_counts(r)
    if ours:
        lines.append(ours)
    if _num(r.get("activations_M")) is not None:
        lines.append(f"activations {r['activations_M']:,.2f}M ({r.get('activations_source') or 'published'})")
    if _num(r.get("latency_ms")) is not None:
        lines.append(f"published latency {r['latency_ms']:,.1f} ms ({html.escape(str(r.get('latency_group')))})")
    if _num(r.get("measured_ms")) is not None:
        lines.append(f"measured here {r['measured_ms']:,.2f} ms")
    if _num(r.get("predicted_ms")) is not None:
        lines.append(f"predicted here {r['predicted_ms']:,.2f} ms")
    lines.append("<i>" + "<br>".join(textwrap.wrap(html.escape(str(r["citation"])), 70)[:4]) + "</i>")
    flags = _flags(r)
    if r.get("archlib_model"):
        lines.append(f"click to open {r['archlib_model']} {html.escape(r.get('archlib_knobs') or '')} in Explore")
    return "<br>".join(lines + ([flags] if flags else []))


def figure(df: pd.DataFrame, axis: str, fronts: Mapping[str, Sequence[Any]], *, user: pd.DataFrame | None = None,
           height: int = 620) -> go.Figure:
    """The scatter of `df` (already filtered to plottable rows) on `axis`, with its fronts."""
    col, title = AXES[axis]
    fig = go.Figure()
    for fam in sorted(df["family"].unique()):
        part = df[df["family"] == fam]
        symbols = [SYMBOLS.get(k, "circle") + ("-open" if u else "") for k, u in zip(part["kind"], part["unverified"])]
        fig.add_scatter(x=[None], y=[None], mode="markers", name=fam, legendgroup=fam, hoverinfo="skip",
                        marker=dict(color=COLORS.get(fam, "#475569"), symbol="circle", size=10))
        fig.add_scatter(x=part[col], y=part["top1_pct"], mode="markers", name=fam, legendgroup=fam, showlegend=False,
                        marker=dict(color=COLORS.get(fam, "#475569"), symbol=symbols, size=10,
                                    line=dict(width=1, color="white")),
                        customdata=[[i, _hover(r)] for i, r in zip(part["id"], part.to_dict("records"))],
                        hovertemplate="%{customdata[1]}<extra></extra>")
    _add_fronts(fig, df, col, fronts)
    for kind, sym in SYMBOLS.items():  # the symbol key
        if kind in set(df["kind"]):
            fig.add_scatter(x=[None], y=[None], mode="markers", name=f"source: {kind}", legendgroup="sources",
                            marker=dict(symbol=sym, color="#64748b", size=10), hoverinfo="skip")
    if user is not None and len(user):
        _add_user(fig, df, user, col)
    if df.empty:  # the axes stay, so the page still shows what would be plotted
        fig.add_annotation(text="nothing to plot: see the note above the chart", x=0.5, y=0.5, xref="paper",
                           yref="paper", showarrow=False, font=dict(size=14, color="#64748b"))
    fig.update_layout(template="plotly_white", height=height, margin=dict(l=10, r=10, t=40, b=10),
                      font=dict(family="Inter, Helvetica, Arial, sans-serif", size=13), hoverlabel=dict(font_size=12),
                      legend=dict(font=dict(size=12), itemsizing="constant", tracegroupgap=2),
                      xaxis=dict(type="log", title=title), yaxis=dict(title="ImageNet top-1 accuracy (%)"),
                      title=dict(text=f"Top-1 accuracy vs {title.split(' (')[0]} · {len(df)} result{'s' if len(df) != 1 else ''}",
                                 font=dict(size=15)),
                      clickmode="event+select", dragmode="zoom")
    return fig


def _add_fronts(fig: go.Figure, df: pd.DataFrame, col: str, fronts: Mapping[str, Sequence[Any]]) -> None:
    for name, idx in fronts.items():
        if len(idx) < 1:
            continue
        pts = df.loc[list(idx)]
        overall = name == "overall"
        kind = name.split(":", 1)[-1]
        fig.add_scatter(x=pts[col], y=pts["top1_pct"], mode="lines", line_shape="hv", hoverinfo="skip",
                        name="Pareto front, all sources" if overall else f"front: {kind}",
                        legendgroup="fronts",
                        line=dict(color="#0f172a" if overall else "#94a3b8", width=2.2 if overall else 1.3,
                                  dash="solid" if overall else DASH.get(kind, "dot")))


def _add_user(fig: go.Figure, df: pd.DataFrame, user: pd.DataFrame, col: str) -> None:
    """Published configurations ringed at their published accuracy; custom ones as a line on
    the cost axis with no accuracy."""
    ringed = [i for rows in user["published_rows"] for i in rows if i in df.index]
    if ringed:
        pts = df.loc[ringed]
        fig.add_scatter(x=pts[col], y=pts["top1_pct"], mode="markers", name="your configuration (published)",
                        marker=dict(symbol="circle-open", size=22, color="#0f172a", line=dict(width=2.5)),
                        hoverinfo="skip")
    for u in user[user["custom"]].to_dict("records"):
        x = u.get(col)
        if x is None or not (isinstance(x, float) and math.isfinite(x) and x > 0):
            continue
        label = html.escape(f"{u.get('label') or u['model']} {_short(u['knobs'])}".strip())
        acc = _num(u.get("user_top1"))
        if acc is not None:  # typed by the user: drawn, and said to be theirs, never as a published result
            fig.add_scatter(x=[x], y=[acc], mode="markers", name="your model: accuracy entered by you",
                            marker=dict(symbol="star", size=18, color="#be123c", line=dict(width=1, color="white")),
                            hovertemplate=f"{label}<br>top-1 {acc:.2f}% <b>entered by you</b> (not published, not "
                                          "measured here)<extra></extra>")
            continue
        fig.add_vline(x=x, line=dict(color="#be123c", width=2, dash="dash"))
        fig.add_annotation(x=math.log10(x), y=1, yref="paper", yanchor="bottom", showarrow=False,
                           text=f"{label}: custom, no published accuracy",
                           font=dict(color="#be123c", size=12), bgcolor="rgba(255,255,255,0.85)")


def _short(knobs: str) -> str:
    """Knob text for a label: a stage table (up to 1000 characters) as its row count."""
    return re.sub(r"stages=([^;]*)", lambda m: f"stages=({m.group(1).count('-') + 1}-row table)", knobs)
