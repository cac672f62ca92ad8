"""The Hardware page's sections, and the predicted-vs-measured view the Pareto page shares."""
from __future__ import annotations

import math
import time
from typing import Any

import pandas as pd
import streamlit as st

import archlib
from app.hardware import charts
from app.hardware import model as hwmodel
from app.ui import cache, widgets
from archlib.core.roofline import totals, traffic
from archlib.data import results
from archlib.hardware import host as hostinfo
from archlib.hardware import measure
from archlib.hardware.latency import calibrate, predict
from archlib.hardware.latency.latmodel import LatencyModel
from archlib.latency_cli import factors_line, nets_line


def host_header() -> None:
    """What this host is, and the settings its latency model is for (per host: not in the URL)."""
    ident = hostinfo.identity("cpu")
    st.caption(f"{ident['cpu']} · {ident['logical_cpus']} logical CPUs · torch {ident['torch']} · host id "
               f"{hostinfo.host_id(ident)}. A latency model is fitted per host, torch version and settings.")
    hwmodel.settings()  # before the controls: a held value they refuse is named and put back to its default
    cols = st.columns([1, 1, 1, 3], vertical_alignment="bottom")
    for box, spec in zip(cols, hwmodel.SETTINGS):
        widgets.control(spec, hwmodel.skey(spec.name), container=box, label=spec.name.replace("_", " "),
                        style="number" if spec.kind == "int" else "auto")


def status(m: LatencyModel | None) -> None:
    """Calibrated or not; the peaks; the calibrate button (resumes, or refits a finished plan)."""
    cfg = hwmodel.settings()
    if m is None:
        st.warning(f"Not calibrated: this host has no latency model for {calibrate.describe(cfg)}. Calibrate it "
                   "to predict latency everywhere in the app.", icon=":material/speed:")
        hwmodel.calibrate_panel(key="hardware.cal")
        return
    i, p = m.info, m.peaks
    c = st.columns(4)
    c[0].metric("Matmul GFLOP/s", f"{p['matmul_flops'] / 1e9:.1f}", border=True,
                help="A 1024 x 1024 x 1024 matrix product, timed at calibration.")
    c[1].metric("Conv GFLOP/s", f"{p['conv_flops'] / 1e9:.1f}", border=True,
                help="A dense 3x3 convolution, 256 -> 256 channels at 28 x 28.")
    c[2].metric("Memory GB/s", f"{p['bandwidth'] / 1e9:.1f}", border=True,
                help="A 64 MiB copy (read + write), twice the last-level cache: the roofline's memory roof.")
    if "cache_bandwidth" in p:
        c[3].metric("Cache GB/s", f"{p['cache_bandwidth'] / 1e9:.1f}", border=True,
                    help="A 256 KiB copy (read + write), which stays in the L2 cache: the roof of cached data.")
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(i.get("created", 0)))
    factors = factors_line(m).rstrip(".")
    st.caption(f"Calibrated {when} with {calibrate.describe(cfg)}: {i.get('samples')} samples "
               f"({i.get('plan_done', '?')} of the plan's {i.get('planned')}; its last run took {i.get('wall_s')} s); "
               f"{nets_line(i).rstrip('.')}. {factors[:1].upper()}{factors[1:]}.")
    with st.expander("Calibrate again" + ("" if i.get("complete") else " (resumes the plan)"), icon=":material/speed:",
                     expanded=bool(st.session_state.get(hwmodel.RUNNING))):
        hwmodel.calibrate_panel(key="hardware.cal")


# -- the roofline -----------------------------------------------------------------
def roofline_data(p: predict.Prediction) -> pd.DataFrame:
    """One row per layer that moves bytes: intensity, predicted GOP/s, predicted ms, bound, size."""
    rows = []
    for lp in p.layers:
        if lp.bytes == 0 or lp.predicted_ms <= 0 or not math.isfinite(lp.intensity) or lp.intensity <= 0:
            continue
        ops = lp.intensity * lp.bytes
        rows.append({"name": lp.name, "op": lp.op, "intensity": lp.intensity, "gops": ops / lp.predicted_ms / 1e6,
                     "predicted_ms": lp.predicted_ms, "bound": lp.bound, "mbytes": lp.bytes / 1e6,
                     "size": 6 + 24 * math.sqrt(lp.predicted_ms / p.latency_ms)})
    return pd.DataFrame(rows)


def achieved(model: str, knobs: dict[str, Any], cfg: dict[str, Any]) -> float | None:
    """The stored measurement of this configuration with these settings at batch 1, in ms, if any."""
    s = hwmodel.open_store()
    if s is None:
        return None
    got = s.get(hostinfo.identity(cfg["device"]), model, knobs, measure.settings(batch=1, **cfg), "latency")
    return float(got["median_ms"]) if got else None


def roofline_section(model: str, knobs: dict[str, Any], m: LatencyModel) -> None:
    """The sidebar configuration's layers on this host's roofline; a configuration archlib refuses is named."""
    try:
        a = cache.analysis(model, widgets.knob_items(knobs))
    except archlib.ArchlibError as e:  # knobs Explore accepts one by one but not together (vit heads=5)
        st.error(widgets.md_escape(str(e)), icon=":material/error:")
        return
    p = predict.predict_analysis(a, m)
    tot = totals(traffic(a, dtype=m.settings["dtype"]))
    df = roofline_data(p)
    ms = achieved(model, knobs, m.settings)
    points = [{"label": "model, predicted", "intensity": tot["intensity"], "gops": tot["ops"] / p.latency_ms / 1e6,
               "symbol": "star", "color": "#facc15"}]
    if ms:
        points.append({"label": "model, measured", "intensity": tot["intensity"], "gops": tot["ops"] / ms / 1e6,
                       "symbol": "diamond", "color": "#f97316"})
    name = f"{model} {results.format_knobs(knobs)}".strip()
    st.plotly_chart(charts.roofline(df, m.peak_ops, m.bandwidth, points, cache=m.peaks.get("cache_bandwidth"),
                                    title=f"Roofline of this host · {len(df)} layers of {name}"), key="hw.roofline")
    share = df.groupby("bound")["predicted_ms"].sum() if len(df) else pd.Series(dtype=float)
    views = len(p.layers) - len(df)
    st.caption(f"Each point is a layer: x = operations (2 × MACs + elementwise) per byte moved (inputs + weights + "
               f"outputs, ShuffleNetV2's memory access cost), y = its operations over its predicted time; size = "
               f"its share of the time. Left of the ridge a layer is memory bound: {share.get('memory', 0):.2f} ms "
               f"predicted; right of it compute bound: {share.get('compute', 0):.2f} ms. A layer above the memory "
               f"roof works on data that stays in the cache (the dashed cache roof). {views} views and the "
               f"framework's overhead ({p.framework_ms:.3f} ms) are not points.")
    c = st.columns([1.2, 4], vertical_alignment="center")
    if c[0].button("Measure it now", icon=":material/timer:", key="hw.measure",
                   help="Times this configuration with the latency model's settings (stored for every page)."):
        try:
            with st.spinner(f"Measuring {name}…"):
                hwmodel.measured_ms(model, widgets.knob_items(knobs), m.settings | hwmodel.CHECK_TIMING)
        except archlib.ArchlibError as e:
            c[1].error(widgets.md_escape(str(e)), icon=":material/error:")
        else:
            st.rerun()
    c[1].markdown(f"Predicted **{p.latency_ms:.2f} ms**" + (f", measured **{ms:.2f} ms** "
                  f"({p.latency_ms / ms - 1:+.0%}): the orange diamond is the model's achieved point." if ms else
                  "; no measurement with these settings yet: measure it to place the achieved point."))


# -- MACs vs latency --------------------------------------------------------------
def spearman(x: pd.Series, y: pd.Series) -> float:
    """Spearman's rank correlation: Pearson's of the ranks (ties averaged)."""
    return float(x.rank().corr(y.rank())) if len(x) >= 3 else math.nan


@st.cache_data(max_entries=8, show_spinner=False)
def _registry_predictions(key: str, _m: LatencyModel) -> pd.DataFrame:
    rows = []
    for name in archlib.list_models():
        a = archlib.analyze(name)
        rows.append({"model": name, "family": archlib.get_model(name).family.name, "macs": a.totals()["macs"],
                     "predicted_ms": predict.predict_analysis(a, _m).latency_ms})
    return pd.DataFrame(rows)


def rank_section(m: LatencyModel) -> None:
    df = _registry_predictions(hwmodel.model_key(m), m)
    meas = measured_table(m)
    got = {r["model"]: r["measured_ms"] for r in meas.to_dict("records") if r["default"] and r["batch"] == 1}
    df["measured_ms"] = df["model"].map(got)
    rows = []
    for fam, part in df.groupby("family"):
        done = part.dropna(subset=["measured_ms"])
        rows.append({"family": fam, "models": len(part), "ρ predicted": spearman(part["macs"], part["predicted_ms"]),
                     "measured": len(done), "ρ measured": spearman(done["macs"], done["measured_ms"]),
                     "MACs per µs": (part["macs"] / part["predicted_ms"] / 1e3).median()})
    done = df.dropna(subset=["measured_ms"])
    rows.append({"family": "all models", "models": len(df), "ρ predicted": spearman(df["macs"], df["predicted_ms"]),
                 "measured": len(done), "ρ measured": spearman(done["macs"], done["measured_ms"]),
                 "MACs per µs": (df["macs"] / df["predicted_ms"] / 1e3).median()})
    fams = pd.DataFrame(rows[:-1]).sort_values("MACs per µs")
    c = st.columns(4)
    c[0].metric("ρ(MACs, predicted latency), all models", f"{rows[-1]['ρ predicted']:.2f}", border=True,
                help=f"Spearman's rank correlation over the {len(df)} registered models at their defaults; MACs "
                     "span five orders of magnitude, so the order is right across that range.")
    mobile = df[(df["macs"] >= 1e8) & (df["macs"] <= 1e9)]
    c[3].metric("ρ in the mobile range, 0.1-1 GMACs", f"{spearman(mobile['macs'], mobile['predicted_ms']):.2f}",
                border=True, help=f"Over the {len(mobile)} models from 0.1 to 1 GMACs, predicted: where papers "
                                  "compare at equal MACs, MACs order latency much less well.")
    c[1].metric("ρ(MACs, measured latency)", f"{rows[-1]['ρ measured']:.2f}" if len(done) >= 3 else "—",
                border=True, help=f"Over the {len(done)} models measured here with these settings.")
    c[2].metric("MACs per µs, slowest → fastest family", f"{fams.iloc[0]['MACs per µs']:.0f} → "
                f"{fams.iloc[-1]['MACs per µs']:.0f}", border=True,
                help=f"Median over each family's models, predicted: {fams.iloc[0]['family']} to "
                     f"{fams.iloc[-1]['family']}. The same MACs cost this much more time in one family than another.")
    left, right = st.columns([1, 1])
    left.plotly_chart(charts.macs_vs_latency(df, title="MACs vs predicted latency, every registered model"),
                      key="hw.macs")
    with right:
        st.dataframe(pd.DataFrame(rows), hide_index=True, height=520, column_config={
            "ρ predicted": st.column_config.NumberColumn(format="%.2f", help="Spearman's ρ, MACs vs predicted ms"),
            "ρ measured": st.column_config.NumberColumn(format="%.2f", help="Spearman's ρ, MACs vs measured ms"),
            "MACs per µs": st.column_config.NumberColumn(format="%.0f", help="median, predicted")})
    st.caption("Spearman's ρ between MACs and latency over each family's registered models at their defaults "
               "(1: the order by MACs is the order by latency; blank under 3 models). Within a family MACs "
               "order latency well; across families the same MACs cost very different time: depthwise "
               "convolutions, squeeze-and-excite and elementwise ops take time without MACs. Measured columns "
               "use this host's stored measurements with these settings (Pareto → Measure all).")


# -- accuracy -----------------------------------------------------------------------
def measured_table(m: LatencyModel) -> pd.DataFrame:
    """This host's stored latency measurements with the model's settings (any batch), predicted beside;
    computed once per fitted model and version of the database file, for every session."""
    s = hwmodel.open_store()
    if s is None:
        return _measured_rows([])
    try:
        return _measured_table(hwmodel.model_key(m), hwmodel.db_stamp(s.path), tuple(archlib.list_models()), m, s)
    except archlib.ArchlibError:  # the database broke since it was opened: the Pareto page names it
        return _measured_rows([])


@st.cache_data(max_entries=16, show_spinner=False)
def _measured_table(key: str, stamp: tuple[int, ...], models: tuple[str, ...], _m: LatencyModel,
                    _s: Any) -> pd.DataFrame:
    rows = []
    want = {k: _m.settings[k] for k in ("device", "threads", "dtype", "channels_last", "backend")}
    for r in _s.rows(host_id=_m.host_id, kind="latency"):
        if {k: r["settings"].get(k) for k in want} != want or r["model"] not in models:
            continue
        try:
            a = archlib.analyze(r["model"], **r["config"])
        except archlib.ArchlibError:
            continue
        pred = predict.predict_analysis(a, _m, batch=r["settings"]["batch"]).latency_ms
        knobs = {k: v for k, v in r["config"].items() if archlib.config(r["model"]).get(k) != v}
        label = f"{r['model']} {results.format_knobs(knobs)}".strip() + (f" ×{r['settings']['batch']}"
                                                                          if r["settings"]["batch"] > 1 else "")
        rows.append({"label": label, "model": r["model"], "family": archlib.get_model(r["model"]).family.name,
                     "batch": r["settings"]["batch"], "default": not knobs, "measured_ms": r["result"]["median_ms"],
                     "predicted_ms": pred, "error": pred / r["result"]["median_ms"] - 1})
    return _measured_rows(rows)


def _measured_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["label", "model", "family", "batch", "default", "measured_ms", "predicted_ms",
                                       "error"])


def predicted_vs_measured() -> None:
    """Every stored measurement of this host (the latency model's settings) against its prediction."""
    m = hwmodel.latency_model()
    if m is None:
        st.info("Calibrate this host (Hardware page) to compare its predictions with what was measured.",
                icon=":material/speed:")
        return
    df = measured_table(m)
    if df.empty:
        st.info(f"No latency measured here with {calibrate.describe(m.settings)} yet: measure some (Measure, "
                "Measure all) to compare.", icon=":material/timer:")
        return
    err = df["error"].abs()
    st.markdown(f"**{len(df)} measurements**: {(err <= 0.1).mean():.0%} predicted within ±10%, "
                f"{(err <= 0.2).mean():.0%} within ±20%; median |error| {err.median():.1%}.")
    st.plotly_chart(charts.predicted_vs_measured(df, title="Predicted vs measured on this host"), key="hw.pvm")
    worst = df.reindex(err.sort_values(ascending=False).index).head(10)
    st.dataframe(worst[["label", "measured_ms", "predicted_ms", "error"]], hide_index=True, column_config={
        "measured_ms": st.column_config.NumberColumn("measured ms", format="%.3f"),
        "predicted_ms": st.column_config.NumberColumn("predicted ms", format="%.3f"),
        "error": st.column_config.NumberColumn("error", format="percent")})


def accuracy_section(m: LatencyModel) -> None:
    rows = [{"class": k, "samples": c.samples, "CV median |error|": c.cv_error, "CV p90 |error|": c.cv_p90,
             "per call µs": c.overhead_us()} for k, c in sorted(m.classes.items())]
    st.markdown("**The fit, per op class** (cross-validated: each sample predicted by a fit on the others)")
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={
        "CV median |error|": st.column_config.NumberColumn(format="percent"),
        "CV p90 |error|": st.column_config.NumberColumn(format="percent"),
        "per call µs": st.column_config.NumberColumn(format="%.1f")})
    st.markdown("**Whole models**: every measurement stored on this host with these settings")
    predicted_vs_measured()


def predicted_caption() -> None:
    """The Pareto page's caption under the predicted-latency axis."""
    m = hwmodel.latency_model()
    if m is None:
        st.caption("Not calibrated: calibrate this host on the Hardware page to place every point on this axis.")
        return
    st.caption(f"Predicted for this host ({calibrate.describe(m.settings)}, batch 1) by its calibrated per-op "
               "model: every configuration archlib can build has a value, custom ones included; nothing was run.")
