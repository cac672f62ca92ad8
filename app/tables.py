"""Tables derived from an analysis, as pandas DataFrames, and how the app shows them."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from archlib.analysis import Analysis, group_of


def stages(a: Analysis) -> pd.DataFrame:
    """One row per stage, like the papers' tables: input resolution, channels, blocks, costs."""
    total = a.totals()["macs"] or 1
    first: dict[str, tuple] = {}
    last: dict[str, tuple] = {}
    blocks: dict[str, set] = {}
    for r in a.rows:
        g = group_of(r.name, 1)
        first.setdefault(g, r.in_shape)
        last[g] = r.out_shape
        blocks.setdefault(g, set()).add(group_of(r.name, 2))
    rows = []
    for g, v in a.by_group("stage"):
        ins, out = first[g], last[g]
        rows.append({"stage": g, "resolution": f"{ins[1]}×{ins[2]}" if len(ins) == 3 else "–",
                     "channels": out[0], "layers": len(blocks[g]), "params": v["params"], "MACs": v["macs"],
                     "MACs %": 100 * v["macs"] / total, "activations": v["activations"]})
    return pd.DataFrame(rows)


def show_stages(a: Analysis, **kw) -> None:
    st.dataframe(stages(a), hide_index=True, column_order=["stage", "resolution", "channels", "layers", "params",
                                                           "MACs", "MACs %"], column_config={
        "resolution": st.column_config.TextColumn("input H×W"),
        "layers": st.column_config.NumberColumn("blocks"),
        "MACs %": st.column_config.ProgressColumn("MACs %", format="%.1f%%", min_value=0, max_value=100),
        "params": st.column_config.NumberColumn(format="compact"),
        "MACs": st.column_config.NumberColumn(format="compact"),
        "activations": st.column_config.NumberColumn(format="compact")}, **kw)
