"""Per-layer time from torch.profiler, joined with the per-layer MACs of the analysis.

Each leaf module of the built model is named like its analysis row (`s3.b1.dw.conv`), so
a forward pre/post hook pair opens a `record_function` under that name and the profiler's
averages come back keyed by row. `slowdown` = the layer's share of the time over its
share of the MACs: above 1 it runs slower than its MACs suggest (depthwise convolutions,
squeeze-and-excite and the elementwise ops that carry no MACs at all).
The hooks cost a few microseconds per layer: compare layers with each other, and take
end-to-end latency from archlib.hardware.measure.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import archlib
from archlib.core.cost import op_cost
from archlib.core.ir import Op
from archlib.core.knobs import Knob
from archlib.hardware import measure
from archlib.hardware.gate import admit

#: every class op_class returns, in the order the summary lists them
CLASSES = ("dense conv", "pointwise conv (1x1)", "group conv", "depthwise conv", "squeeze-excite",
           "linear / matmul", "attention (matmuls)", "other MACs", "elementwise (BN, act, add, pool)")
RUNS = Knob("runs", "int", 3, "profiled forward passes", lo=1, hi=50)


@dataclass
class LayerTime:
    name: str
    op: str
    op_class: str
    macs: int  # x batch
    time_ms: float  # per forward pass
    macs_share: float
    time_share: float

    @property
    def slowdown(self) -> float:
        """time share / MACs share (nan for layers with no MACs)."""
        return self.time_share / self.macs_share if self.macs_share > 0 else math.nan

    def as_dict(self) -> dict[str, Any]:
        return {"layer": self.name, "op": self.op, "class": self.op_class, "macs": self.macs,
                "time_ms": self.time_ms, "macs_share": self.macs_share, "time_share": self.time_share,
                "slowdown": self.slowdown,
                "macs_per_ms": self.macs / self.time_ms if self.time_ms > 0 else math.nan}


@dataclass
class OpProfile:
    """The profile of one configuration: per layer, per layer class and per torch operator."""

    model: str
    knobs: dict[str, Any]
    settings: dict[str, Any]
    runs: int
    layers: list[LayerTime]
    operators: list[dict[str, Any]]  # aten ops: name, calls per pass, self time per pass

    def by_class(self) -> list[dict[str, Any]]:
        return class_summary(self.layers)


def op_class(op: Op) -> str:
    """Which kind of layer an op is, for the time-vs-MACs comparison."""
    if ".se." in f".{op.name}." or op.name.startswith("se."):
        return "squeeze-excite"
    if op.kind == "conv2d":
        a = op.attrs
        if a["groups"] > 1 and a["groups"] == a["in_ch"]:
            return "depthwise conv"
        if a["groups"] > 1:
            return "group conv"
        return "pointwise conv (1x1)" if tuple(a["kernel"]) == (1, 1) else "dense conv"
    if op.kind in ("attention", "favor", "sdpa"):
        return "attention (matmuls)"
    if op.kind in ("linear", "matmul"):
        return "linear / matmul"
    if op_cost(op).macs:
        return "other MACs"  # an op kind added later: never file MACs under elementwise
    return "elementwise (BN, act, add, pool)"


def _label_modules(model: Any, names: set[str]) -> list[Any]:
    """Hooks that wrap every named leaf module's forward in record_function(name)."""
    from torch.autograd.profiler import record_function

    handles, stack = [], []

    def pre(name: str):
        def hook(_mod: Any, _inp: Any) -> None:
            rf = record_function(name)
            rf.__enter__()
            stack.append(rf)
        return hook

    def post(_mod: Any, _inp: Any, _out: Any) -> None:
        stack.pop().__exit__(None, None, None)

    for name, mod in model.named_modules():
        if name in names:
            handles.append(mod.register_forward_pre_hook(pre(name)))
            handles.append(mod.register_forward_hook(post))
    return handles


def _event_ms(e: Any, cuda: bool, runs: int, *, self_time: bool = False) -> float:
    if cuda:
        us = getattr(e, "self_device_time_total" if self_time else "device_time_total", 0.0)
    else:
        us = e.self_cpu_time_total if self_time else e.cpu_time_total
    return us / 1e3 / runs


def profile(name: str, knobs: Mapping[str, Any] | None = None, *, runs: int = 3, **given: Any) -> OpProfile:
    """Profile `runs` forward passes of `name` at `knobs` (settings as archlib.hardware.measure takes)."""
    import torch
    from torch.profiler import ProfilerActivity

    knobs, cfg, runs = dict(knobs or {}), measure.settings(**given), RUNS.parse(runs)
    analysis = archlib.analyze(name, **knobs)
    mem = measure.check_bounds(analysis, cfg)
    cuda = cfg["device"] == "cuda"
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with admit(mem["inference_total"], f"profiling {name}", device=cfg["device"]):
        model, x = measure.prepare(name, knobs, cfg)
        handles = _label_modules(model, {r.name for r in analysis.rows})
        try:
            with torch.inference_mode():
                for _ in range(2):
                    model(x)
                with torch.profiler.profile(activities=acts) as prof:
                    for _ in range(runs):
                        model(x)
                    if cuda:
                        torch.cuda.synchronize()
        finally:
            for h in handles:
                h.remove()
    events = {e.key: e for e in prof.key_averages()}
    return OpProfile(name, knobs, cfg, runs, _layers(analysis, events, cuda, runs, cfg["batch"]),
                     _operators(events.values(), cuda, runs))


def _layers(analysis: Any, events: Mapping[str, Any], cuda: bool, runs: int, batch: int) -> list[LayerTime]:
    times = {r.name: _event_ms(events[r.name], cuda, runs) if r.name in events else 0.0 for r in analysis.rows}
    total_t = sum(times.values()) or 1.0
    total_m = sum(r.cost.macs for r in analysis.rows) or 1
    return [LayerTime(r.name, r.op, op_class(op), r.cost.macs * batch, times[r.name],
                      r.cost.macs / total_m, times[r.name] / total_t)
            for r, op in zip(analysis.rows, analysis.ir.ops)]


def _operators(events: Iterable[Any], cuda: bool, runs: int, top: int = 25) -> list[dict[str, Any]]:
    rows = [{"operator": e.key, "calls": e.count / runs, "self_ms": _event_ms(e, cuda, runs, self_time=True)}
            for e in events if e.key.startswith("aten::")]
    rows.sort(key=lambda r: -r["self_ms"])
    return rows[:top]


def class_summary(layers: Iterable[LayerTime]) -> list[dict[str, Any]]:
    """Per layer class: MACs and time, their shares, MACs per ms and the slowdown."""
    acc: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for lt in layers:
        a = acc[lt.op_class]
        a[0] += lt.macs
        a[1] += lt.time_ms
        a[2] += lt.macs_share
        a[3] += lt.time_share
    out = []
    # every class seen is listed (known ones in CLASSES order): a layer never drops out of the summary
    for cls in sorted(acc, key=lambda c: (CLASSES.index(c) if c in CLASSES else len(CLASSES), c)):
        macs, ms, ms_share, t_share = acc[cls]
        out.append({"class": cls, "macs": int(macs), "time_ms": ms, "macs_share": ms_share,
                    "time_share": t_share, "macs_per_ms": macs / ms if ms > 0 else math.nan,
                    "slowdown": t_share / ms_share if ms_share > 0 else math.nan})
    return out


def family_throughput(measured: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """MACs per millisecond per measured configuration, with its family, from records holding
    model, knobs, batch and median_ms (as archlib.hardware.store returns them)."""
    out = []
    for m in measured:
        entry = archlib.get_model(m["model"])
        macs = archlib.analyze(m["model"], **m.get("knobs", {})).totals()["macs"] * m.get("batch", 1)
        out.append({"family": entry.family.name, "model": m["model"], "knobs": m.get("knobs", {}),
                    "macs": macs, "median_ms": m["median_ms"], "macs_per_ms": macs / m["median_ms"]})
    return sorted(out, key=lambda r: (r["family"], r["macs_per_ms"]))
