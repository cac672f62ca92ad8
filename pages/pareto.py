"""Pareto: where a configuration sits among the published results, and how fast it runs here."""
from __future__ import annotations

import streamlit as st

from app.hardware import model as hwmodel
from app.hardware import parts as hwparts
from app.pareto import data, parts
from app.pareto import measure as meas
from app.ui import state, widgets

P = {p.name: p for p in data.PARAMS}
model = st.session_state[state.MODEL]
parts.open_pending()
view = parts.filters(P)

st.title("Where does it sit?")
st.caption("Published ImageNet results (one point per model variant and source, each with its citation) against "
           "their cost. Colour: family; symbol: source; open symbol: a value marked unverified. Click a point to "
           "open that configuration in Explore.")

store = hwmodel.open_store(say=True)
cfg = meas.current_settings()
this_host = data.host_id_of(meas.host(cfg["device"]))
measured = meas.measured_map(store, st.session_state.get(meas.HOST, this_host), cfg)

predicted = hwmodel.predictor()
pub = data.published(view["dev"], measured, predicted)
shown = data.filtered(pub, view["fam"], view["src"], view["unverified"])
plot = data.plotted(shown, view["x"])
fronts = data.fronts(plot, view["x"], view["front"])
user = data.user_points(parts.user_configs(model), pub, measured, predicted, accuracy=parts.accuracy(view))
user["label"] = [widgets.model_label(m) for m in user["model"]] if len(user) else []

if plot.empty:
    st.info(data.why_empty(pub, shown, view, store_ok=store is not None), icon=":material/filter_alt_off:")
parts.chart(plot, view["x"], fronts, user)
if not plot.empty:
    if view["x"] == "measured":
        st.caption(f"Measured with {cfg['device']} · {cfg['threads']} thread(s) · batch {cfg['batch']} · "
                   f"{cfg['dtype']}{' · channels_last' if cfg['channels_last'] else ''} (Measure tab settings).")
    if view["x"] == "predicted":
        hwparts.predicted_caption()
    if len(plot) < len(shown):
        st.caption(f"{len(shown) - len(plot)} of the {len(shown)} results shown have no value on this axis.")
parts.user_summary(user, pub, view["x"])
parts.downloads(plot, view["x"], fronts)

tabs = st.tabs([":material/timer: Measure", ":material/playlist_play: Measure all", ":material/query_stats: "
                "Per-layer profile", ":material/speed: MACs per ms", ":material/dns: Hosts",
                ":material/compare_arrows: Predicted vs measured"])
knobs = widgets.session_knobs(model)
with tabs[0]:
    meas.measure_one(store, model, knobs, cfg)
with tabs[1]:
    meas.measure_all(store, meas.todo(shown), cfg, measured)
with tabs[2]:
    meas.profile_panel(model, knobs, cfg)
with tabs[3]:
    meas.throughput_panel(store, st.session_state.get(meas.HOST, this_host), cfg)
with tabs[4]:
    meas.hosts_panel(store, this_host)
with tabs[5]:
    hwparts.predicted_vs_measured()

parts.publish(view, model)
