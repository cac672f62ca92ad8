"""The sections of the Compare page."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

import archlib
from app.ui import cache, charts, state, widgets
from archlib.core.analysis import Analysis, human

LABELS = charts.LABELS


@dataclass
class Config:
    slot: int
    model: str
    knobs: dict[str, Any]
    analysis: Analysis | None

    @property
    def label(self) -> str:
        base = archlib.config(self.model)
        changed = [f"{k}={state.fmt(v)}" for k, v in self.knobs.items() if state.clean(v) != state.clean(base[k])]
        return f"{self.slot}: {widgets.model_label(self.model)}" + (f" ({', '.join(changed)})" if changed else "")


def configurations(n: int) -> list[Config]:
    """One column per configuration: its model, its knobs (in an expander) and its headline numbers."""
    out = []
    for slot, col in enumerate(st.columns(n), 1):
        with col.container(border=True):
            if slot == 1:
                model = st.session_state[state.MODEL]
                st.markdown(f"**1 · {widgets.md_escape(widgets.model_label(model))}**",
                            help="The model chosen in the sidebar.")
            else:
                model = widgets.model_select(slot, label=f"Configuration {slot}")
            st.caption(widgets.model_caption(model))
            with st.expander("Knobs"):
                knobs = widgets.knob_controls(model, slot)
            try:
                a = cache.analysis(model, widgets.knob_items(knobs))
            except archlib.ArchlibError as e:
                st.error(widgets.md_escape(str(e)), icon=":material/error:")
                a = None
            if a is not None:
                t = a.totals()
                m = st.columns(2)
                m[0].metric("MACs", human(t["macs"]), help=f"{t['macs']:,}")
                m[1].metric("Params", human(t["params"]), help=f"{t['params']:,}")
        out.append(Config(slot, model, knobs, a))
    return out


def totals(configs: list[Config]) -> None:
    """Totals side by side, and each configuration against the first."""
    ok = [c for c in configs if c.analysis is not None]
    if not ok:
        return
    rows = []
    for c in ok:
        t = c.analysis.totals()
        mem = c.analysis.memory(batch=1, dtype="float32")
        rows.append({"configuration": c.label, "input": "×".join(map(str, c.analysis.input_shape)),
                     "params": t["params"], "MACs": t["macs"], "FLOPs": t["flops"], "activations": t["activations"],
                     "elementwise": t["elementwise"], "inference memory (B)": mem["inference_total"],
                     "ops": len(c.analysis.rows)})
    df = pd.DataFrame(rows)
    num = {k: st.column_config.NumberColumn(format="compact") for k in df.columns[2:]}
    st.subheader("Totals", anchor=False)
    st.dataframe(df, hide_index=True, column_config=num)
    ref = df.iloc[0]
    diffs = []
    for _, r in df.iloc[1:].iterrows():
        d = {"configuration": r["configuration"]}
        for k in ("params", "MACs", "activations", "inference memory (B)"):
            d[f"{k} ×"] = r[k] / ref[k] if ref[k] else None
            d[f"{k} Δ"] = r[k] - ref[k]
        diffs.append(d)
    if diffs:
        st.markdown(f"**Against configuration {widgets.md_escape(ok[0].label)}**", help="× = ratio, Δ = difference.")
        cfg = {k: st.column_config.NumberColumn(format="%.3f×" if k.endswith("×") else "compact")
               for k in diffs[0] if k != "configuration"}
        st.dataframe(pd.DataFrame(diffs), hide_index=True, column_config=cfg)


def stage_bars(configs: list[Config], metric: str, level: str) -> None:
    series = [(c.label, c.analysis) for c in configs if c.analysis is not None]
    if series:
        st.plotly_chart(charts.compare_groups(series, metric, level), key="compare_bars")


def graphs(configs: list[Config], metric: str, level: str) -> None:
    """The graphs next to each other, at the chosen level, coloured by the chosen cost."""
    st.subheader("Graphs", anchor=False)
    shown = [c for c in configs if c.analysis is not None]
    top = max((cache.node_max(c.model, widgets.knob_items(c.knobs), level, metric) for c in shown), default=0)
    st.caption(f"One colour scale for all graphs: the darkest box has the largest {'MACs' if metric == 'macs' else metric} of any of them.")
    for c, col in zip(configs, st.columns(len(configs))):
        if c.analysis is None:
            continue
        with col:
            st.caption(widgets.md_escape(c.label))
            svg = cache.graph_svg(c.model, widgets.knob_items(c.knobs), level, metric, "TB", top)
            with st.container(height=640, border=True, horizontal_alignment="center"):
                st.image(svg.decode(), width="content")
