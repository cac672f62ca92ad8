"""The app's side of this host's latency model: its settings, the stored model, cached
predictions, and the calibrate button (progress, cancel, under the host's lock).

One set of latency settings (threads, dtype, memory format; the device where a GPU exists)
serves every page; the Hardware page holds their controls. A prediction allocates nothing
and imports no torch, so it is shown live beside the MACs.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import streamlit as st

import archlib
from app.ui import state, widgets
from archlib.core.knobs import Knob
from archlib.errors import ArchlibError
from archlib.hardware import measure
from archlib.hardware import store as mstore
from archlib.hardware.latency import calibrate, predict
from archlib.hardware.latency.latmodel import LatencyModel

PAGE = "hardware"
#: the calibration's own session keys; "_" keeps them apart from every widget key (a widget key cannot be
#: assigned, and calibrate_panel(key="hardware.cal") names its cancel button "hardware.cal.cancel")
RUNNING, CANCEL, LAST = "hardware._cal_running", "hardware._cal_cancel", "hardware._cal_last"
OFFER = "explore.calibrate.open"  # the state of Explore's "Not calibrated" expander
BUDGETS = (60.0, calibrate.DEFAULT_BUDGET_S, 300.0, 600.0)
LOCK_TIMEOUT = 60.0


def skey(name: str) -> str:
    return f"hardware.{name}"


def _cpu_dtype(spec: Knob) -> Knob:
    """The number formats a CPU model can be calibrated in (measure.settings refuses float16 there)."""
    return dataclasses.replace(spec, choices=tuple(c for c in spec.choices if c != "float16"),
                               help=spec.help + " (float16 needs a GPU)")


#: the controls of the latency settings: the measurement settings' own knobs (one definition of their ranges)
SETTINGS: tuple[Knob, ...] = tuple(_cpu_dtype(k) if k.name == "dtype" else k
                                   for k in measure.SETTINGS if k.name in ("threads", "dtype", "channels_last"))


def settings() -> dict[str, Any]:
    """The latency model's settings the Hardware page's controls hold (defaults: 1 thread, float32).

    A held value they refuse (the host now lets archlib use fewer CPUs, say) is named in an error and
    put back to its default; the other settings are kept."""
    given = {k.name: st.session_state[skey(k.name)] for k in SETTINGS if skey(k.name) in st.session_state}
    try:
        return calibrate.model_settings(**given)
    except ArchlibError:
        pass
    kept: dict[str, Any] = {}
    for spec in SETTINGS:
        if spec.name not in given:
            continue
        try:
            calibrate.model_settings(**kept, **{spec.name: given[spec.name]})
        except ArchlibError as e:
            st.error(widgets.md_escape(f"{e} The latency settings use {spec.name}={state.fmt(spec.default)} "
                                       "instead."), icon=":material/error:")
            st.session_state[skey(spec.name)] = spec.default  # said once: the control shows the default
        else:
            kept[spec.name] = given[spec.name]
    return calibrate.model_settings(**kept)


def db_stamp(path: Path) -> tuple[int, ...]:
    """What changes when the database file is written, replaced or removed (a cache key)."""
    try:
        f = path.stat()
    except OSError:
        return ()
    return f.st_dev, f.st_ino, f.st_size, f.st_mtime_ns


# Memoised with functools (a dict lookup), not st.cache_resource: every Explore rerun asks for the store and
# the latency model, and Streamlit's argument hashing cost more than the rest of the lookup
# (benchmarks/bench_load.py). An exception is not memoised: a refused file is opened again next time.
@functools.lru_cache(maxsize=8)
def _store(path: str, stamp: tuple[int, ...]) -> mstore.Store:
    # opening checks the file (PRAGMA quick_check, the schema): done once per version of the file, shared by
    # every session; a write, a replaced or a removed file gives another stamp, so it is checked again
    return mstore.Store(path)


def open_store(*, say: bool = False) -> mstore.Store | None:
    """The results database at $ARCHLIB_DB (checked once per version of the file), or None when it is
    refused; `say`: the refusal is shown as an error (what to do included)."""
    path = mstore.db_path()
    try:
        s = _store(str(path), db_stamp(path))
    except ArchlibError as e:
        if say:
            st.error(widgets.md_escape(str(e)), icon=":material/database:")
        return None
    return copy.copy(s)  # its own `skipped` (what the caller's last read left out), not another session's


@functools.lru_cache(maxsize=16)
def _load(path: str, cfg_json: str, stamp: tuple[int, ...]) -> LatencyModel | None:
    try:
        return calibrate.load(_store(path, stamp), **json.loads(cfg_json))
    except ArchlibError:
        return None


def latency_model(cfg: dict[str, Any] | None = None) -> LatencyModel | None:
    """This host's stored model for `cfg` (default: the app's settings), or None when there is none."""
    s = open_store()
    if s is None:
        return None
    # a new calibration writes the file, which changes its stamp
    return _load(str(s.path), json.dumps(cfg or settings(), sort_keys=True), db_stamp(s.path))


def model_key(m: LatencyModel) -> str:
    """What identifies a fitted model in a cache key: host, settings and when it was fitted."""
    return f"{m.host_id}/{json.dumps(m.settings, sort_keys=True)}/{m.info.get('created')}"


@st.cache_data(max_entries=512, show_spinner=False)
def _predict(model: str, items: tuple[tuple[str, Any], ...], batch: int, key: str, _m: LatencyModel) -> dict[str, Any]:
    p = predict.predict_analysis(archlib.analyze(model, **dict(items)), _m, batch=batch)
    return {"latency_ms": p.latency_ms, "framework_ms": p.framework_ms,
            "layers": {lp.name: lp.predicted_ms for lp in p.layers},
            "bound": {lp.name: lp.bound for lp in p.layers}}


def prediction(model: str, items: tuple[tuple[str, Any], ...], *, batch: int = 1) -> dict[str, Any] | None:
    """{latency_ms, framework_ms, layers: name -> ms, bound: name -> bound} or None when not calibrated."""
    m = latency_model()
    if m is None:
        return None
    try:
        return _predict(model, items, batch, model_key(m), m)
    except ArchlibError:
        return None


@st.cache_data(max_entries=4096, show_spinner=False)
def _total(model: str, knobs: str, key: str, _m: LatencyModel) -> float | None:
    from archlib.data import results

    try:
        a = archlib.analyze(model, **results.parse_knobs(model, knobs))
    except ArchlibError:
        return None
    return predict.predict_analysis(a, _m).latency_ms


def predictor() -> Callable[[str, Mapping[str, Any]], float | None] | None:
    """(model, knobs) -> predicted ms at batch 1 with the app's settings; None when not calibrated."""
    from archlib.data import results

    m = latency_model()
    if m is None:
        return None
    key = model_key(m)
    return lambda model, knobs: _total(model, results.format_knobs(knobs), key, m)


def per_op(model: str, items: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, float], ...] | None:
    """Per-op predicted ms as a hashable tuple (a graph cache key), or None when not calibrated."""
    p = prediction(model, items)
    return None if p is None else tuple(p["layers"].items())


def with_predicted(df: Any, model: str, items: tuple[tuple[str, Any], ...]) -> Any:
    """The layer table with a `predicted_ms` column when this host is calibrated (a copy; the cached
    table is not changed)."""
    p = prediction(model, items)
    return df if p is None else df.assign(predicted_ms=df["name"].map(p["layers"]))


def latency_metric(box: Any, model: str, items: tuple[tuple[str, Any], ...]) -> None:
    """The totals' latency metric: predicted on this host, or "—, not calibrated" with a way to calibrate."""
    p = prediction(model, items)
    cfg = settings()
    if p is None:
        box.metric("Latency", "—", delta="not calibrated", delta_color="off", delta_arrow="off", border=True,
                   help=f"No latency model of this host for {calibrate.describe(cfg)} yet: calibrate it with the button "
                        "further down (about 3 minutes, resumable) or on the Hardware page.")
        return
    ms = p["latency_ms"]
    box.metric("Latency", f"{ms:.3g} ms", delta="predicted here", delta_color="off", delta_arrow="off", border=True,
               help=f"{ms:.4f} ms per forward pass at batch 1 on this host ({calibrate.describe(cfg)}), predicted "
                    "from the calibrated per-op model, nothing run; the Hardware page shows how accurate it is.")


def calibrate_panel(*, key: str = "cal", compact: bool = False) -> None:
    """The calibrate button with its budget; progress and a cancel button while it runs."""
    cfg = settings()
    c = st.columns([1.3, 1.2, 3] if not compact else [1.4, 1.4, 2.2], vertical_alignment="bottom")
    budget = c[0].selectbox("Time budget", BUDGETS, index=1, key=f"{key}.budget", format_func=lambda s: f"{s:g} s",
                            help="Seconds spent measuring; a later run resumes where this one stopped.")
    running = bool(st.session_state.get(RUNNING))
    if c[1].button("Calibrate this host", icon=":material/speed:", key=f"{key}.start", disabled=running,
                   type="primary", width="stretch"):
        st.session_state[RUNNING], st.session_state[CANCEL] = True, False
        running = True
    c[2].caption(f"Micro-benchmarks every op kind (convolutions, linear, attention, BN, activations, pools...) "
                 f"with {calibrate.describe(cfg)}, then fits the per-op model. One measurement at a time on "
                 "this host; samples are kept as they are measured, so a cancelled run resumes.")
    if running:
        _run(cfg, budget, key)
    last = st.session_state.get(LAST)
    if last:
        (st.success if last["ok"] else st.warning)(last["text"], icon=":material/check_circle:" if last["ok"]
                                                   else ":material/info:")


def _run(cfg: dict[str, Any], budget: float, key: str) -> None:
    st.button("Cancel", icon=":material/stop:", key=f"{key}.cancel",
              on_click=lambda: st.session_state.update({CANCEL: True, RUNNING: False, LAST: {
                  "ok": False, "text": "Calibration cancelled: the samples measured so far are kept; calibrate "
                                       "again to resume."}}))
    bar = st.progress(0.0, text="Waiting for this host's measurement lock…")
    t0 = time.perf_counter()
    try:
        m = calibrate.calibrate(
            budget_s=budget, lock_timeout=LOCK_TIMEOUT, should_stop=lambda: bool(st.session_state.get(CANCEL)),
            on_wait=lambda msg: bar.progress(0.0, text=msg),
            on_progress=lambda p: bar.progress(p.fraction, text=f"{p.done} of {p.total} samples · "
                                               f"{p.elapsed_s:.0f} of {p.budget_s:.0f} s · {p.message}"), **cfg)
    except ArchlibError as e:
        st.session_state[LAST] = {"ok": False, "text": widgets.md_escape(str(e))}
    else:
        done = "the plan is complete" if m.info["complete"] else "calibrate again to measure the rest of the plan"
        st.session_state[LAST] = {"ok": True, "text": f"Calibrated in {time.perf_counter() - t0:.0f} s: "
                                  f"{m.info['samples']} samples, {len(m.classes)} op classes fitted; {done}."}
    st.session_state[RUNNING] = False
    st.rerun()


#: a measurement that checks a prediction: short timed runs, bounded (the settings are the latency model's)
CHECK_TIMING = {"min_run_time": 0.3, "max_seconds": 60.0}


@st.cache_data(max_entries=512, show_spinner=False)
def _measured(model: str, items: tuple[tuple[str, Any], ...], cfg_json: str) -> float:
    # an ArchlibError (the host stayed busy, too large) propagates: Streamlit caches no exception, so a
    # failure is not kept for every session; the next call measures again
    rec = mstore.record("latency", model, dict(items), lock_timeout=LOCK_TIMEOUT, **json.loads(cfg_json))
    return float(rec["result"]["median_ms"])


def measured_ms(model: str, items: tuple[tuple[str, Any], ...], cfg: Mapping[str, Any]) -> float:
    """Median latency (ms) measured here under the host's lock with measurement settings `cfg`, stored like
    every measurement and cached for every session. Raises ArchlibError when it could not be measured
    (nothing is cached then)."""
    return _measured(model, items, json.dumps(dict(cfg), sort_keys=True))


def offer_calibration() -> None:
    """Under Explore's totals when this host has no latency model: what is missing and a calibrate button."""
    if latency_model() is not None and not st.session_state.get(RUNNING):
        last = st.session_state.pop(LAST, None)
        if last:
            st.toast(last["text"], icon=":material/check_circle:")
        return
    cfg = settings()
    box = st.expander(f"Not calibrated: no latency model of this host for {calibrate.describe(cfg)}",
                      expanded=bool(st.session_state.get(RUNNING) or st.session_state.get(LAST)),
                      icon=":material/speed:", key=OFFER, on_change="rerun")
    if not box.open:  # built only when open: a closed offer costs every session nothing
        return
    with box:
        st.caption("Calibrating micro-benchmarks this host's op kinds once; from then on every configuration's "
                   "latency is predicted live, per layer, without running it.")
        calibrate_panel(key="explore.cal", compact=True)
