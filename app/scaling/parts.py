"""The three labs of the Scaling page: EfficientNet phi, MobileNet alpha/rho, RegNet widths."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

import archlib
from app.hardware import latency_solver
from app.scaling import lab
from app.ui import charts, schema, state, tables, widgets
from archlib.core.analysis import human
from archlib.core.knobs import Knob

PAGE = state.SCALING
CONSTRAINT_TOL = 0.10  # alpha*beta^2*gamma^2 counts as "about 2" within 10%
UNITS = {"macs": "MACs", "params": "parameters", "predicted": "ms of predicted latency",
         "latency": "ms of measured latency"}
METRIC_LABELS = {"macs": "MACs", "params": "parameters", "predicted": "predicted latency", "latency": "latency"}


def _pick(name: str, P: dict[str, Knob], box: Any = None, **kw: Any) -> Any:
    return widgets.control(P[name], state.param_key(PAGE, name), container=box, **kw)


def _metric(box: Any, label: str, value: str, help: str | None = None, **kw: Any) -> None:
    box.metric(label, value, help=help, border=True, **kw)


def budget_box(P: dict[str, Knob], *, what: str) -> tuple[str, float | None]:
    """The inverse solver's inputs: metric and budget (400M, 1.5G or 25ms); shows a bad budget's message."""
    c = st.columns([1.6, 1.2, 3], vertical_alignment="bottom")
    metric = _pick("budget_metric", P, c[0], label="Budget on", style="pills", format_func=METRIC_LABELS.get)
    text = _pick("budget", P, c[1], label="Budget", placeholder="400M, 1.5G or 25ms")
    try:
        budget = schema.parse_budget(text, metric) if text else None
    except archlib.ArchlibError as e:
        c[2].error(widgets.md_escape(str(e)), icon=":material/error:")
        return metric, None
    how = {"latency": "measured on this host (one thread, median of timed runs; stored for the Pareto page), so "
                      "each probe takes about a second and the answer is as noisy as the timings",
           "predicted": "predicted by this host's calibrated latency model, nothing run (instant); verify the "
                        "answer by measuring it"}.get(metric, "from archlib's analytic counts, non-decreasing in it")
    c[2].caption(f"The largest {what} whose {METRIC_LABELS[metric]} fits the budget, by bisection: {how}.")
    return metric, budget


def solve(model: str, knobs_at: Callable[[float], dict[str, Any]], metric: str, budget: float, *,
          lo: float, hi: float, name: str, step: float) -> None:
    """Run the inverse solver and show its answer; a latency budget measures only on request."""
    if metric == "predicted":
        latency_solver.solve(model, knobs_at, budget, lo=lo, hi=hi, name=name, step=step)
        return
    if metric != "latency":
        sol = lab.solve_max(lambda x: lab.cost(model, knobs_at(x), metric), lo, hi, budget, step=step)
        st.markdown(_solution_text(sol, name, metric, budget, hi))
        return
    key = (model, name, lo, hi, budget, tuple(sorted(knobs_at(lo).items())))
    if st.button("Measure and solve", icon=":material/timer:", key=f"solve_latency_{name}"):
        st.session_state[state.SS_SOLVE] = key
    if st.session_state.get(state.SS_SOLVE) != key:
        return
    cap = lab.solve_max(lambda x: lab.cost(model, knobs_at(x), "macs"), lo, hi, lab.LATENCY_MAX_MACS, step=step)
    if cap.x is None:
        st.warning("Even the smallest configuration is too large to time here.", icon=":material/block:")
        return
    with st.status(f"Measuring {model} on this host…", expanded=False) as status:
        def probe(x: float) -> float | None:
            status.update(label=f"Measuring {name} = {state.fmt(x)}…")
            return lab.measured(model, knobs_at(x))

        sol = lab.solve_max(probe, lo, cap.x, budget, step=max(step, 0.05))
        status.update(label=f"Measured {sol.probes} configurations", state="complete")
    st.markdown(_solution_text(sol, name, metric, budget, cap.x))


def precise(n: float) -> str:
    """Four significant digits with a unit: a budget boundary needs more than human()'s three."""
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.4g}{suffix}"
    return f"{n:g}"


def _solution_text(sol: lab.Solution, name: str, metric: str, budget: float, hi: float) -> str:
    unit = UNITS[metric]
    if metric == "latency":
        return _latency_text(sol, name, budget, hi)
    if sol.x is None:
        return f"Even the smallest {name} needs {precise(sol.next_cost or 0)} {unit}, over the {precise(budget)} budget."
    text = f"**{name} = {state.fmt(sol.x)}** uses {precise(sol.cost)} {unit} ({sol.cost:,}) ≤ {precise(budget)}"
    if sol.next_x is None:
        return text + f"; that is the top of the allowed range ({state.fmt(hi)})."
    nxt = "is not allowed" if sol.next_cost is None else f"needs {precise(sol.next_cost)}"
    return text + f"; {name} = {state.fmt(sol.next_x)} {nxt}. ({sol.probes} configurations evaluated.)"


def _latency_text(sol: lab.Solution, name: str, budget: float, hi: float) -> str:
    if sol.x is None:
        got = "could not be measured" if sol.next_cost is None else f"takes {sol.next_cost:.2f} ms"
        return f"Even the smallest {name} {got}, over the {budget:g} ms budget."
    text = f"**{name} = {state.fmt(sol.x)}** runs in {sol.cost:.2f} ms ≤ {budget:g} ms here"
    if sol.next_x is None:
        return text + f"; that is the top of the searched range ({state.fmt(hi)}: at most " \
                      f"{precise(lab.LATENCY_MAX_MACS)} MACs)."
    nxt = "could not be measured" if sol.next_cost is None else f"takes {sol.next_cost:.2f} ms"
    return text + f"; {name} = {state.fmt(sol.next_x)} {nxt}. ({sol.probes} configurations measured.)"


# -- EfficientNet ------------------------------------------------------------
def efficientnet(P: dict[str, Knob]) -> dict[str, Any]:
    model = schema.EFFNET_MODEL
    st.markdown("Depth $d=\\alpha^\\phi$, width $w=\\beta^\\phi$, resolution $r=\\gamma^\\phi$, "
                "subject to $\\alpha\\beta^2\\gamma^2\\approx 2$ with $\\alpha,\\beta,\\gamma \\geq 1$: FLOPs "
                "then grow by about $2^\\phi$. Applied to EfficientNet-B0 (the paper's Table 1) or to your own "
                "base network.")
    c = st.columns([3, 1, 1, 1])
    phi = _pick("phi", P, c[0], label="φ (phi)")
    alpha = _pick("alpha", P, c[1], label="α (depth)", style="number")
    beta = _pick("beta", P, c[2], label="β (width)", style="number")
    gamma = _pick("gamma", P, c[3], label="γ (resolution)", style="number")
    stages = base_network(P, model)
    knobs = lab.effnet_knobs("compound", phi, alpha, beta, gamma, stages=stages)
    t0 = lab.totals(model, tuple(sorted(lab.effnet_knobs("compound", 0, alpha, beta, gamma, stages=stages).items())))
    t = lab.totals(model, tuple(sorted(knobs.items())))
    out = {"phi": phi, "alpha": alpha, "beta": beta, "gamma": gamma} | ({"stages": stages} if "stages" in P else {})
    if not _effnet_metrics(phi, alpha, beta, gamma, t0, t, stages):
        return out
    d_mul, w_mul, r_mul = alpha ** phi, beta ** phi, gamma ** phi
    st.caption(f"At φ = {phi:g}: depth × {d_mul:.3f}, width × {w_mul:.3f}, resolution × {r_mul:.3f} "
               f"→ {int(np.floor(224 * r_mul + 0.5))} px.")
    left, right = st.columns([2, 3])
    with left:
        st.markdown(f"**{'Your base network' if stages else 'B0'}'s stages scaled to φ**",
                    help="Stage i: input resolution, channels and layers, as in the paper's Table 1, at φ = 0 → at "
                         "the chosen φ.")
        st.markdown(_scaled_stages(model, knobs, stages))
    with right:
        right.plotly_chart(_effnet_curves(model, phi, alpha, beta, gamma, stages), key="eff_curves")
    with st.container(border=True):
        st.markdown("**Inverse solver: the largest φ within a budget**")
        metric, budget = budget_box(P, what="φ")
        if budget is not None:
            solve(model, lambda x: lab.effnet_knobs("compound", x, alpha, beta, gamma, stages=stages), metric,
                  budget, lo=0.0, hi=float(P["phi"].hi), name="φ", step=0.01)
    return out


def _effnet_metrics(phi: float, alpha: float, beta: float, gamma: float, t0: dict | None, t: dict | None,
                    stages: str) -> bool:
    """The constraint, predicted and computed growth, MACs and parameters; False when out of range."""
    base = lab.compound_base(alpha, beta, gamma)
    m = st.columns(5)
    ok = abs(base - 2) <= 2 * CONSTRAINT_TOL
    _metric(m[0], "α·β²·γ²", f"{base:.3f}", delta="≈ 2 ✓" if ok else f"{100 * (base / 2 - 1):+.0f}% off 2",
            delta_color="normal" if ok else "inverse", delta_arrow="off",
            help=f"{alpha:g} × {beta:g}² × {gamma:g}² = {base:.4f}; the paper asks for about 2 "
                 f"(here: within {CONSTRAINT_TOL:.0%}).")
    _metric(m[1], "Predicted growth", f"×{base ** phi:.3f}", help="(α·β²·γ²)^φ: the paper's FLOPs rule")
    if t is None or t0 is None:
        st.error(f"φ={phi:g} with α={alpha:g}, β={beta:g}, γ={gamma:g} leaves EfficientNet's allowed range"
                 + (" for this base network (too many stride-2 rows for the resolution?)." if stages else "."))
        return False
    _metric(m[2], "Computed growth", f"×{t['macs'] / t0['macs']:.3f}", help=f"archlib MACs at φ / at φ=0: "
            f"{t['macs']:,} / {t0['macs']:,}. Rounding (channels to 8, ceil of layers, pixels) makes it differ.")
    _metric(m[3], "MACs", human(t["macs"]), help=f"{t['macs']:,}")
    _metric(m[4], "Parameters", human(t["params"]), help=f"{t['params']:,}")
    return True


def base_network(P: dict[str, Knob], model: str) -> str:
    """The stage table phi scales: empty for B0's Table 1, or your own (the `stages` URL key)."""
    if "stages" not in P:
        return ""
    explore = st.session_state.get(state.knob_key(st.session_state.get(state.MODEL, ""), "stages"))
    family = archlib.get_model(st.session_state.get(state.MODEL, model)).family.name
    with st.expander("Base network: B0's Table 1 or your own stage table", expanded=bool(
            st.session_state.get(state.param_key(PAGE, "stages")))):
        c = st.columns([5, 1.4], vertical_alignment="bottom")
        if family == "EfficientNet" and explore:
            c[1].button("Use Explore's table", icon=":material/input:", on_click=_copy_table, args=(explore,),
                        key="scaling.use_explore", width="stretch")
        stages = _pick("stages", P, c[0], label="stages (rows t, k, s, c, n; optional se, f)")
        st.caption("φ, α, β, γ scale this table exactly as they scale B0's: channels × β^φ (to multiples of 8), "
                   "layers ⌈n × α^φ⌉, resolution 224 × γ^φ; stem and head as B0's. Empty: B0's Table 1.")
    return stages


def _copy_table(text: str) -> None:
    st.session_state[state.param_key(PAGE, "stages")] = text


def _scaled_stages(model: str, knobs: dict[str, Any], stages: str = "") -> str:
    a0 = tables.stage_rows(archlib.analyze(model, **({"stages": stages} if stages else {})))
    a1 = tables.stage_rows(archlib.analyze(model, **knobs))
    rows = [{"stage": r1["stage"], "resolution": f"{r0['side']}² → {r1['side']}²",
             "channels": f"{r0['channels']} → {r1['channels']}", "layers": f"{r0['layers']} → {r1['layers']}"}
            for r0, r1 in zip(a0, a1)]
    return tables.markdown_table(rows, {"stage": "stage", "resolution": "resolution", "channels": "channels",
                                        "layers": "layers"}, right=["resolution", "channels", "layers"])


def _effnet_curves(model: str, phi: float, alpha: float, beta: float, gamma: float, stages: str = ""):
    phis = [round(x, 2) for x in np.arange(0, float(np.ceil(max(phi, 4))) + 0.01, 0.5)]
    base = lab.totals(model, (("stages", stages),) if stages else ())["macs"]
    lines: dict[str, list] = {}
    for rule in lab.RULES:
        ys = []
        for x in phis:
            c = lab.cost(model, lab.effnet_knobs(rule, x, alpha, beta, gamma, stages=stages), "macs")
            ys.append(None if c is None else c / base)
        lines[f"{rule}" + (" (α·β²·γ²)" if rule == "compound" else " only")] = ys
    lines["predicted (α·β²·γ²)^φ"] = [lab.predicted("compound", x, alpha, beta, gamma) for x in phis]
    return charts.curves(phis, lines, title="MACs relative to the base network (φ = 0)", x_title="φ",
                         y_title="× the base's MACs",
                         log_y=True, marker_x=phi, dashed=["predicted (α·β²·γ²)^φ"])


# -- MobileNet ---------------------------------------------------------------
PAPER_V1 = {  # Howard et al. 2017, Tables 6 and 7: (Mult-Adds in millions, parameters in millions)
    ("width", 1.0): (569, 4.2), ("width", 0.75): (325, 2.6), ("width", 0.5): (149, 1.3), ("width", 0.25): (41, 0.5),
    ("res", 224): (569, 4.2), ("res", 192): (418, 4.2), ("res", 160): (290, 4.2), ("res", 128): (186, 4.2)}


def mobilenet(P: dict[str, Knob]) -> dict[str, Any]:
    model = schema.MOBILENET_MODEL
    knobs_of = {k.name: k for k in archlib.get_model(model).knobs}
    res0 = archlib.config(model)["resolution"]
    st.markdown(f"Width multiplier $\\alpha$ thins every layer, resolution multiplier $\\rho$ shrinks the input "
                f"({res0}ρ px): cost grows as $\\alpha^2\\rho^2$, parameters as $\\alpha^2$. Applied to `{model}`.")
    c = st.columns(2)
    alpha = _pick("mn_alpha", P, c[0], label="α (width multiplier)")
    rho = _pick("mn_rho", P, c[1], label="ρ (resolution multiplier)")
    res = int(np.floor(res0 * rho + 0.5))
    knobs = {"width": alpha, "resolution": res}
    t0, t = lab.totals(model, ()), lab.totals(model, tuple(sorted(knobs.items())))
    if t is None:
        st.error(f"α={alpha:g}, ρ={rho:g} ({res} px) is outside {model}'s allowed range: width must be "
                 f"{knobs_of['width'].describe_range()}, resolution {knobs_of['resolution'].describe_range()}.")
        return {"mn_alpha": alpha, "mn_rho": rho}
    m = st.columns(5)
    _metric(m[0], "Predicted cost", f"×{alpha ** 2 * rho ** 2:.3f}", help="α²ρ²")
    _metric(m[1], "Computed cost", f"×{t['macs'] / t0['macs']:.3f}", help=f"{t['macs']:,} / {t0['macs']:,} MACs")
    _metric(m[2], "Predicted params", f"×{alpha ** 2:.3f}", help="α² (resolution does not change parameters)")
    _metric(m[3], "Computed params", f"×{t['params'] / t0['params']:.3f}", help=f"{t['params']:,} / {t0['params']:,}")
    _metric(m[4], "MACs", human(t["macs"]), help=f"{t['macs']:,} MACs and {t['params']:,} parameters at {res} px")
    left, right = st.columns([1, 1])
    with left:
        st.markdown("**The paper's trade-offs, recomputed**", help="MobileNet paper, Tables 6 (width) and 7 "
                    "(resolution); the paper's columns are shown for mobilenet_v1.")
        st.dataframe(_mobilenet_table(model, res0), hide_index=True)
    with right:
        st.plotly_chart(_mobilenet_curves(model, alpha, rho, res0, knobs_of), key="mn_curves")
    with st.container(border=True):
        st.markdown(f"**Inverse solver: the largest α at ρ = {rho:g} within a budget**")
        metric, budget = budget_box(P, what="α")
        if budget is not None:
            solve(model, lambda x: {"width": x, "resolution": res}, metric, budget,
                  lo=float(knobs_of["width"].lo), hi=float(knobs_of["width"].hi), name="α", step=0.01)
    return {"mn_alpha": alpha, "mn_rho": rho}


def _mobilenet_table(model: str, res0: int) -> pd.DataFrame:
    rows = []
    for kind, v in [("width", a) for a in (1.0, 0.75, 0.5, 0.25)] + [("res", r) for r in (224, 192, 160, 128)]:
        knobs = {"width": v} if kind == "width" else {"resolution": v}
        t = lab.totals(model, tuple(sorted(knobs.items())))
        paper = PAPER_V1.get((kind, v)) if model == "mobilenet_v1" else None
        rows.append({"setting": f"α = {v}" if kind == "width" else f"{v} px",
                     "MACs (M)": round(t["macs"] / 1e6, 1) if t else None,
                     "params (M)": round(t["params"] / 1e6, 2) if t else None,
                     "paper MACs": paper[0] if paper else None, "paper params": paper[1] if paper else None})
    df = pd.DataFrame(rows)
    return df if model == "mobilenet_v1" else df.drop(columns=["paper MACs", "paper params"])


def _mobilenet_curves(model: str, alpha: float, rho: float, res0: int, knobs_of: dict[str, Knob]):
    xs = [round(x, 3) for x in np.arange(0.25, 2.0001, 0.125)]
    base = lab.totals(model, ())["macs"]
    width = [lab.cost(model, {"width": x}, "macs") if knobs_of["width"].lo <= x <= knobs_of["width"].hi else None
             for x in xs]
    res = [lab.cost(model, {"resolution": int(np.floor(res0 * x + 0.5))}, "macs") for x in xs]
    lines = {"width α (computed)": [c / base if c else None for c in width],
             "α² = ρ² (predicted)": [x * x for x in xs],
             "resolution ρ (computed)": [c / base if c else None for c in res]}
    return charts.curves(xs, lines, title="MACs relative to α = ρ = 1", x_title="multiplier", y_title="× MACs",
                         log_y=True, marker_x=alpha, dashed=["α² = ρ² (predicted)"])


# -- RegNet ------------------------------------------------------------------
def regnet(P: dict[str, Knob]) -> dict[str, Any]:
    model = schema.REGNET_MODEL
    st.markdown(f"Block $j$ gets the linear width $u_j = w_0 + w_a \\cdot j$; it is quantised to "
                f"$w_0 w_m^{{s_j}}$ with $s_j = \\mathrm{{round}}(\\log(u_j/w_0)/\\log w_m)$ and to a multiple of 8. "
                f"Runs of equal widths are the stages. Defaults from `{model}`.")
    c = st.columns(4)
    w0 = _pick("w0", P, c[0], label="w0 (initial width)")
    wa = _pick("wa", P, c[1], label="wa (slope)", style="number")
    wm = _pick("wm", P, c[2], label="wm (multiplier)")
    d = _pick("blocks", P, c[3], label="d (blocks)")
    out = {"w0": w0, "wa": wa, "wm": wm, "blocks": d}
    with st.expander("Block details: group width, bottleneck, SE, rounding"):
        e = st.columns(4)
        for i, name in enumerate(n for n in P if n in ("group_width", "bottleneck_ratio", "se_ratio", "rounding")):
            out[name] = _pick(name, P, e[i % 4])
    knobs = {k: v for k, v in out.items()}
    u, w, stage_of = lab.regnet_widths(w0, wa, wm, d)
    try:
        a = archlib.analyze(model, **knobs)
    except archlib.ArchlibError as err:
        st.error(widgets.md_escape(str(err)), icon=":material/error:")
        st.plotly_chart(charts.regnet_widths(u, w, stage_of), key="regnet_widths")
        return out
    t = a.totals()
    m = st.columns(5)
    _metric(m[0], "Stages", str(max(stage_of) + 1))
    _metric(m[1], "MACs", human(t["macs"]), help=f"{t['macs']:,}")
    _metric(m[2], "Parameters", human(t["params"]), help=f"{t['params']:,}")
    _metric(m[3], "Activations", human(t["activations"]), help=f"{t['activations']:,}")
    _metric(m[4], "Final width", str(lab.block_out_widths(model, knobs)[-1]))
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.regnet_widths(u, w, stage_of), key="regnet_widths")
    with right:
        st.markdown("**Stages of the built network**", help="After the group-width compatibility adjustment.")
        tables.show_stages(a)
    return out
