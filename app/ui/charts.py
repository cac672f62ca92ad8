"""Plotly figures of the app, one function each, in one visual style."""
from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go

from archlib.core.analysis import Analysis, human

PALETTE = ("#0e7490", "#ea580c", "#7c3aed", "#16a34a", "#dc2626", "#ca8a04", "#475569")
LABELS = {"macs": "MACs", "params": "Parameters", "activations": "Activations",
          "elementwise": "Elementwise", "flops": "FLOPs"}


def _style(fig: go.Figure, height: int = 360, *, title: str = "", **layout) -> go.Figure:
    fig.update_layout(template="plotly_white", height=height, margin=dict(l=10, r=10, t=48, b=10),
                      font=dict(family="Inter, Helvetica, Arial, sans-serif", size=13),
                      title=dict(text=title, font=dict(size=15)),
                      colorway=PALETTE, legend=dict(orientation="h", y=-0.18, yanchor="top", x=0),
                      hoverlabel=dict(font_size=12), **layout)
    return fig


def by_operator(a: Analysis, metric: str) -> go.Figure:
    """Horizontal bars: the metric summed per operator kind, largest first."""
    items = sorted(((k, v[metric]) for k, v in a.by_operator().items() if v[metric]), key=lambda kv: kv[1])
    total = sum(v for _, v in items) or 1
    fig = go.Figure(go.Bar(
        x=[v for _, v in items], y=[k for k, _ in items], orientation="h", marker_color=PALETTE[0],
        text=[f"{human(v)} · {100 * v / total:.1f}%" for _, v in items], textposition="auto",
        hovertemplate="%{y}: %{x:,}<extra></extra>"))
    return _style(fig, max(260, 32 * len(items) + 80), title=f"{LABELS[metric]} by operator",
                  xaxis_title=LABELS[metric])


def by_stage(a: Analysis, metric: str) -> go.Figure:
    """Vertical bars: the metric summed per stage, in network order."""
    groups = a.by_group("stage")
    fig = go.Figure(go.Bar(
        # an imported model's names are its file's: never markup
        x=[html.escape(g) for g, _ in groups], y=[v[metric] for _, v in groups], marker_color=PALETTE[1],
        text=[human(v[metric]) for _, v in groups], textposition="outside",
        hovertemplate="%{x}: %{y:,}<extra></extra>"))
    return _style(fig, 360, title=f"{LABELS[metric]} by stage", yaxis_title=LABELS[metric])


def compare_groups(series: Sequence[tuple[str, Analysis]], metric: str, level: str) -> go.Figure:
    """Grouped bars: one colour per configuration, one group per stage (or block)."""
    fig = go.Figure()
    for label, a in series:
        groups = a.by_group(level)
        label = html.escape(label)
        fig.add_bar(name=label, x=[html.escape(g) for g, _ in groups], y=[v[metric] for _, v in groups],
                    hovertemplate=f"{label}<br>%{{x}}: %{{y:,}}<extra></extra>")
    return _style(fig, 440, barmode="group", title=f"{LABELS[metric]} per {level}", yaxis_title=LABELS[metric])


def curves(x: Iterable[float], lines: dict[str, Sequence[float]], *, title: str, x_title: str,
           y_title: str, log_y: bool = False, marker_x: float | None = None,
           dashed: Iterable[str] = ()) -> go.Figure:
    """Lines sharing one x axis (scaling curves); `dashed` names are predictions."""
    xs = list(x)
    dashed = set(dashed)
    fig = go.Figure()
    for name, ys in lines.items():
        fig.add_scatter(x=xs, y=list(ys), name=name, mode="lines" if name in dashed else "lines+markers",
                        line=dict(dash="dash" if name in dashed else "solid", width=2.5), marker=dict(size=5),
                        hovertemplate=f"{name}<br>{x_title} %{{x:.3g}}: %{{y:.4g}}<extra></extra>")
    if marker_x is not None:
        fig.add_vline(x=marker_x, line=dict(color="#64748b", dash="dot"))
    fig = _style(fig, 440, title=title, xaxis_title=x_title, yaxis_title=y_title)
    if log_y:
        fig.update_yaxes(type="log", dtick="D2")  # label 1, 2, 5 of each decade, not every digit
    return fig


def regnet_widths(u: Sequence[float], w: Sequence[int], stage_of: Sequence[int]) -> go.Figure:
    """RegNet's widths block by block: the linear u_j and the quantised w_j, coloured by stage."""
    j = list(range(len(u)))
    fig = go.Figure()
    fig.add_scatter(x=j, y=list(u), name="u_j = w0 + wa·j (linear)", mode="lines",
                    line=dict(color="#94a3b8", dash="dash", width=2))
    fig.add_bar(x=j, y=list(w), name="w_j quantised", marker_color=[PALETTE[s % len(PALETTE)] for s in stage_of],
                customdata=[f"stage {s + 1}" for s in stage_of],
                hovertemplate="block %{x}: %{y} channels (%{customdata})<extra></extra>")
    return _style(fig, 420, title="Per-block widths", xaxis_title="block j", yaxis_title="channels")


def activations() -> go.Figure:
    """ReLU, ReLU6, sigmoid, swish and their hard versions on one plot."""
    x = np.linspace(-8, 8, 401)
    relu6 = np.clip(x, 0, 6)
    sig = 1 / (1 + np.exp(-x))
    lines = {"ReLU6": relu6, "swish x·σ(x)": x * sig, "h-swish x·ReLU6(x+3)/6": x * np.clip(x + 3, 0, 6) / 6,
             "sigmoid": sig, "h-sigmoid ReLU6(x+3)/6": np.clip(x + 3, 0, 6) / 6}
    fig = go.Figure()
    for i, (name, y) in enumerate(lines.items()):
        fig.add_scatter(x=x, y=y, name=name, mode="lines",
                        line=dict(width=2.5, dash="dot" if "h-" in name and "sigmoid" in name else "solid",
                                  color=PALETTE[i]))
    fig = _style(fig, 460, title="Activation functions", xaxis_title="x", yaxis_title="f(x)")
    fig.update_yaxes(range=[-1.5, 7])
    return fig
