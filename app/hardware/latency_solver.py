"""The Scaling page's inverse solver on predicted latency: instant, then verified by measuring."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

import archlib
from app.hardware import model as hwmodel
from app.scaling import lab
from app.ui import state, widgets
from archlib.errors import ArchlibError
from archlib.hardware.latency import calibrate, predict

VERIFY = "scaling.verify"


def predicted_ms(model: str, knobs: dict[str, Any], m: Any) -> float | None:
    """Predicted ms of one configuration (None where the configuration is not allowed)."""
    try:
        return predict.predict_analysis(archlib.analyze(model, **knobs), m).latency_ms
    except ArchlibError:
        return None


def solve(model: str, knobs_at: Callable[[float], dict[str, Any]], budget: float, *, lo: float, hi: float,
          name: str, step: float) -> None:
    """The largest x whose predicted latency fits `budget` (ms), and a button that measures it."""
    m = hwmodel.latency_model()
    if m is None:
        st.warning(f"This host has no latency model for {calibrate.describe(hwmodel.settings())} yet: calibrate it "
                   "on the Hardware page (or under Explore's totals), then the solver answers at once.",
                   icon=":material/speed:")
        return
    sol = lab.solve_max(lambda x: predicted_ms(model, knobs_at(x), m), lo, hi, budget, step=step)
    if sol.x is None:
        st.markdown(f"Even the smallest {name} is predicted at {sol.next_cost or 0:.2f} ms, over the "
                    f"{budget:g} ms budget.")
        return
    text = f"**{name} = {state.fmt(sol.x)}** is predicted at {sol.cost:.2f} ms ≤ {budget:g} ms on this host"
    if sol.next_x is None:
        text += f"; that is the top of the allowed range ({state.fmt(hi)})."
    else:
        nxt = "is not allowed" if sol.next_cost is None else f"is predicted at {sol.next_cost:.2f} ms"
        text += f"; {name} = {state.fmt(sol.next_x)} {nxt}. ({sol.probes} configurations predicted, none run.)"
    st.markdown(text)
    knobs = knobs_at(sol.x)
    key = (model, tuple(sorted(knobs.items())))
    if st.button("Verify by measuring", icon=":material/timer:", key=f"verify_{name}",
                 help=f"Measures this configuration on this host with the latency model's settings "
                      f"({calibrate.describe(m.settings)}), under the host's lock, and shows it beside the "
                      "prediction."):
        st.session_state[VERIFY] = key
    if st.session_state.get(VERIFY) == key:
        try:
            with st.spinner(f"Measuring {model} at {name} = {state.fmt(sol.x)}…"):
                got = hwmodel.measured_ms(model, key[1], m.settings | hwmodel.CHECK_TIMING)
        except ArchlibError as e:
            st.error(widgets.md_escape(str(e)), icon=":material/error:")
        else:
            verdict = "fits" if got <= budget else "does not fit"
            st.markdown(f"Measured **{got:.2f} ms** against {sol.cost:.2f} ms predicted "
                        f"({sol.cost / got - 1:+.0%}): it {verdict} the {budget:g} ms budget.")
