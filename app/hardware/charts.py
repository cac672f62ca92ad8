"""The Hardware page's figures: the roofline with every layer, predicted vs measured, MACs vs latency."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from app.ui.charts import PALETTE
from archlib.core.roofline import ridge

#: operator colours (a fixed qualitative set, cycled)
OP_COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563",
             "#65a30d", "#7c3aed", "#0d9488", "#b45309", "#be123c")


def _style(fig: go.Figure, height: int, title: str, **layout: Any) -> go.Figure:
    fig.update_layout(template="plotly_white", height=height, margin=dict(l=10, r=10, t=48, b=10),
                      font=dict(family="Inter, Helvetica, Arial, sans-serif", size=13),
                      title=dict(text=title, font=dict(size=15)), hoverlabel=dict(font_size=12), **layout)
    return fig


def roofline(layers: pd.DataFrame, peak_ops: float, bandwidth: float, points: Sequence[dict[str, Any]],
             *, title: str, cache: float | None = None) -> go.Figure:
    """Log-log roofline of this host (GOP/s against operations per byte) with one point per layer
    (colour: operator; y: its ops over its predicted time) and the model's own points."""
    xs = [x for x in layers["intensity"]] + [p["intensity"] for p in points]
    lo = min([*xs, ridge(peak_ops, bandwidth)]) / 3
    hi = max([*xs, ridge(peak_ops, bandwidth)]) * 3
    grid = [lo * (hi / lo) ** (i / 60) for i in range(61)]
    fig = go.Figure()
    fig.add_scatter(x=grid, y=[min(peak_ops, x * bandwidth) / 1e9 for x in grid], mode="lines", name="roofline",
                    line=dict(color="#0f172a", width=2.5), hoverinfo="skip")
    if cache:
        fig.add_scatter(x=grid, y=[min(peak_ops, x * cache) / 1e9 for x in grid], mode="lines", name="cache roof",
                        line=dict(color="#64748b", width=1.5, dash="dash"), hoverinfo="skip")
    r = ridge(peak_ops, bandwidth)
    fig.add_vline(x=r, line=dict(color="#94a3b8", dash="dot"))
    fig.add_annotation(x=math.log10(r), y=math.log10(peak_ops / 1e9), text=f"ridge {r:.1f} op/B", showarrow=False,
                       yshift=14, font=dict(size=11, color="#475569"))
    for i, (op, part) in enumerate(layers.groupby("op", sort=False)):
        fig.add_scatter(x=part["intensity"], y=part["gops"], mode="markers", name=op,
                        marker=dict(color=OP_COLORS[i % len(OP_COLORS)], size=part["size"], opacity=0.8,
                                    line=dict(width=0.5, color="white")),
                        customdata=part[["name", "predicted_ms", "bound", "mbytes"]].values,
                        hovertemplate="<b>%{customdata[0]}</b> (" + op + ")<br>%{x:.3g} op/B · %{y:.3g} GOP/s<br>"
                                      "predicted %{customdata[1]:.4f} ms · %{customdata[2]}-bound<br>"
                                      "%{customdata[3]:.3g} MB moved<extra></extra>")
    for p in points:
        fig.add_scatter(x=[p["intensity"]], y=[p["gops"]], mode="markers", name=p["label"],
                        marker=dict(symbol=p["symbol"], size=16, color=p["color"], line=dict(width=1.5, color="#0f172a")),
                        hovertemplate=p["label"] + ": %{x:.3g} op/B · %{y:.3g} GOP/s<extra></extra>")
    return _style(fig, 560, title, xaxis=dict(type="log", title="arithmetic intensity (operations per byte moved, log)"),
                  yaxis=dict(type="log", title="performance (GOP/s, log)"), legend=dict(font=dict(size=11)))


def predicted_vs_measured(df: pd.DataFrame, *, title: str) -> go.Figure:
    """Predicted against measured ms (log-log) with the y = x line and the ±10% and ±20% bands."""
    lo, hi = min(df["measured_ms"].min(), df["predicted_ms"].min()) / 1.5, \
        max(df["measured_ms"].max(), df["predicted_ms"].max()) * 1.5
    fig = go.Figure()
    for band, color in ((0.2, "rgba(14,116,144,0.08)"), (0.1, "rgba(14,116,144,0.16)")):
        fig.add_scatter(x=[lo, hi, hi, lo], y=[lo * (1 - band), hi * (1 - band), hi * (1 + band), lo * (1 + band)],
                        fill="toself", fillcolor=color, line=dict(width=0), name=f"±{band:.0%}", hoverinfo="skip")
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="predicted = measured",
                    line=dict(color="#0f172a", dash="dash"), hoverinfo="skip")
    for i, (fam, part) in enumerate(df.groupby("family")):
        fig.add_scatter(x=part["measured_ms"], y=part["predicted_ms"], mode="markers", name=fam,
                        marker=dict(size=9, color=OP_COLORS[i % len(OP_COLORS)]),
                        customdata=part[["label", "error"]].values,
                        hovertemplate="<b>%{customdata[0]}</b><br>measured %{x:.3g} ms · predicted %{y:.3g} ms "
                                      "(%{customdata[1]:+.1%})<extra></extra>")
    return _style(fig, 480, title, xaxis=dict(type="log", title="measured (ms, log)"),
                  yaxis=dict(type="log", title="predicted (ms, log)"))


def macs_vs_latency(df: pd.DataFrame, *, title: str) -> go.Figure:
    """MACs against predicted latency per registered model, one colour per family (log-log)."""
    fig = go.Figure()
    for i, (fam, part) in enumerate(df.groupby("family")):
        fig.add_scatter(x=part["macs"], y=part["predicted_ms"], mode="markers+lines", name=fam,
                        marker=dict(size=8, color=OP_COLORS[i % len(OP_COLORS)]),
                        line=dict(width=1, color=OP_COLORS[i % len(OP_COLORS)]), customdata=part[["model"]].values,
                        hovertemplate="<b>%{customdata[0]}</b><br>%{x:.3s} MACs · %{y:.3g} ms<extra></extra>")
    return _style(fig, 480, title, colorway=PALETTE, xaxis=dict(type="log", title="MACs (log)"),
                  yaxis=dict(type="log", title="predicted latency (ms, log)"))
