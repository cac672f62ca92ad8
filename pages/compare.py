"""Compare: two to four configurations side by side: totals, differences, per-stage costs, graphs."""
from __future__ import annotations

import streamlit as st

from app.compare import parts
from app.ui import state, widgets

PAGE = state.COMPARE
P = widgets.params(PAGE)
pick = lambda name, box, **kw: widgets.control(P[name], state.param_key(PAGE, name), container=box, **kw)  # noqa: E731

st.title("Compare", anchor=False)
st.caption("Configuration 1 is the sidebar's model and its knobs (shared with Explore); the others are set here.")
c = st.columns([0.9, 3.6, 1.4, 1.5], vertical_alignment="bottom")
n = pick("n", c[0], label="Configurations", style="number")
metric = pick("metric", c[1], label="Costs shown", style="pills", format_func=parts.LABELS.get)
level = pick("level", c[2], label="Per", style="pills")

configs = parts.configurations(n)
parts.totals(configs)
parts.stage_bars(configs, metric, level)
graph_params = parts.graphs(configs, metric, level)

model, knobs = configs[0].model, configs[0].knobs
view = state.View(PAGE, model, knobs, {"n": n, "metric": metric, "level": level, **graph_params},
                  others=[(cfg.model, cfg.knobs) for cfg in configs[1:]])
widgets.publish(view, PAGE)
