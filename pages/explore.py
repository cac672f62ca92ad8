"""Explore: one model, every knob, its totals, graph, layer table, breakdowns and cross-check."""
from __future__ import annotations

import streamlit as st

import archlib
from app.explore import parts, stages
from app.hardware import model as hwmodel
from app.ui import cache, charts, state, tables, widgets
from archlib.core.analysis import human

PAGE = state.EXPLORE
P = widgets.params(PAGE)
model = st.session_state[state.MODEL]
try:
    entry = archlib.get_model(model)
except archlib.ArchlibError as e:  # an upload evicted since the sidebar's check
    st.error(widgets.md_escape(str(e)), icon=":material/error:")
    st.stop()

with st.sidebar:
    st.markdown("#### Knobs", help="Generated from the model's knob schema; each is also a URL key.")
    knobs = widgets.knob_controls(model)
    st.divider()

knobs = stages.usable(model, knobs)
items = widgets.knob_items(knobs)
view = state.View(PAGE, model, dict(knobs), {})

# an upload's file name is user data: escaped; a registered name is shown as it is
st.title(widgets.md_escape(widgets.model_label(model)) if state.is_imported(model) else model, anchor=False)
st.caption(widgets.md_escape(f"{entry.family.name} · {entry.family.paper} — {entry.description}"))

try:
    a = cache.analysis(model, items)
except archlib.ArchlibError as e:
    st.error(widgets.md_escape(str(e)), icon=":material/error:")
    view.params = {k: st.session_state.get(state.param_key(PAGE, k), p.default) for k, p in P.items()}
    widgets.publish(view, "")  # Explore is the default page: its link is the bare root
    st.stop()

shapes = f"{'×'.join(map(str, a.input_shape))} → {'×'.join(map(str, a.output_shape))}"
st.caption(f"Input {shapes} · {len(a.rows):,} ops · configuration " + parts.configuration(model, a))
parts.totals(a, latency=lambda box: hwmodel.latency_metric(box, model, items))
parts.notes(a)
mem = parts.memory(a, P)
stages.section(model, knobs, a)
hwmodel.offer_calibration()

TABS = {"graph": ":material/account_tree: Graph", "layers": ":material/table_rows: Layers",
        "breakdown": ":material/bar_chart: Breakdown", "code": ":material/code: Rebuild",
        "crosscheck": ":material/rule: Cross-check"}
tab_key = state.param_key(PAGE, "view")
if tab_key + ".tab" not in st.session_state:  # the URL and session hold the short name; the widget its label
    st.session_state[tab_key + ".tab"] = TABS.get(st.session_state.get(tab_key), TABS["graph"])
tabs = dict(zip(TABS, st.tabs(list(TABS.values()), key=tab_key + ".tab", on_change="rerun")))
current = next((k for k, t in tabs.items() if t.open), "graph")
st.session_state[tab_key] = current
params = {"view": current, **mem}

with tabs[current]:
    if current == "graph":
        params |= parts.graph(model, items, P)
    elif current == "layers":
        params |= parts.layers(model, items, a, P)
    elif current == "breakdown":
        metric = widgets.control(P["metric"], state.param_key(PAGE, "metric"), style="pills",
                                 label="Sum of", format_func=charts.LABELS.get)
        params["metric"] = metric
        left, right = st.columns(2)
        left.plotly_chart(charts.by_operator(a, metric), key="chart_op")
        right.plotly_chart(charts.by_stage(a, metric), key="chart_stage")
        tables.show_stages(a)
    elif current == "code":
        parts.code(model, knobs)
    else:
        parts.crosscheck(model, items, a)

# parameters of closed tabs keep their session values (or defaults) so the link stays whole
for k, p in P.items():
    params.setdefault(k, st.session_state.get(state.param_key(PAGE, k), p.default))
view.params = params
widgets.publish(view, "")  # Explore is the default page: its link is the bare root
st.caption(f"Counting conventions: MACs = multiply-accumulates of conv, linear and matmul ops; FLOPs = 2 × MACs; "
           f"activations = output elements of conv/linear/matmul; all per sample. Totals "
           f"{human(a.totals()['macs'])} MACs.")
