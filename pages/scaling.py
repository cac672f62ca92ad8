"""Scaling: EfficientNet's compound scaling, MobileNet's alpha and rho, RegNet's quantised widths."""
from __future__ import annotations

import streamlit as st

from app.scaling import parts
from app.ui import state, widgets

PAGE = state.SCALING
P = widgets.params(PAGE)
LABS = {"efficientnet": "EfficientNet φ", "mobilenet": "MobileNet α, ρ", "regnet": "RegNet widths"}

st.title("Scaling", anchor=False)
st.caption("How a family grows: the paper's rule of thumb next to archlib's exact count of the scaled network.")
lab = widgets.control(P["lab"], state.param_key(PAGE, "lab"), style="pills", label="Scaling rule",
                      format_func=LABS.get)
params = {"lab": lab} | {"efficientnet": parts.efficientnet, "mobilenet": parts.mobilenet,
                         "regnet": parts.regnet}[lab](P)

budget = st.session_state.get(state.param_key(PAGE, "budget"), P["budget"].default)
try:
    P["budget"].parse(budget)
except Exception:  # noqa: BLE001  (a bad budget is reported in its box; the link keeps the default)
    params["budget"] = P["budget"].default
for k, p in P.items():
    params.setdefault(k, st.session_state.get(state.param_key(PAGE, k), p.default))
model = st.session_state[state.MODEL]
widgets.publish(state.View(PAGE, model, {}, params), PAGE)
