"""The Pareto chart as a standalone SVG, drawn server-side in plain Python.

Plotly's own static export needs kaleido and a headless Chrome; this keeps the download
dependency-free: the same points, colours, symbols, frontiers and legend, a log x axis.
"""
from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from app.pareto.chart import COLORS, SYMBOLS

W, H = 1100, 640
L, R, T, B = 70, 250, 50, 60  # plot margins (legend on the right)


def _ticks_log(lo: float, hi: float) -> list[float]:
    out = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** e
            if lo <= v <= hi:
                out.append(v)
    return out


def _ticks_lin(lo: float, hi: float) -> list[float]:
    step = 5 if hi - lo > 20 else 2 if hi - lo > 8 else 1
    return [float(v) for v in range(math.ceil(lo / step) * step, int(hi) + 1, step)]


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if v >= 10 else f"{v:g}"


def _marker(x: float, y: float, kind: str, color: str, hollow: bool) -> str:
    fill, stroke = ("white", color) if hollow else (color, "white")
    style = f'fill="{fill}" stroke="{stroke}" stroke-width="1.2"'
    shape = SYMBOLS.get(kind, "circle")
    if shape == "square":
        return f'<rect x="{x - 4.5:.1f}" y="{y - 4.5:.1f}" width="9" height="9" {style}/>'
    if shape == "diamond":
        return f'<path d="M{x:.1f},{y - 6:.1f} L{x + 6:.1f},{y:.1f} L{x:.1f},{y + 6:.1f} L{x - 6:.1f},{y:.1f} Z" {style}/>'
    if shape == "triangle-up":
        return f'<path d="M{x:.1f},{y - 6:.1f} L{x + 5.5:.1f},{y + 4:.1f} L{x - 5.5:.1f},{y + 4:.1f} Z" {style}/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" {style}/>'


def render(df: pd.DataFrame, col: str, x_title: str, fronts: Mapping[str, Sequence[Any]], *, title: str = "") -> bytes:
    """SVG bytes of the scatter of `df` (plottable rows) on column `col`."""
    xs, ys = df[col].astype(float), df["top1_pct"].astype(float)
    if df.empty:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="120"><text x="20" y="60">'
                "No results match the filters.</text></svg>").encode()
    x0, x1 = xs.min() / 1.3, xs.max() * 1.3
    y0, y1 = math.floor(ys.min() - 1), math.ceil(ys.max() + 1)
    pw, ph = W - L - R, H - T - B

    def px(v: float) -> float:
        return L + pw * (math.log10(v) - math.log10(x0)) / (math.log10(x1) - math.log10(x0))

    def py(v: float) -> float:
        return T + ph * (1 - (v - y0) / (y1 - y0))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="28" font-size="16" font-weight="bold">{html.escape(title)}</text>']
    out += _axes(px, py, x0, x1, y0, y1, x_title)
    for name, idx in fronts.items():
        pts = df.loc[list(idx)]
        if len(pts) == 0:
            continue
        path, prev = [], None
        for x, y in zip(pts[col].astype(float), pts["top1_pct"].astype(float)):
            if prev:
                path.append(f"L{px(x):.1f},{py(prev[1]):.1f}")  # staircase: across, then up
            path.append(f"{'M' if not prev else 'L'}{px(x):.1f},{py(y):.1f}")
            prev = (x, y)
        overall = name == "overall"
        dash = "" if overall else ' stroke-dasharray="5,4"'
        out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{"#0f172a" if overall else "#94a3b8"}" '
                   f'stroke-width="{2.2 if overall else 1.3}"{dash}/>')
    for r in df.to_dict("records"):
        out.append(_marker(px(float(r[col])), py(float(r["top1_pct"])), r["kind"], COLORS.get(r["family"], "#475569"),
                           bool(r.get("unverified"))))
    out += _legend(sorted(df["family"].unique()), sorted(set(df["kind"])))
    out.append("</svg>")
    return "\n".join(out).encode()


def _axes(px, py, x0: float, x1: float, y0: float, y1: float, x_title: str) -> list[str]:
    out = [f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="#cbd5e1"/>']
    for v in _ticks_log(x0, x1):
        x = px(v)
        out.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H - B}" stroke="#eef2f7"/>')
        out.append(f'<text x="{x:.1f}" y="{H - B + 16}" text-anchor="middle">{_fmt(v)}</text>')
    for v in _ticks_lin(y0, y1):
        y = py(v)
        out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#eef2f7"/>')
        out.append(f'<text x="{L - 8}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    out.append(f'<text x="{L + (W - L - R) / 2}" y="{H - 18}" text-anchor="middle">{html.escape(x_title)}</text>')
    out.append(f'<text transform="translate(18,{T + (H - T - B) / 2}) rotate(-90)" text-anchor="middle">'
               "ImageNet top-1 accuracy (%)</text>")
    return out


def _legend(families: Sequence[str], kinds: Sequence[str]) -> list[str]:
    x, y, out = W - R + 20, T + 4, []
    for fam in families:
        out.append(f'<circle cx="{x}" cy="{y}" r="5" fill="{COLORS.get(fam, "#475569")}"/>')
        out.append(f'<text x="{x + 12}" y="{y + 4}">{html.escape(fam)}</text>')
        y += 18
    y += 8
    for kind in kinds:
        out.append(_marker(x, y, kind, "#64748b", False))
        out.append(f'<text x="{x + 12}" y="{y + 4}">source: {html.escape(kind)}</text>')
        y += 18
    out.append(f'<circle cx="{x}" cy="{y}" r="5" fill="white" stroke="#64748b"/>'
               f'<text x="{x + 12}" y="{y + 4}">open symbol: unverified</text>')
    out.append(f'<line x1="{x - 6}" y1="{y + 20}" x2="{x + 6}" y2="{y + 20}" stroke="#0f172a" stroke-width="2.2"/>'
               f'<text x="{x + 12}" y="{y + 24}">Pareto front, all sources</text>')
    out.append(f'<line x1="{x - 6}" y1="{y + 38}" x2="{x + 6}" y2="{y + 38}" stroke="#94a3b8" '
               f'stroke-dasharray="5,4"/><text x="{x + 12}" y="{y + 42}">front per source</text>')
    return out
