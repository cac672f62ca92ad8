"""Hardware: this host's roofline, how MACs rank latency, and how accurate its latency model is."""
from __future__ import annotations

import streamlit as st

from app.explore import stages
from app.hardware import model as hwmodel
from app.hardware import parts
from app.ui import state, widgets

PAGE = state.HARDWARE
TABS = {"roofline": ":material/show_chart: Roofline", "rank": ":material/leaderboard: MACs vs latency",
        "accuracy": ":material/target: Calibration accuracy"}
model = st.session_state[state.MODEL]

st.title("This host", anchor=False)
parts.host_header()
m = hwmodel.latency_model()
parts.status(m)

tab_key = state.param_key(PAGE, "view")
if tab_key + ".tab" not in st.session_state:
    st.session_state[tab_key + ".tab"] = TABS.get(st.session_state.get(tab_key), TABS["roofline"])
tabs = dict(zip(TABS, st.tabs(list(TABS.values()), key=tab_key + ".tab", on_change="rerun")))
current = next((k for k, t in tabs.items() if t.open), "roofline")
st.session_state[tab_key] = current
knobs = stages.usable(model, widgets.session_knobs(model))  # a table the other knobs refuse: named, the own one used
with tabs[current]:
    if m is None:
        st.info("The roofline's peaks, the per-layer predictions and the accuracy appear once this host is "
                "calibrated.", icon=":material/speed:")
    elif current == "roofline":
        parts.roofline_section(model, knobs, m)
    elif current == "rank":
        parts.rank_section(m)
    else:
        parts.accuracy_section(m)

widgets.publish(state.View(PAGE, model, knobs, {"view": current}), PAGE,
                help="Opening it shows this tab for the sidebar model's configuration; the latency settings and "
                     "the calibration are this host's own.")
