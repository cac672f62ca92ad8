"""Accuracy of the latency model: predicted vs measured, side by side in one run.

Every registered model at its defaults (smallest first), then configurations held out of
the fit (seeded random resolutions, widths, depths and RegNet parameters), each predicted
(archlib.hardware.latency.predict, nothing run) and then measured (archlib.hardware.measure, the
project's method: median of torch.utils.benchmark's adaptive_autorange). The per-op fit saw
only synthetic single ops (archlib.hardware.latency.calplan); its two network factors were
fitted on 24 registered models timed whole at resolutions 8 more than a multiple of 32
(archlib.hardware.latency.calnets.catalogue), which no configuration here uses (defaults;
held-out resolutions are multiples of 32; an overlap would be dropped and said). The defaults'
summary is also given apart for the architectures the factors saw (at another resolution) and
the others.
Nothing is skipped silently: a model the time budget or the measurement's bounds leave
out is listed with the reason. The host is a shared VM whose neighbours come and go, so every
configuration is measured in `--repeats` passes (minutes apart) and keeps its least disturbed
pass (the lowest median); the spread between passes, and between twins (one network registered
under two names, e.g. regnet_y_400mf and regnety_004), say how noisy the run was.
Prints the share within +-10% and +-20%, the worst cases,
the host's load before and after (the figures are only as quiet as the machine), and the
time a prediction takes. Measurements are stored like any other ($ARCHLIB_DB), so the app's
Hardware and Pareto pages show them beside their predictions.

Usage: python benchmarks/bench_predict.py [--threads 1] [--repeats 2] [--budget-s 2400] [--held-out 24]
       [--calibrate-budget 150] [--models a,b] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from typing import Any

import archlib
from archlib.errors import ArchlibError
from archlib.hardware import measure
from archlib.hardware.host import host_info
from archlib.hardware.latency import calibrate, predict
from archlib.hardware.store import Store
from archlib.latency_cli import factors_line

#: seconds of timed runs per measurement (after the warm-up)
MIN_RUN_TIME = 1.0


def held_out(n: int, seed: int = 11) -> list[tuple[str, dict[str, Any]]]:
    """`n` seeded configurations: a registered model with some of its scaling knobs moved."""
    r = random.Random(seed)
    names = [m for m in archlib.list_models() if archlib.analyze(m).totals()["macs"] < 6e9]
    out: list[tuple[str, dict[str, Any]]] = []
    while len(out) < n:
        name = r.choice(names)
        knobs: dict[str, Any] = {}
        for k in archlib.get_model(name).knobs:
            if k.kind not in ("int", "float") or k.lo is None or k.hi is None:
                continue
            if k.name == "resolution":
                knobs[k.name] = int(max(k.lo, min(k.hi, r.choice((128, 160, 192, 256, 288)))))
            elif k.name in ("width", "depth") and r.random() < 0.6:
                knobs[k.name] = round(max(k.lo, min(k.hi, r.uniform(0.5, 1.4))), 2)
            elif k.name in ("w0", "wa") and r.random() < 0.5:
                knobs[k.name] = round(k.default * r.uniform(0.8, 1.25), 1) if k.kind == "float" else \
                    int(8 * round(k.default * r.uniform(0.8, 1.25) / 8))
        try:
            a = archlib.analyze(name, **knobs)
        except ArchlibError:
            continue
        if a.totals()["macs"] < 8e9:
            out.append((name, knobs))
    return out


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_one(name: str, knobs: dict[str, Any], model: Any, threads: int, left_s: float,
            store: Store | None = None) -> dict[str, Any]:
    a = archlib.analyze(name, **knobs)
    t0 = time.perf_counter()
    p = predict.predict_analysis(a, model)
    pred_s = time.perf_counter() - t0
    row = {"model": name, "knobs": knobs, "macs": a.totals()["macs"], "predicted_ms": p.latency_ms,
           "predict_ms": 1e3 * pred_s}
    # a measurement takes a warm-up, MIN_RUN_TIME of runs and at least 4 runs: refuse what cannot fit the budget
    need = 1.5 * MIN_RUN_TIME + 8 * p.latency_ms / 1e3 + 2.0
    if need > left_s:
        return row | {"skipped": f"the time budget: about {need:.0f} s needed, {left_s:.0f} s left"}
    # the measurement's own up-front bound assumes a pessimistic rate (measure.SLOW_MACS_PER_S): allow it
    bound = 4 * a.totals()["macs"] / (measure.SLOW_MACS_PER_S["cpu"] * threads) + 10
    try:
        t = measure.measure_latency(name, knobs, threads=threads, min_run_time=MIN_RUN_TIME,
                                    max_seconds=min(600.0, max(60.0, bound, 12 * p.latency_ms / 1e3 + 10)))
    except ArchlibError as e:
        return row | {"skipped": str(e)}
    if store is not None:  # kept like any measurement: the Hardware and Pareto pages show it beside its prediction
        host = host_info("cpu") | {"torch_threads": threads}
        store.put(host, name, knobs, measure.settings(threads=threads, min_run_time=MIN_RUN_TIME), "latency",
                  t.as_dict())
    row |= {"measured_ms": t.median_ms, "iqr_ms": t.iqr_ms, "error": p.latency_ms / t.median_ms - 1}
    print(f"  {name} {knobs or ''}: predicted {p.latency_ms:.2f} ms, measured {t.median_ms:.2f} ms "
          f"({row['error']:+.1%})", file=sys.stderr, flush=True)
    return row


def least_disturbed(passes: list[dict[str, Any]]) -> dict[str, Any]:
    """One configuration's rows from several passes: the one with the lowest measured median, with every
    pass's median and their spread (max / min - 1)."""
    done = [r for r in passes if "error" in r]
    if not done:
        return passes[0]
    best = min(done, key=lambda r: r["measured_ms"])
    medians = [r["measured_ms"] for r in done]
    return best | {"passes_ms": medians, "spread": max(medians) / min(medians) - 1}


def twins(rows: list[dict[str, Any]]) -> list[tuple[str, str, float]]:
    """Pairs of registered models that are one network (equal analyses): their measured ratio - 1."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    out = []
    for r in rows:
        if "error" not in r or r["knobs"]:
            continue
        a = archlib.analyze(r["model"])
        key = (tuple((x.name, x.op, x.in_shape, x.out_shape) for x in a.rows), tuple(sorted(a.totals().items())))
        if key in seen:
            o = seen[key]
            hi, lo = max(o["measured_ms"], r["measured_ms"]), min(o["measured_ms"], r["measured_ms"])
            out.append((o["model"], r["model"], hi / lo - 1))
        else:
            seen[key] = r
    return out


def structure(name: str) -> tuple[Any, ...]:
    """A registered model's network at one resolution, names aside (twins share it)."""
    try:
        a = archlib.analyze(name, resolution=136)
    except (ArchlibError, TypeError):
        return (name,)
    return tuple((x.op, x.in_shape, x.out_shape, x.cost.params) for x in a.rows)


def catalogue_seen(model: Any) -> set[str]:
    """Registered models whose architecture (under any name) the model's network factors were fitted on."""
    names = [n.rsplit("@", 1)[0] for n in model.info.get("catalogue_networks", [])]
    keys = {structure(n) for n in names}
    return {m for m in archlib.list_models() if structure(m) in keys} if keys else set()


def summary(done: list[dict[str, Any]]) -> str:
    errs = [abs(r["error"]) for r in done]
    return (f"within ±10%: {sum(e <= 0.1 for e in errs) / len(errs):.0%} · within ±20%: "
            f"{sum(e <= 0.2 for e in errs) / len(errs):.0%} · median |error| {statistics.median(errs):.1%} · "
            f"mean error {statistics.mean(r['error'] for r in done):+.1%}")


def without_factors(rows: list[dict[str, Any]], model: Any) -> list[dict[str, Any]]:
    """The rows as the same calibration predicts them without its network factors (same measurements)."""
    base = model.without_factors()
    out = []
    for r in rows:
        if "error" in r:
            p = predict.predict_analysis(archlib.analyze(r["model"], **r["knobs"]), base).latency_ms
            out.append(r | {"predicted_ms": p, "error": p / r["measured_ms"] - 1})
    return out


def report(rows: list[dict[str, Any]], title: str, seen: set[str] = frozenset(), model: Any = None) -> None:
    done = [r for r in rows if "error" in r]
    print(f"\n## {title}: {len(done)} measured, {len(rows) - len(done)} skipped")
    print(f"{'model':<26} {'knobs':<34} {'MACs':>8} {'pred ms':>9} {'meas ms':>9} {'IQR':>7} {'error':>7}")
    for r in rows:
        knobs = ",".join(f"{k}={v}" for k, v in r["knobs"].items())[:34]
        if "error" in r:
            print(f"{r['model']:<26} {knobs:<34} {r['macs'] / 1e9:>7.2f}G {r['predicted_ms']:>9.2f} "
                  f"{r['measured_ms']:>9.2f} {r['iqr_ms']:>7.2f} {r['error']:>+7.1%}")
        else:
            print(f"{r['model']:<26} {knobs:<34} {r['macs'] / 1e9:>7.2f}G {r['predicted_ms']:>9.2f}   skipped: "
                  f"{r['skipped']}")
    if not done:
        return
    print(summary(done))
    if model is not None and "work_scale" in model.harness:
        plain = without_factors(done, model)
        closer = sum(abs(r["error"]) < abs(p["error"]) for r, p in zip(done, plain))
        print(f"  without the network factors (the same calibration and measurements): {summary(plain)}; "
              f"the factors brought {closer} of {len(done)} closer")
    if seen:
        for label, part in (("architectures the network factors saw at another resolution", True),
                            ("the other architectures", False)):
            some = [r for r in done if (r["model"] in seen) == part]
            if some:
                print(f"  {len(some)} {label}: {summary(some)}")
    worst = sorted(done, key=lambda r: -abs(r["error"]))[:5]
    print("worst: " + "; ".join(f"{r['model']} {r['knobs'] or ''} {r['error']:+.0%}" for r in worst))
    spreads = [r["spread"] for r in done if "spread" in r]
    if spreads:
        print(f"noise: the {len(spreads)} configurations' passes differed by a median "
              f"{statistics.median(spreads):.1%} (90th percentile {sorted(spreads)[int(0.9 * (len(spreads) - 1))]:.1%}; "
              f"{sum(x > 0.1 for x in spreads)} by more than 10%)")
    pairs = twins(rows)
    if pairs:
        print("twins (one network, two names; least disturbed passes): " + "; ".join(
            f"{a} / {b} {d:.1%}" for a, b, d in pairs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget-s", type=float, default=2400.0, help="seconds for all the measurements")
    ap.add_argument("--repeats", type=int, default=2, help="passes over every configuration (the least disturbed "
                    "is kept)")
    ap.add_argument("--held-out", type=int, default=24)
    ap.add_argument("--calibrate-budget", type=float, default=calibrate.DEFAULT_BUDGET_S)
    ap.add_argument("--models", default="", help="comma-separated subset (default: every registered model)")
    ap.add_argument("--json", default="", help="write the rows here too")
    args = ap.parse_args()
    store = Store()
    print(f"host load (1, 5, 15 min) at start: {load()}; database {store.path}")
    try:
        model = predict.load_model(store=store, threads=args.threads)
        print(f"using the stored latency model ({model.info.get('samples')} samples, "
              f"calibration took {model.info.get('wall_s')} s)")
    except calibrate.NotCalibrated:
        t0 = time.perf_counter()
        model = calibrate.calibrate(budget_s=args.calibrate_budget, store=store, threads=args.threads)
        print(f"calibrated in {time.perf_counter() - t0:.0f} s ({model.info['samples']} samples)")
    print(factors_line(model))
    names = args.models.split(",") if args.models else archlib.list_models()
    names.sort(key=lambda n: archlib.analyze(n).totals()["macs"])
    deadline = time.perf_counter() + args.budget_s
    timed = set(model.info.get("catalogue_networks", []))  # name@resolution, as the calibration fitted them
    others = held_out(args.held_out)
    kept = [(n, k) for n, k in others if set(k) - {"resolution"} or f"{n}@{k.get('resolution')}" not in timed]
    if len(kept) < len(others):
        print(f"dropped {len(others) - len(kept)} held-out configuration(s) the calibration timed")
    configs = [(n, {}) for n in names] + kept
    passes = [[run_one(n, k, model, args.threads, deadline - time.perf_counter(), store) for n, k in configs]
              for _ in range(max(1, args.repeats))]
    rows = [least_disturbed([p[i] for p in passes]) for i in range(len(configs))]
    defaults, others = rows[:len(names)], rows[len(names):]
    report(defaults, f"every registered model at its defaults ({args.threads} thread(s))", catalogue_seen(model), model)
    report(others, "configurations held out of the fit", model=model)
    times = [r["predict_ms"] for r in defaults + others]
    print(f"\nprediction time per model: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms; "
          f"host load at end: {load()}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"defaults": defaults, "held_out": others, "model": model.to_json()}, f, default=str)
    return 0 if all(math.isfinite(r["predicted_ms"]) for r in defaults) else 1


if __name__ == "__main__":
    sys.exit(main())
