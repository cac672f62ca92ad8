"""The Pareto page's measurement tabs: measure one configuration, measure all published
ones (progress and cancel), the per-layer profile, MACs per millisecond, and the hosts."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

import archlib
from app.pareto import data
from app.ui import widgets
from archlib.data import results
from archlib.errors import ArchlibError
from archlib.hardware import host as hostinfo
from archlib.hardware import measure, opprofile, power
from archlib.hardware import store as mstore

RUNNING, CANCEL, LAST = "pareto.all.running", "pareto.all.cancel", "pareto.last"
HOST = "pareto.host"
LOCK_TIMEOUT = 60.0


def mkey(name: str) -> str:
    return f"pareto.m.{name}"


@st.cache_resource(show_spinner=False)
def host(device: str) -> dict[str, Any]:
    return hostinfo.host_info(device)


def _specs() -> dict[str, Any]:
    specs = {k.name: k for k in measure.SETTINGS}
    if not hostinfo.cuda_available():
        specs["device"] = type(specs["device"])("device", "choice", "cpu", "where it runs (no CUDA GPU here)",
                                                choices=("cpu",))
    return specs


def current_settings() -> dict[str, Any]:
    """The measurement settings the controls hold (read before they are drawn, in the Measure tab)."""
    given = {name: st.session_state.get(mkey(name), spec.default) for name, spec in _specs().items()}
    try:
        return measure.settings(**given)
    except ArchlibError:
        return measure.settings()


def settings_controls() -> None:
    """Measurement settings from archlib.hardware.measure's schema (not in the URL: results are per host)."""
    with st.expander("Measurement settings: they also choose which measurements fill the measured axis",
                     icon=":material/tune:"):
        cols = st.columns(4)
        for i, (name, spec) in enumerate(_specs().items()):
            widgets.control(spec, mkey(name), container=cols[i % 4], label=name.replace("_", " "))


def stored_rows(store: mstore.Store, *, say_skipped: bool = False, **where: Any) -> list[dict[str, Any]]:
    """store.rows(**where); a database that broke meanwhile is named and read as empty, and
    rows that do not read back are listed when `say_skipped`."""
    try:
        rows = store.rows(**where)
    except ArchlibError as e:
        st.error(widgets.md_escape(str(e)), icon=":material/database:")
        return []
    if say_skipped and store.skipped:
        st.warning(widgets.md_escape(f"{len(store.skipped)} stored measurement(s) in {store.path} do not read back "
                                     f"and are left out: {'; '.join(store.skipped[:3])}"
                                     + (" ..." if len(store.skipped) > 3 else "") + "."),
                   icon=":material/database:")
    return rows


def measured_map(store: mstore.Store | None, host_id: str, cfg: dict[str, Any]) -> dict[str, float]:
    """config key -> median latency (ms) of `host_id`'s measurements made with these settings."""
    if store is None:
        return {}
    want = {k: cfg[k] for k in mstore.KEY_SETTINGS}
    return {data.canon(r["model"], r["config"]): r["result"]["median_ms"]
            for r in stored_rows(store, say_skipped=True, host_id=host_id, kind="latency") if r["settings"] == want}


def _record(store: mstore.Store, kind: str, model: str, knobs: dict[str, Any], cfg: dict[str, Any]) -> dict | None:
    status = st.empty()
    try:
        with st.spinner(f"Measuring {kind.replace('_', ' ')} of {model}…"):
            out = mstore.record(kind, model, knobs, store=store, lock_timeout=LOCK_TIMEOUT,
                                on_wait=lambda m: status.info(m, icon=":material/hourglass_top:"), **cfg)
    except mstore.NotStored as e:
        status.warning(widgets.md_escape(str(e)), icon=":material/database:")
        return e.record
    except ArchlibError as e:
        status.error(widgets.md_escape(str(e)), icon=":material/error:")
        return None
    status.empty()
    return out


def measure_one(store: mstore.Store | None, model: str, knobs: dict[str, Any], cfg: dict[str, Any]) -> None:
    settings_controls()
    st.markdown(f"Measures **{model}** {results.format_knobs(knobs) or '(defaults)'} — the sidebar's "
                f"configuration — with the settings above; one measurement at a time on this host.")
    if store is None:
        return
    a, b, c = st.columns(3)
    kinds = {"latency": a.button("Measure latency", icon=":material/timer:", width="stretch"),
             "train_step": b.button("Training step", icon=":material/model_training:", width="stretch"),
             "energy": c.button("Energy per inference", icon=":material/bolt:", width="stretch")}
    for kind, clicked in kinds.items():
        if clicked:
            out = _record(store, kind, model, knobs, cfg)
            if out:
                st.session_state[LAST] = {"kind": kind, "model": model, "knobs": knobs, **out}
    last = st.session_state.get(LAST)
    if last:
        show_result(last)
    ok, why = power.status(cfg["device"])
    st.caption(("Power: " if ok else "") + why)


def show_result(out: dict[str, Any]) -> None:
    r, h, kind = out["result"], out["host"], out["kind"]
    st.markdown(f"**{kind.replace('_', ' ')}** of {out['model']} {results.format_knobs(out['knobs'])}")
    if kind == "energy":
        if "joules" in r:
            m = st.columns(3)
            m[0].metric("Energy per inference", f"{r['mj_per_inference']:.2f} mJ")
            m[1].metric("Average power", f"{r['watts']:.1f} W")
            m[2].metric("Inferences", f"{r['inferences']:,}")
        st.caption(r.get("status", ""))
        return
    m = st.columns(5)
    m[0].metric("Median", f"{r['median_ms']:.3g} ms")
    m[1].metric("IQR", f"{r['iqr_ms']:.2g} ms")
    m[2].metric("Timed runs", f"{r['runs']:,} in {r['blocks']} blocks")
    m[3].metric("MACs per ms", f"{r['macs_per_ms']:.3g}")
    peak = r.get("peak_bytes")
    m[4].metric("Peak memory (process)" if h["device"] == "cpu" else "Peak memory (measured)",
                f"{peak / 2**20:,.1f} MiB" if peak is not None else "n/a",
                help=f"Analytic estimate: {r['analytic_bytes'] / 2**20:,.1f} MiB. " + " ".join(r.get("notes", [])))
    st.caption(f"{h['device']} · {h['cpu']} · {r['threads']} thread(s) · batch {r['batch']} · torch {h['torch']} · "
               f"warm-up first run {r['warmup_ms']:.3g} ms · analytic memory {r['analytic_bytes'] / 2**20:,.1f} MiB")


def todo(df: pd.DataFrame) -> list[tuple[str, dict[str, Any]]]:
    """Distinct archlib configurations among the published rows shown, cheapest first."""
    seen: dict[str, tuple[float, str, dict[str, Any]]] = {}
    for r in df[df["archlib_model"] != ""].to_dict("records"):
        if r["config_key"] not in seen:
            knobs = results.parse_knobs(r["archlib_model"], r["archlib_knobs"])
            seen[r["config_key"]] = (r["macs_M"] or math.inf, r["archlib_model"], knobs)
    return [(m, k) for _, m, k in sorted(seen.values(), key=lambda t: (t[0], t[1]))]


def measure_all(store: mstore.Store | None, configs: list[tuple[str, dict[str, Any]]], cfg: dict[str, Any],
                done: dict[str, float]) -> None:
    left = [c for c in configs if data.canon(*c) not in done]
    st.markdown(f"{len(configs)} distinct published configurations are shown; **{len(left)}** are not yet measured "
                f"on this host with these settings. Each is bounded to {cfg['max_seconds']:g} s and refused if it "
                "would not fit in memory.")
    if store is None or not left:
        return
    if st.button(f"Measure all {len(left)}", icon=":material/play_arrow:", key="pareto.all.start",
                 disabled=bool(st.session_state.get(RUNNING))):
        st.session_state[RUNNING], st.session_state[CANCEL] = True, False
    if not st.session_state.get(RUNNING):
        return
    st.button("Cancel", icon=":material/stop:", on_click=lambda: st.session_state.update({CANCEL: True,
                                                                                           RUNNING: False}))
    bar, skipped = st.progress(0.0, text="Starting…"), []
    for i, (model, knobs) in enumerate(left):
        if st.session_state.get(CANCEL):
            break
        bar.progress(i / len(left), text=f"{i + 1} of {len(left)}: {model} {results.format_knobs(knobs)}")
        if _record(store, "latency", model, knobs, cfg) is None:
            skipped.append(model)
    st.session_state[RUNNING] = False
    bar.progress(1.0, text=f"Done; {len(skipped)} skipped." if skipped else "Done.")
    st.rerun()


def profile_panel(model: str, knobs: dict[str, Any], cfg: dict[str, Any]) -> None:
    st.markdown("torch.profiler times every layer of the sidebar's configuration; each layer is joined with "
                "its MACs by name. **slowdown** = share of time / share of MACs: above 1 a layer runs slower "
                "than its MACs suggest.")
    if st.button("Profile", icon=":material/query_stats:"):
        try:
            with st.spinner(f"Profiling {model}…"):
                with hostinfo.HostLock(mstore.Store().lock_path, what=f"profiling {model}", timeout=LOCK_TIMEOUT):
                    st.session_state["pareto.profile"] = opprofile.profile(model, knobs, runs=3, **cfg)
        except ArchlibError as e:
            st.error(widgets.md_escape(str(e)), icon=":material/error:")
    prof = st.session_state.get("pareto.profile")
    if not prof:
        return
    st.caption(f"{prof.model} {results.format_knobs(prof.knobs)} · {prof.runs} runs · "
               f"{prof.settings['threads']} thread(s) · batch {prof.settings['batch']}")
    classes = pd.DataFrame(prof.by_class())
    fig = px.bar(classes.melt(id_vars="class", value_vars=["macs_share", "time_share"]), x="value", y="class",
                 color="variable", barmode="group", orientation="h", template="plotly_white", height=320,
                 labels={"value": "share of the total", "class": ""})
    st.plotly_chart(fig, key="pareto.profile.chart")
    layers = pd.DataFrame([lt.as_dict() for lt in prof.layers]).sort_values("time_ms", ascending=False)
    st.dataframe(layers, hide_index=True, height=320, column_config={
        "macs": st.column_config.NumberColumn(format="compact"),
        "time_ms": st.column_config.NumberColumn("time ms", format="%.3f"),
        "macs_share": st.column_config.NumberColumn(format="percent"),
        "time_share": st.column_config.NumberColumn(format="percent"),
        "slowdown": st.column_config.NumberColumn(format="%.2f"),
        "macs_per_ms": st.column_config.NumberColumn(format="compact")})
    st.download_button("Layer times (CSV)", layers.to_csv(index=False).encode(), file_name=f"{model}-layers.csv",
                       icon=":material/download:")
    with st.expander("torch operators (self time per pass)"):
        st.dataframe(pd.DataFrame(prof.operators), hide_index=True)


def throughput_panel(store: mstore.Store | None, host_id: str, cfg: dict[str, Any]) -> None:
    st.markdown("MACs per millisecond of every configuration measured here with these settings, per family. "
                "Depthwise convolutions and squeeze-and-excite do few MACs per byte moved, so families built "
                "on them (MobileNet, MnasNet, EfficientNet) run far below the dense ones: their latency is "
                "higher than their MACs say. The per-layer profile shows where.")
    if store is None:
        return
    want = {k: cfg[k] for k in mstore.KEY_SETTINGS}
    rows = [{"model": r["model"], "knobs": r["config"], "batch": r["settings"]["batch"],
             "median_ms": r["result"]["median_ms"]}
            for r in stored_rows(store, host_id=host_id, kind="latency") if r["settings"] == want]
    if not rows:
        st.info("Nothing measured here with these settings yet: use Measure or Measure all.")
        return
    tp = pd.DataFrame(opprofile.family_throughput(rows))
    fig = px.strip(tp, x="family", y="macs_per_ms", hover_data=["model", "median_ms"], log_y=True,
                   template="plotly_white", height=380, labels={"macs_per_ms": "MACs per ms (log)", "family": ""})
    st.plotly_chart(fig, key="pareto.tp.chart")
    st.dataframe(tp.groupby("family")["macs_per_ms"].median().rename("median MACs per ms").reset_index(),
                 hide_index=True)


def hosts_panel(store: mstore.Store | None, this: str) -> str:
    """The hosts in the database; which one fills the measured axis."""
    if store is None:
        return this
    try:
        hosts = store.hosts()
    except ArchlibError as e:
        st.error(widgets.md_escape(str(e)), icon=":material/database:")
        return this
    st.caption(f"Database: `{store.path}` (set {mstore.ENV} to move it).")
    if not hosts:
        st.info("No measurements stored yet.")
        return this
    df = pd.DataFrame(hosts)
    st.dataframe(df, hide_index=True)
    ids = [h["host_id"] for h in hosts] + ([this] if this not in {h["host_id"] for h in hosts} else [])
    labels = {h["host_id"]: f"{h['hostname']} · {h['device']} · {h['cpu']} · torch {h['torch']}" for h in hosts}
    labels.setdefault(this, "this host (nothing stored yet)")
    compare_hosts(store, labels)
    if st.session_state.get(HOST) not in ids:
        st.session_state[HOST] = this
    return st.selectbox("Host whose measurements fill the measured-latency axis", ids, key=HOST,
                        format_func=lambda h: labels.get(h, h) + (" (this host)" if h == this else ""))


def _non_default(model: str, config: dict[str, Any]) -> str:
    return results.format_knobs(archlib.get_model(model).overrides(config))


def compare_hosts(store: mstore.Store, labels: dict[str, str]) -> None:
    """Latency of the configurations measured on more than one host, side by side."""
    rows = stored_rows(store, kind="latency")
    if len({r["host_id"] for r in rows}) < 2:
        return
    df = pd.DataFrame([{"model": r["model"], "knobs": _non_default(r["model"], r["config"]),
                        "settings": "{device} · {threads} thr · batch {batch} · {dtype}".format(**r["settings"]),
                        "host": labels.get(r["host_id"], r["host_id"]), "median_ms": r["result"]["median_ms"]}
                       for r in rows])
    pivot = df.pivot_table(index=["model", "knobs", "settings"], columns="host", values="median_ms")
    pivot = pivot.dropna(thresh=2)
    st.markdown(f"**Measured on more than one host** ({len(pivot)} configurations, median ms)")
    if pivot.empty:
        st.caption("No configuration has been measured with the same settings on two hosts yet.")
    else:
        st.dataframe(pivot.reset_index(), hide_index=True)
