"""The CLI's latency commands: `calibrate` (fit this host's model) and `predict` (use it).

Kept apart from archlib.cli so that the table formats live next to the commands they serve.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from archlib import api
from archlib.core.analysis import group_key, human
from archlib.errors import ArchlibError
from archlib.hardware.latency import calibrate, predict
from archlib.hardware.latency.latmodel import LatencyModel

#: settings `predict` takes beside the model's knobs
PREDICT_SETTINGS = ("device", "threads", "dtype", "channels_last", "batch")


def cmd_calibrate(args: argparse.Namespace, extra: list[str]) -> str:
    """Calibrate with progress on standard error; the fitted model's summary (or JSON) on standard output."""
    if extra:
        raise ArchlibError(f"unexpected argument {extra[0]!r} for calibrate; it takes --device, --threads, --dtype, "
                           "--channels-last, --budget-s, --fresh and --json.")
    budget = calibrate.BUDGET.parse_text(args.budget_s)  # ASCII digits only, as every number on the CLI
    from archlib.hardware import measure

    given = measure.parse_settings({"device": args.device, "threads": args.threads, "dtype": args.dtype})
    given["channels_last"] = args.channels_last
    last = [0.0]

    def progress(p: calibrate.Progress) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0 or p.message.startswith(("stopped", "the plan")):
            last[0] = now
            print(f"[{p.done:>4}/{p.total} {p.elapsed_s:5.0f} s of {p.budget_s:.0f} s] {p.message}", file=sys.stderr)

    model = calibrate.calibrate(budget_s=budget, fresh=args.fresh, on_progress=progress,
                                on_wait=lambda msg: print(msg, file=sys.stderr), **given)
    return json.dumps(model.to_json()) if args.json else format_model(model)


def format_model(m: LatencyModel) -> str:
    """A fitted model in words: its host, settings, peaks and each class's fit."""
    i, p = m.info, m.peaks
    state = ("the plan is complete" if i.get("complete") else
             f"{i.get('plan_done')} of the plan's {i.get('planned')} samples: run calibrate again to measure the rest")
    lines = [f"latency model of {m.host.get('cpu')} · torch {m.host.get('torch')} · {calibrate.describe(m.settings)} "
             f"(host {m.host_id})",
             f"{i.get('samples')} samples (this run took {i.get('wall_s')} s of a {i.get('budget_s'):g} s budget); "
             f"{state}.",
             f"peaks: matmul {p['matmul_flops'] / 1e9:.1f} GFLOP/s · conv {p['conv_flops'] / 1e9:.1f} GFLOP/s · "
             f"copy {p['bandwidth'] / 1e9:.1f} GB/s; ridge point {m.peak_ops / m.bandwidth:.1f} FLOP/byte",
             f"framework: {m.harness['base_us']:.1f} µs per forward, {m.harness['per_op_us']:.2f} µs per op, "
             f"{m.harness['per_group_us']:.2f} µs per module group"
             + (f"; each op timing's synchronize, {sync:.1f} µs, is left out of its launch" if
                (sync := m.harness.get("sync_us", 0.0)) else ""),
             factors_line(m),
             nets_line(i),
             f"{'class':<20} {'samples':>7} {'CV error':>9} {'p90':>6}  per-call µs"]
    for name, c in sorted(m.classes.items()):
        lines.append(f"{name:<20} {c.samples:>7} {c.cv_error:>8.1%} {c.cv_p90:>6.0%}  {c.overhead_us():.1f}")
    return "\n".join(lines)


def factors_line(m: LatencyModel) -> str:
    """The network factors in words: fitted on how many catalogue networks, and how they changed its error."""
    i = m.info
    if "work_scale" not in m.harness:
        why = ("a GPU's pass is the longer of its launches and its kernels instead" if m.settings["device"] != "cpu"
               else f"fewer than {calibrate.CATALOGUE_MIN} catalogue networks timed: calibrate again (it resumes)")
        return f"network factors: none ({why})."
    return (f"network factors, fitted on {i.get('catalogue')} registered networks at resolutions no default uses: "
            f"work x{m.harness['work_scale']:.3f}, per-call costs x{m.harness['launch_scale']:.3f}"
            + (" (clipped to the allowed range)" if i.get("catalogue_clipped") else "")
            + f"; their median |error| {i.get('catalogue_error_before', 0):.1%} -> {i.get('catalogue_error_after', 0):.1%}")


def nets_line(info: Mapping[str, Any]) -> str:
    """How the model predicts the timed calibration networks (random networks it was not fitted on)."""
    if not info.get("nets"):
        return "check: no calibration network timed yet (calibrate again: they are part of the plan)."
    return (f"check on {info['nets']} small random networks it was not fitted on: {info['nets_within_10']:.0%} "
            f"within ±10%, {info['nets_within_20']:.0%} within ±20%, median |error| {info['nets_median_error']:.1%}, "
            f"mean {info.get('nets_mean_error', 0):+.1%}")


def cmd_predict(args: argparse.Namespace, pairs: Mapping[str, str], given: Mapping[str, Any] | None = None) -> str:
    """Predicted latency of a model on this host: the JSON contract, or a per-layer table; `given`:
    typed extras such as an ONNX file's input shape."""
    from archlib.core import registry
    from archlib.hardware import measure

    settings = measure.parse_settings({k: v for k, v in pairs.items() if k in PREDICT_SETTINGS})
    knobs = registry.get(args.model).parse_text({k: v for k, v in pairs.items() if k not in PREDICT_SETTINGS})
    batch = settings.pop("batch", 1)
    a = api.analyze(args.model, **knobs, **dict(given or {}))
    settings.setdefault("threads", 1)
    p = predict.predict(a, batch=batch, **settings)
    return json.dumps(p.to_json()) if args.json else format_prediction(p, args.level)


def format_prediction(p: predict.Prediction, level: str | int = "op") -> str:
    """Per layer (or group): predicted ms, share, bound and intensity; then the totals."""
    a, m = p.analysis, p.model
    head = f"{'name':<34} {'op':<16} {'pred. ms':>9} {'share':>6} {'bound':<8} {'FLOP/B':>7}"
    lines = [f"{a.model}  {a.config}  batch {p.batch}", head, "-" * len(head)]
    if level == "op":
        for lp in p.layers:
            ai = "" if lp.intensity != lp.intensity else f"{lp.intensity:.1f}"
            lines.append(f"{lp.name[:34]:<34} {lp.op:<16} {lp.predicted_ms:>9.3f} "
                         f"{lp.predicted_ms / p.latency_ms:>6.1%} {lp.bound:<8} {ai:>7}")
    else:
        groups: dict[str, float] = defaultdict(float)
        for lp in p.layers:
            groups[group_key(lp.name, level)] += lp.predicted_ms
        for name, ms in groups.items():
            lines.append(f"{name[:34]:<34} {'':<16} {ms:>9.3f} {ms / p.latency_ms:>6.1%}")
    share = defaultdict(float)
    for lp in p.layers:
        share[lp.bound] += lp.predicted_ms
    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(m.info.get("created", 0)))
    lines += ["-" * len(head),
              f"predicted latency {p.latency_ms:.3f} ms on {m.host.get('cpu')} ({calibrate.describe(m.settings)}), "
              f"batch {p.batch}; calibrated {created} ({m.info.get('samples')} samples)",
              f"framework overhead {p.framework_ms:.3f} ms; compute-bound layers {share['compute']:.2f} ms, "
              f"memory-bound {share['memory']:.2f} ms, views {share['overhead']:.2f} ms",
              f"MACs {human(a.totals()['macs'] * p.batch)} · {human(a.totals()['macs'] * p.batch / p.latency_ms)} "
              "MACs per ms predicted"]
    return "\n".join(lines)
