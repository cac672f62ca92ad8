"""Calibrate this host's latency model: time the plan's ops, fit each class, store the model.

`calibrate(...)` runs under the host's measurement lock (no other process's measurement runs
meanwhile), and each timed step is admitted through the process's heavy-work gate
(archlib.hardware.gate: no other heavy work of this process runs beside it), within a time budget: first the
host's peaks and the framework's overhead, then the plan's ops in order (archlib.hardware.
calplan), each stored as it is measured, so an interrupted or over-budget run resumes
where it stopped. Everything is keyed by the host id (machine, CPU, torch version,
device) and the settings (device, threads, dtype, backend, channels_last): a database
holding several hosts never mixes them, and a fit refuses samples of another host.
The fit (`fit`) is a non-negative least squares per class on relative errors (so a
10 µs op counts as much as a 10 ms one), with one pass that drops gross outliers (a
timing disturbed by another process), and a k-fold cross-validation error per class.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core.knobs import Knob
from archlib.errors import ArchlibError
from archlib.hardware import allocator, measure
from archlib.hardware.gate import admit
from archlib.hardware.host import HostLock, available_memory, host_id, host_info, identity
from archlib.hardware.latency import calnets, calplan, microbench
from archlib.hardware.latency.latmodel import (
    CLASSES,
    MAIN_FEATURE,
    ClassFit,
    LatencyModel,
    features,
    op_class,
    predict_layers,
)

#: the settings a latency model is fitted for (batch is a feature, not a key)
MODEL_SETTINGS = ("device", "threads", "dtype", "backend", "channels_last")
DEFAULT_BUDGET_S = 240.0
BUDGET_RANGE = (2.0, 3600.0)
#: the time budget as a knob: its text (the CLI's --budget-s) is parsed by Knob.parse_text (ASCII digits)
BUDGET = Knob("budget_s", "float", DEFAULT_BUDGET_S, "seconds spent measuring", lo=BUDGET_RANGE[0],
              hi=BUDGET_RANGE[1])
#: a sample whose relative residual exceeds this (after a first fit) is dropped as disturbed
OUTLIER = 0.6
FOLDS = 5
#: calibration networks (archlib.hardware.latency.calnets), timed whole to check the fit, one after every NET_EVERY ops
NETS, NET_EVERY = 40, 14
#: catalogue networks (calnets.catalogue), timed whole on a CPU to fit the network factors; fewer timed: no factors
CATALOGUE, CATALOGUE_MIN = 24, 8
#: the network factors are kept within this range (a fit outside it is clipped, and says so in the model's info)
FACTOR_RANGE = (0.5, 2.0)
#: a calibration network does at most this many MACs (a few milliseconds a pass)
NET_MAX_MACS = 4e8
#: bytes the framework-overhead probes plan (models of do-nothing ops on a 16x4x4 input)
HARNESS_BYTES = 2 ** 20


class NotCalibrated(ArchlibError):
    """No latency model is stored for this host and these settings."""


@dataclass
class Progress:
    """Where a calibration run stands (passed to `on_progress` after every step)."""

    done: int  # samples of the plan measured (this run and earlier ones)
    total: int  # samples in the plan
    elapsed_s: float
    budget_s: float
    message: str

    @property
    def fraction(self) -> float:
        return min(1.0, max(self.done / max(self.total, 1), self.elapsed_s / self.budget_s))


def model_settings(**given: Any) -> dict[str, Any]:
    """Validated settings of a latency model (measurement settings' schema; threads resolved)."""
    bad = sorted(set(given) - set(MODEL_SETTINGS))
    if bad:
        raise ArchlibError(f"unknown setting {bad[0]!r} for a latency model; settings: {', '.join(MODEL_SETTINGS)}.")
    cfg = measure.settings(**given)
    if cfg["backend"] != "eager":
        raise ArchlibError("backend='compile' is not allowed for a latency model: torch.compile fuses ops across "
                           "layers, so single-op timings would not add up to a compiled model; calibrate with "
                           "backend=eager (compiled latency is measured: python -m archlib measure NAME "
                           "--backend compile).")
    return {k: cfg[k] for k in MODEL_SETTINGS}


def this_host(cfg: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """This host's description for these settings, and its id."""
    host = host_info(cfg["device"])
    host["torch_threads"] = cfg["threads"]
    return host, host_id(host)


def _check_budget(budget_s: Any) -> float:
    return float(BUDGET.parse(budget_s))


def calibrate(*, budget_s: float = DEFAULT_BUDGET_S, store: Any = None, fresh: bool = False,
              on_progress: Callable[[Progress], None] | None = None, should_stop: Callable[[], bool] | None = None,
              lock_timeout: float = 120.0, on_wait: Callable[[str], None] | None = None, seed: int = 0,
              **given: Any) -> LatencyModel:
    """Measure (within `budget_s`, resuming stored samples), fit and store this host's model."""
    from archlib.hardware.store import Store

    budget_s, cfg = _check_budget(budget_s), model_settings(**given)
    store = store or Store()
    host, hid = this_host(cfg)
    items = work(calplan.plan(seed=seed, device=cfg["device"]), seed=seed, device=cfg["device"])
    started = time.perf_counter()
    with HostLock(store.lock_path, what="calibrating the latency model", timeout=lock_timeout, on_wait=on_wait):
        if fresh:
            store.delete_samples(hid, cfg)
        slot = functools.partial(_admitted, cfg, timeout=lock_timeout, on_wait=on_wait)
        _measure(items, store, hid, cfg, started, budget_s, on_progress, should_stop or (lambda: False), slot)
    samples = store.samples(hid, cfg)
    done = {s["sample"] for s in samples}
    info = {"samples": sum(not s["class"].startswith("_") for s in samples), "planned": len(items),
            "nets": sum(s["class"] == "_net" for s in samples),
            "plan_done": sum(s.key in done for s in items), "complete": all(s.key in done for s in items), "wall_s": round(time.perf_counter() - started, 2),
            "budget_s": budget_s, "created": time.time(), "plan_version": calplan.PLAN_VERSION}
    model = fit(samples, host=host, host_id=hid, settings=cfg, info=info)
    store.put_latency_model(model.to_json())
    return model


Item = calplan.Sample | calnets.Net | calnets.CatalogueNet


def work(plan: list[calplan.Sample], *, seed: int = 0, device: str = "cpu") -> list[Item]:
    """What a calibration measures, in order: the plan's head (every class), then its rest with a
    whole network after every NET_EVERY ops: calibration networks and, on a CPU, catalogue
    networks (each twice: all the first timings, then all the second), alternately."""
    head = calplan.head_size()
    checks = calnets.nets(NETS, seed=seed, fits=lambda a: a.totals()["macs"] <= NET_MAX_MACS)
    first = calnets.catalogue(CATALOGUE, seed=seed) if device == "cpu" else []
    cat = first + [calnets.again(c) for c in first]  # the second timings come after every first one
    nets: list[calnets.Net | calnets.CatalogueNet] = []
    for i in range(max(len(checks), len(cat))):
        nets += checks[i:i + 1] + cat[i:i + 1]
    out: list[Item] = list(plan[:head])
    for i, s in enumerate(plan[head:]):
        out.append(s)
        if i % NET_EVERY == NET_EVERY - 1 and nets:
            out.append(nets.pop(0))
    return out + nets


@contextlib.contextmanager
def _admitted(cfg: Mapping[str, Any], need: int, *, timeout: float,
              on_wait: Callable[[str], None] | None) -> Iterator[None]:
    """One timed step of a calibration as heavy work: admitted through the process's gate, so no
    measurement, cross-check, profile or Performer study of this process runs beside it (the host lock,
    held for the whole run, keeps other processes' measurements out), with the calibration's thread
    count, given back after the step."""
    import torch

    with admit(need, "calibrating the latency model", device=cfg["device"], timeout=timeout, on_wait=on_wait):
        before = torch.get_num_threads()
        torch.set_num_threads(cfg["threads"])
        try:
            yield
        finally:
            torch.set_num_threads(before)


def _measure(items: list[Item], store: Any, hid: str, cfg: dict[str, Any], started: float,
             budget_s: float, on_progress: Callable[[Progress], None] | None, should_stop: Callable[[], bool],
             slot: Callable[[int], contextlib.AbstractContextManager[None]]) -> None:
    """Time what the plan has not stored yet, each step admitted by `slot(planned bytes)`."""
    import torch

    done = {s["sample"] for s in store.samples(hid, cfg)}
    avail = available_memory(cfg["device"])
    count = sum(s.key in done for s in items)

    def report(msg: str) -> None:
        if on_progress:
            on_progress(Progress(count, len(items), time.perf_counter() - started, budget_s, msg))

    allocator.pin()  # the same allocator regime as every measurement (archlib.hardware.allocator)
    with torch.inference_mode():
        for name, probe in microbench.PEAKS.items():
            if f"_{name}" not in done:
                report(f"measuring the host's peak {name.replace('_', ' ')}")
                with slot(microbench.peak_bytes(cfg)):
                    value = probe(cfg)
                store.put_sample(hid, cfg, f"_{name}", f"_{name}", {}, value)
        if "_harness" not in done:
            report("measuring the framework's overhead per op and per module")
            with slot(HARNESS_BYTES):
                h = microbench.harness(cfg)
            store.put_sample(hid, cfg, "_harness", "_harness", h, h["per_op_us"])
        for s in items:
            if s.key in done:
                continue
            if should_stop() or time.perf_counter() - started > budget_s:
                report("stopped: " + ("cancelled" if should_stop() else "the time budget is spent"))
                return
            msg = _measure_one(s, store, hid, cfg, avail, slot)
            count += 1
            if msg:
                report(msg)
    report("the plan is complete")


def _measure_one(s: Item, store: Any, hid: str, cfg: dict[str, Any], avail: int,
                 slot: Callable[[int], contextlib.AbstractContextManager[None]]) -> str:
    """Time one op or network and store it; what was measured ("" when it would not fit)."""
    if isinstance(s, calnets.CatalogueNet):
        with slot(s.analysis.memory(batch=1, dtype="float32")["inference_total"]):
            us = microbench.time_measured(s.analysis, cfg)
        store.put_sample(hid, cfg, s.key, "_catalogue", {"name": s.name, "resolution": s.resolution,
                                                         "timing": s.timing}, us)
        return (f"catalogue network {s.name} at {s.resolution} px ({len(s.analysis.rows)} ops, timing {s.timing} "
                f"of 2): {us / 1e3:,.2f} ms")
    if isinstance(s, calnets.Net):
        with slot(s.analysis.memory(batch=1, dtype="float32")["inference_total"]):
            us = microbench.time_net(s.analysis, cfg)
        store.put_sample(hid, cfg, s.key, "_net", {"index": s.index, "seed": s.seed}, us)
        return f"calibration network {s.key} ({len(s.analysis.rows)} ops): {us / 1e3:,.2f} ms"
    if not microbench.fits_in_memory(s.op, s.batch, cfg, avail):
        return ""
    with slot(microbench.op_bytes(s.op, s.batch, cfg)):
        us = microbench.time_op(s.op, s.batch, cfg)
    store.put_sample(hid, cfg, s.key, s.cls, s.as_json(), us)
    return f"{s.cls} {'x'.join(map(str, s.op.in_shapes[0]))} batch {s.batch}: {us:,.1f} µs"


# -- fitting -----------------------------------------------------------------------------
def _nnls(rows: list[dict[str, float]], y: list[float], names: tuple[str, ...]) -> list[float]:
    """Non-negative weights minimising the relative squared error of sum(w * feature) against y."""
    import numpy as np
    from scipy.optimize import nnls

    x = np.array([[r.get(n, 0.0) for n in names] for r in rows], dtype=float)
    t = np.array(y, dtype=float)
    a = x / t[:, None]
    scale = np.abs(a).max(axis=0)
    scale[scale == 0] = 1.0
    w, _ = nnls(a / scale, np.ones(len(t)), maxiter=50 * len(names))
    return list(w / scale)


def _predict(w: list[float], rows: list[dict[str, float]], names: tuple[str, ...]) -> list[float]:
    return [sum(wi * r.get(n, 0.0) for wi, n in zip(w, names)) for r in rows]


def _cv(rows: list[dict[str, float]], y: list[float], names: tuple[str, ...]) -> list[float]:
    """|relative error| of each sample predicted by a fit on the other folds."""
    errs = []
    k = min(FOLDS, len(rows))
    for f in range(k):
        train = [i for i in range(len(rows)) if i % k != f]
        test = [i for i in range(len(rows)) if i % k == f]
        w = _nnls([rows[i] for i in train], [y[i] for i in train], names)
        errs += [abs(p / y[i] - 1) for i, p in zip(test, _predict(w, [rows[i] for i in test], names))]
    return errs


def fit_class(cls: str, data: Iterable[tuple[dict[str, float], float]]) -> ClassFit | None:
    """One class's weights from (features, µs) pairs; None with fewer than 3 samples."""
    pairs = [(f, y) for f, y in data if y > 0]
    if len(pairs) < 3:
        return None
    names = CLASSES[cls] if len(pairs) >= len(CLASSES[cls]) + 2 else tuple(dict.fromkeys(("one", MAIN_FEATURE[cls])))
    rows, y = [p[0] for p in pairs], [p[1] for p in pairs]
    w = _nnls(rows, y, names)
    keep = [i for i, p in enumerate(_predict(w, rows, names)) if abs(p / y[i] - 1) <= OUTLIER]
    if len(names) + 1 <= len(keep) < len(rows):
        rows, y = [rows[i] for i in keep], [y[i] for i in keep]
        w = _nnls(rows, y, names)
    errs = sorted(_cv(rows, y, names))
    return ClassFit(names, tuple(w), len(rows), errs[len(errs) // 2], errs[min(len(errs) - 1, int(0.9 * len(errs)))])


def fit(samples: list[Mapping[str, Any]], *, host: dict[str, Any], host_id: str, settings: dict[str, Any],
        info: dict[str, Any] | None = None) -> LatencyModel:
    """The latency model of one host and settings from its stored samples (all of that host)."""
    others = sorted({s["host_id"] for s in samples} - {host_id})
    if others:
        raise ArchlibError(f"refusing to mix hosts: samples of host {others[0]} cannot calibrate host {host_id}.")
    special = {s["sample"]: s for s in samples if s["class"].startswith("_")}
    missing = [k for k in (*(f"_{p}" for p in microbench.PEAKS), "_harness") if k not in special]
    if missing:
        raise NotCalibrated(f"the calibration has not measured {', '.join(missing)} yet: run calibrate again.")
    peaks = {p: microbench.check_finite(p, special[f"_{p}"]["value"]) for p in microbench.PEAKS}
    harness = {k: float(v) for k, v in special["_harness"]["op"].items()}
    by_class: dict[str, list[tuple[dict[str, float], float]]] = defaultdict(list)
    where = {k: settings[k] for k in ("threads", "device", "dtype")}
    for s in samples:
        if not s["class"].startswith("_"):
            op, batch = calplan.op_from_json(s["op"])
            cls = op_class(op, batch=batch, **where)  # the kernel path depends on the settings and batch
            if cls in CLASSES:
                by_class[cls].append((features(op, batch, settings["dtype"]), s["value"]))
    classes = {c: f for c, data in by_class.items() if (f := fit_class(c, data)) is not None}
    if not classes:
        raise NotCalibrated("the calibration has too few samples to fit any op class yet: run calibrate again "
                            "(it resumes) or give it a larger --budget-s.")
    model = LatencyModel(host, host_id, dict(settings), classes, harness, peaks, dict(info or {}))
    model = network_factors(model, _catalogue(samples))
    nets = [(calnets.net(s["op"]["index"], seed=s["op"]["seed"]).analysis, s["value"]) for s in samples
            if s["class"] == "_net"]
    return dataclasses.replace(model, info=model.info | validate(model, nets))


def _catalogue(samples: Iterable[Mapping[str, Any]]) -> list[tuple[Any, float]]:
    """The timed catalogue networks as (analysis, µs), each the faster of its timings: this version's (an
    older one was timed otherwise); one no longer registered is left out."""
    best: dict[tuple[str, int], float] = {}
    for s in samples:
        if s["class"] == "_catalogue" and s["sample"].startswith(calnets.CATALOGUE_PREFIX):
            key = (s["op"]["name"], s["op"]["resolution"])
            best[key] = min(best.get(key, s["value"]), s["value"])
    out = []
    for (name, resolution), us in best.items():
        try:
            out.append((calnets.catalogue_net(name, resolution).analysis, us))
        except ArchlibError:
            continue
    return out


def network_factors(model: LatencyModel, timed: list[tuple[Any, float]]) -> LatencyModel:
    """`model` with its two network factors fitted on whole catalogue networks (`timed`: analysis, µs):
    `work_scale` multiplies what its ops' fits predict beyond their per-call costs, `launch_scale` the
    per-call costs and the framework's (non-negative least squares on relative errors, like the classes).
    On a CPU with at least CATALOGUE_MIN networks; otherwise `model` as it is. The model's info records
    how many networks and which, the factors and their median |error| before and after."""
    if model.settings["device"] != "cpu" or len(timed) < CATALOGUE_MIN:
        return model
    base = model.without_factors()
    rows, y = [], []
    for a, us in timed:
        layers, rest = predict_layers(base, a)
        launch = sum(lp.overhead_ms for lp in layers) + rest
        rows.append({"work": sum(lp.predicted_ms for lp in layers) - launch + rest, "launch": launch})
        y.append(us / 1e3)
    names = ("work", "launch")
    fitted = _nnls(rows, y, names)
    lo, hi = FACTOR_RANGE
    w_scale, l_scale = (min(hi, max(lo, w)) for w in fitted)

    def median_error(ws: float, ls: float) -> float:
        errs = sorted(abs((ws * r["work"] + ls * r["launch"]) / t - 1) for r, t in zip(rows, y))
        return errs[len(errs) // 2]

    info = {"catalogue": len(timed), "catalogue_networks": sorted(f"{a.model}@{a.config.get('resolution')}" for a, _ in timed),
            "catalogue_work_scale": w_scale, "catalogue_launch_scale": l_scale,
            "catalogue_clipped": any(not lo <= w <= hi for w in fitted),
            "catalogue_error_before": median_error(1.0, 1.0), "catalogue_error_after": median_error(w_scale, l_scale)}
    return dataclasses.replace(base, harness=base.harness | {"work_scale": w_scale, "launch_scale": l_scale},
                               info=base.info | info)


def validate(model: LatencyModel, nets: list[tuple[Any, float]]) -> dict[str, float]:
    """How the fitted model predicts the timed calibration networks (never fitted on): their count,
    median and 90th percentile |relative error|, the mean signed error, and the shares within 10%
    and 20%."""
    signed = [predict_analysis_ms(model, a) / (us / 1e3) - 1 for a, us in nets if us > 0]
    errs = sorted(map(abs, signed))
    if not errs:
        return {}
    return {"nets": len(errs), "nets_median_error": errs[len(errs) // 2], "nets_mean_error": sum(signed) / len(errs),
            "nets_p90_error": errs[min(len(errs) - 1, int(0.9 * len(errs)))],
            "nets_within_10": sum(e <= 0.1 for e in errs) / len(errs),
            "nets_within_20": sum(e <= 0.2 for e in errs) / len(errs)}


def predict_analysis_ms(model: LatencyModel, a: Any) -> float:
    layers, rest = predict_layers(model, a)
    return sum(lp.predicted_ms for lp in layers) + rest


def load(store: Any, **given: Any) -> LatencyModel:
    """This host's stored model for these settings; NotCalibrated (saying how to calibrate) if none."""
    cfg = model_settings(**given)
    host = identity(cfg["device"])  # no torch import on the CPU: a prediction stays instant
    hid = host_id(host)
    got = store.latency_model(hid, cfg)
    if got is None:
        raise NotCalibrated(f"no latency model for this host ({host['cpu']}, torch {host['torch']}) with "
                            f"{describe(cfg)}: run `{command(cfg)}` first (about {DEFAULT_BUDGET_S / 60:.1f} "
                            "minutes; it resumes if interrupted).")
    model = LatencyModel.from_json(got)
    if model.host_id != hid:
        raise ArchlibError(f"refusing to mix hosts: the stored model is of host {model.host_id}, this is {hid}.")
    return model


def describe(cfg: Mapping[str, Any]) -> str:
    """The settings in words (device, threads, dtype, backend, memory format)."""
    return (f"{cfg['device']}, {cfg['threads']} thread(s), {cfg['dtype']}, {cfg['backend']}"
            + (", channels_last" if cfg["channels_last"] else ""))


def command(cfg: Mapping[str, Any]) -> str:
    """The CLI line that calibrates for `cfg`."""
    flags = [f"--threads {cfg['threads']}"]
    if cfg["device"] != "cpu":
        flags.insert(0, f"--device {cfg['device']}")
    if cfg["dtype"] != "float32":
        flags.append(f"--dtype {cfg['dtype']}")
    if cfg["channels_last"]:
        flags.append("--channels-last")
    return "python -m archlib calibrate " + " ".join(flags)
