"""The sections of the Compare page."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

import archlib
from app.ui import cache, charts, state, widgets
from app.ui.graph import keys
from app.ui.graph import panel as graph_panel
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
        changed = [f"{k}={state.fmt(v)}" if k != "stages" else f"custom stages ({v.count('-') + 1} rows)"
                   for k, v in archlib.get_model(self.model).overrides(self.knobs).items()]
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


def graphs(configs: list[Config], metric: str, level: str) -> dict[str, str]:
    """The graphs next to each other, at the chosen level, coloured by the chosen cost.

    Each pans, zooms, searches and explains a box on hover on its own; expanding a group or
    selecting a box does it in every graph that has that name. Returns the URL's expand/focus.
    """
    st.subheader("Graphs", anchor=False)
    shown = [c for c in configs if c.analysis is not None]
    if not shown:
        return {}
    sel = graph_panel.selection(state.COMPARE, [(c.model, widgets.knob_items(c.knobs)) for c in shown])
    top = max(cache.node_max(c.model, widgets.knob_items(c.knobs), level, metric) for c in shown)
    st.caption(f"One colour scale for all graphs: the darkest box has the largest {LABELS.get(metric, metric)} of "
               "any of them. Expanding a group or selecting a box does it in every graph that has that name.")
    for c, col in zip(configs, st.columns(len(configs))):
        if c.analysis is None:
            continue
        with col:
            st.caption(widgets.md_escape(c.label))
            mine = dataclasses.replace(sel, expand=_mine(c, sel))
            graph_panel.live(c.model, widgets.knob_items(c.knobs), mine, level=level, color=metric, rankdir="TB",
                             key=f"graph_compare_{c.slot}", height=560, top=top)
    return sel.params


def _mine(c: Config, sel: graph_panel.Selection) -> tuple[str, ...]:
    """The expanded groups this configuration has (a name another model lacks is left out)."""
    groups, _ = cache.graph_names(((c.model, widgets.knob_items(c.knobs)),))
    return keys.ordered(set(sel.expand) & set(groups), sel.groups)
