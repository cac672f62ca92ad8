"""Tables derived from an analysis, and how the app shows the small ones.

Small tables are drawn as Markdown, so the first page needs neither pandas nor Arrow
(their imports are a good part of the first render on a busy host).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from archlib.core.analysis import Analysis, group_key, human


def stage_rows(a: Analysis) -> list[dict[str, Any]]:
    """One row per stage, like the papers' tables: input resolution, channels, blocks, costs
    (computed once per analysis; copies, so a caller may change them)."""
    return [dict(r) for r in a.memoized("stage_rows", _stage_rows)]


def _stage_rows(a: Analysis) -> list[dict[str, Any]]:
    total = a.totals()["macs"] or 1
    first: dict[str, tuple] = {}
    feature: dict[str, tuple] = {}  # the stage's last feature map (C, H, W) or token sequence (L, D)
    blocks: dict[str, set] = {}
    for r in a.rows:
        g = group_key(r.name, "stage")
        first.setdefault(g, r.in_shape)
        # the head's width is its conv's (1280), not the classes; elsewhere the stage's output
        if len(r.out_shape) >= 2 and not (g == "head" and g in feature and r.op != "conv2d"):
            feature[g] = r.out_shape
        block = group_key(r.name, "block")
        blocks.setdefault(g, set())
        if block.split(".")[-1][:1] == "b" and block != g:  # s3.b1 is a block; stem, s1.pool are not
            blocks[g].add(block)
    rows = []
    for g, v in a.by_group("stage"):
        ins, out = first[g], feature.get(g, ())
        where = f"{ins[1]}×{ins[2]}" if len(ins) == 3 else f"{ins[0]} tokens" if len(ins) == 2 else "–"
        channels = out[0] if len(out) == 3 else out[-1] if len(out) == 2 else "–"
        rows.append({"stage": g, "resolution": where, "side": ins[1] if len(ins) == 3 else "–",
                     "channels": channels, "layers": len(blocks[g]) or 1, "params": v["params"],
                     "MACs": v["macs"], "MACs %": 100 * v["macs"] / total, "activations": v["activations"]})
    return rows


def markdown_table(rows: Sequence[dict[str, Any]], columns: dict[str, str], *, right: Sequence[str] = ()) -> str:
    """A GitHub-flavoured Markdown table of `rows` (keys -> headers in `columns`)."""
    head = "| " + " | ".join(columns.values()) + " |"
    rule = "|" + "|".join("---:" if k in right else ":---" for k in columns) + "|"
    body = ["| " + " | ".join(str(r[k]) for k in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def show_stages(a: Analysis, *, limit: int = 40) -> None:
    """The stage table as Markdown (names escaped: an imported model's come from its file); the first `limit`."""
    from app.ui.widgets import md_escape

    all_rows = stage_rows(a)
    rows = [{**r, "stage": md_escape(str(r["stage"])), "params": human(r["params"]), "MACs": human(r["MACs"]),
             "MACs %": f"{r['MACs %']:.1f}%"} for r in all_rows[:limit]]
    cols = {"stage": "stage", "resolution": "input H×W", "channels": "channels", "layers": "blocks",
            "params": "params", "MACs": "MACs", "MACs %": "MACs %"}
    st.markdown(markdown_table(rows, cols, right=["channels", "layers", "params", "MACs", "MACs %"]))
    if len(all_rows) > limit:
        st.caption(f"The first {limit} of {len(all_rows)} top-level groups; the layer table has them all.")
