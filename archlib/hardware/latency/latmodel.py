"""A host's per-op latency model: op classes, their features, and the prediction (no torch).

Every IR op falls in a class (a dense, 1x1, depthwise or group convolution, a linear
layer, attention, an activation function, BN, a pool, ...) and has a few physically
meaningful features, each non-decreasing in every size of the op:
- `one`: the per-call overhead (dispatch, allocation of the output);
- `flops`: 2 x MACs x batch (the multiply-accumulate work);
- `flops_pad`: the same with channels padded to the vector width (VEC), which is how
  oneDNN's blocked kernels spend a convolution on 3 or 8 channels;
- `act_bytes`: input + output bytes; `w_bytes`: parameter and buffer bytes (read, and
  on the CPU reordered, every call);
- `far_bytes`: the bytes of the tensors of FAR_BYTES and more, which stream from memory
  rather than a cache (the fit otherwise learns a byte's cost from the many samples that
  fit in the cache, and under-predicts a network's large early feature maps);
- `scratch_bytes`: attention's score matrix (softmax) or random-feature maps (FAVOR+).
A class's time is a non-negative combination of its features (µs), fitted by
archlib.hardware.latency.calibrate on micro-benchmarks of that class on this host; non-negative
weights on non-decreasing features make a larger op never predicted faster.
The model's latency = the sum over ops + the framework's cost of running them as the
built module does (a call per op and per name group, and one per forward); on a CPU with
two network factors fitted on whole registered networks (the ops' work and their per-call
costs scaled: archlib.hardware.latency.calibrate.network_factors); on a GPU, the longer of
the launches and the kernels, which overlap (_overlapped).
An op kind no class covers (one an importer registered) is estimated from the roofline
of the measured peaks plus the median per-op overhead, and said so.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archlib.core.analysis import Analysis
from archlib.core.cost import op_cost
from archlib.core.ir import Op
from archlib.core.roofline import bound, dtype_bytes, op_traffic
from archlib.errors import ArchlibError

#: channels are padded to this many lanes (fp32 in a 512-bit vector: oneDNN's nChw16c blocks)
VEC = 16
#: tensors this large are allocated afresh by every call: glibc's malloc maps them (its largest mmap
#: threshold, 32 MiB on 64-bit), and the pages fault in again on each first touch
BIG_BYTES = 32 * 2 ** 20
#: tensors this large stream from memory rather than a cache: four times the development host's per-core L2
#: (1 MiB), an eighth of the 32 MiB L3 it shares with whatever else runs on the host
FAR_BYTES = 4 * 2 ** 20
#: batch x input elements up to which torch's CPU convolution takes its own im2col + GEMM path
#: (aten/src/ATen/native/Convolution.cpp, use_mkldnn: "for some case, native is faster")
GEMM_MAX_INPUT = 20480
CONV_FEATURES = ("one", "flops", "flops_pad", "act_bytes", "w_bytes", "far_bytes", "big_bytes")
ELEMENTWISE_FEATURES = ("one", "act_bytes", "far_bytes", "big_bytes")
CONV_CLASSES = ("conv_dense", "conv_1x1", "conv_dw", "conv_group")
ACTIVATIONS = ("relu", "relu6", "hardswish", "hardsigmoid", "sigmoid", "silu", "gelu")
#: the features of each class; a kind no class covers falls back to the roofline
CLASSES: dict[str, tuple[str, ...]] = {
    **{c: CONV_FEATURES for c in CONV_CLASSES}, **{f"{c}_gemm": CONV_FEATURES for c in CONV_CLASSES if c != "conv_dw"},
    "linear": ("one", "flops", "act_bytes", "w_bytes"),
    "linear_gemv": ("one", "flops", "act_bytes", "w_bytes"),
    "matmul": ("one", "flops", "act_bytes", "big_bytes"),
    "attention": ("one", "flops", "act_bytes", "scratch_bytes", "big_bytes"),
    "favor": ("one", "flops", "act_bytes", "scratch_bytes", "big_bytes"),
    **{f"act_{fn}": ELEMENTWISE_FEATURES for fn in ACTIVATIONS},
    **{k: ELEMENTWISE_FEATURES for k in ("bn2d", "layernorm", "add", "mul", "softmax", "adaptive_avgpool2d", "concat",
                                         "channel_shuffle", "cls_token", "pos_embed")},
    **{k: ("one", "act_bytes", "window_bytes", "far_bytes", "big_bytes") for k in ("maxpool2d", "avgpool2d")},
    "view": ("one",),
}
#: the network factors a CPU calibration fits (keys of LatencyModel.harness; 1 where absent)
FACTORS = ("work_scale", "launch_scale")
#: rows up to which a linear layer is a matrix-vector product, bound by reading its weights
GEMV_ROWS = 8
#: a class short of samples borrows its sibling's fit (the same op on the other kernel path or shape)
SIBLINGS = {**{f"{c}_gemm": c for c in CONV_CLASSES}, **{c: f"{c}_gemm" for c in CONV_CLASSES},
            "linear": "linear_gemv", "linear_gemv": "linear"}
#: op kinds that alias their input: one class, pure overhead
VIEW_KINDS = ("flatten", "dropout", "slice", "to_tokens", "take_token")
#: the feature that carries a class's work when only two features can be fitted
MAIN_FEATURE = {c: ("flops" if "flops" in f else f[1] if len(f) > 1 else f[0]) for c, f in CLASSES.items()}


def conv_path(op: Op, *, batch: int = 1, threads: int = 1, device: str = "cpu", dtype: str = "float32") -> str:
    """Which kernel torch runs a conv2d with: "gemm" (its own im2col + GEMM) or "mkldnn" (oneDNN);
    torch's CPU rule for float32 (use_mkldnn in Convolution.cpp), checked by a test with the profiler."""
    if device != "cpu" or dtype != "float32":
        return "mkldnn" if device == "cpu" else device
    a = op.attrs
    kh, kw = a["kernel"]
    one_by_one = (kh, kw) == (1, 1)
    c1 = tuple(a["stride"]) != (1, 1) or a["dilation"] != 1 or batch >= 16 or not one_by_one or threads > 1
    c2 = a["groups"] > 1 or (kh > 3 and kw > 3) or batch > 1 or batch * math.prod(op.in_shape) > GEMM_MAX_INPUT
    return "mkldnn" if c1 and c2 else "gemm"


def op_class(op: Op, *, batch: int = 1, threads: int = 1, device: str = "cpu", dtype: str = "float32") -> str | None:
    """The latency class of `op` run on `batch` samples with these settings; None for a kind no class covers."""
    kind, a = op.kind, op.attrs
    if kind == "conv2d":
        g = a["groups"]
        if g > 1:
            base = "conv_dw" if g == a["in_ch"] else "conv_group"
        else:
            base = "conv_1x1" if tuple(a["kernel"]) == (1, 1) else "conv_dense"
        gemm = conv_path(op, batch=batch, threads=threads, device=device, dtype=dtype) == "gemm"
        return f"{base}_gemm" if gemm and base != "conv_dw" else base
    if kind == "act":
        return f"act_{a['fn']}"
    if kind == "linear":
        return "linear_gemv" if batch * math.prod(op.in_shape[:-1]) <= GEMV_ROWS else "linear"
    if kind in VIEW_KINDS:
        return "view"
    return kind if kind in CLASSES else None


def _pad(c: int) -> int:
    return -(-c // VEC) * VEC


def _flops_pad(op: Op, batch: int) -> int:
    a = op.attrs
    oh_ow = math.prod(op.out_shape[1:])
    kh, kw = a["kernel"]
    if a["groups"] == a["in_ch"] and a["groups"] > 1:  # depthwise: vectorised across channels
        return 2 * batch * oh_ow * _pad(a["out_ch"]) * kh * kw
    g = a["groups"]
    return 2 * batch * oh_ow * g * _pad(a["in_ch"] // g) * _pad(a["out_ch"] // g) * kh * kw


def _scratch(op: Op, batch: int, s: int) -> int:
    n, a = op.out_shape[0], op.attrs
    if op.kind == "attention":
        return a["heads"] * n * n * batch * s
    return 2 * a["heads"] * n * a["features"] * batch * s


def _big(*sizes: int) -> float:
    return float(sum(b for b in sizes if b >= BIG_BYTES))


def _far(*sizes: int) -> float:
    return float(sum(b for b in sizes if b >= FAR_BYTES))


def features(op: Op, batch: int = 1, dtype: str = "float32") -> dict[str, float]:
    """The values of every feature `op` has, for a pass of `batch` samples in `dtype`."""
    s, c = dtype_bytes(dtype), op_cost(op)
    ins = [math.prod(shape) * batch * s for shape in op.in_shapes]
    out = math.prod(op.out_shape) * batch * s
    f = {"one": 1.0, "flops": 2.0 * c.macs * batch, "act_bytes": float(sum(ins) + out),
         "w_bytes": float((c.params + c.buffers) * s), "far_bytes": _far(*ins, out), "big_bytes": _big(*ins, out)}
    if op.kind == "conv2d":
        f["flops_pad"] = float(_flops_pad(op, batch))
    elif op.kind in ("attention", "favor"):
        scratch = _scratch(op, batch, s)
        f["scratch_bytes"], f["big_bytes"] = float(scratch), _big(*ins, out, scratch)
    elif op.kind in ("maxpool2d", "avgpool2d"):
        f["window_bytes"] = float(c.elementwise * batch * s)
    return f


@dataclass(frozen=True)
class ClassFit:
    """One class's fitted weights (µs per unit of each feature) and how well they fit."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    samples: int
    cv_error: float  # median |relative error| of cross-validated predictions of its samples
    cv_p90: float  # 90th percentile of the same

    def us(self, feats: Mapping[str, float]) -> float:
        return sum(w * feats.get(f, 0.0) for f, w in zip(self.features, self.coef))

    def overhead_us(self) -> float:
        return self.coef[self.features.index("one")] if "one" in self.features else 0.0


@dataclass(frozen=True)
class LatencyModel:
    """A calibrated model of one host and settings: per-class fits, the framework's
    overhead, and the host's measured peaks (ops/s and bytes/s)."""

    host: dict[str, Any]
    host_id: str
    settings: dict[str, Any]  # device, threads, dtype, backend, channels_last
    classes: dict[str, ClassFit]
    harness: dict[str, float]  # base_us, per_op_us, per_group_us, sync_us; work_scale, launch_scale (fitted)
    peaks: dict[str, float]  # matmul_flops, conv_flops, bandwidth (per second)
    info: dict[str, Any] = field(default_factory=dict)  # samples, wall_s, budget_s, complete, created, nets

    @property
    def peak_ops(self) -> float:
        return max(self.peaks["matmul_flops"], self.peaks["conv_flops"])

    @property
    def bandwidth(self) -> float:
        return self.peaks["bandwidth"]

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "host_id": self.host_id, "settings": self.settings,
                "classes": {k: {"features": list(c.features), "coef": list(c.coef), "samples": c.samples,
                                "cv_error": c.cv_error, "cv_p90": c.cv_p90} for k, c in self.classes.items()},
                "harness": self.harness, "peaks": self.peaks, "info": self.info}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LatencyModel:
        classes = {k: ClassFit(tuple(c["features"]), tuple(float(x) for x in c["coef"]), int(c["samples"]),
                               float(c["cv_error"]), float(c["cv_p90"])) for k, c in d["classes"].items()}
        return cls(dict(d["host"]), d["host_id"], dict(d["settings"]), classes, dict(d["harness"]),
                   dict(d["peaks"]), dict(d.get("info", {})))

    def without_factors(self) -> LatencyModel:
        """This model as its ops alone predict: without the network factors (calibrate.network_factors)."""
        return dataclasses.replace(self, harness={k: v for k, v in self.harness.items() if k not in FACTORS})

    def covering(self, cls: str | None) -> str | None:
        """The fitted class that predicts ops of class `cls`: itself, else its sibling on the other
        kernel path (a class the budget left with too few samples borrows its sibling's fit)."""
        if cls is None or cls in self.classes:
            return cls
        sibling = SIBLINGS.get(cls)
        return sibling if sibling in self.classes else None

    def fallback_overhead_us(self) -> float:
        """The median per-call overhead of the elementwise classes (for kinds no class covers)."""
        vals = [c.overhead_us() for k, c in self.classes.items() if CLASSES.get(k) == ELEMENTWISE_FEATURES]
        return statistics.median(vals) if vals else 0.0


@dataclass(frozen=True)
class LayerPrediction:
    name: str
    op: str
    op_class: str  # the latency class, or "roofline" where no class covers the kind
    predicted_ms: float
    overhead_ms: float  # the per-call part of predicted_ms (the class's constant + the framework's)
    bound: str  # compute | memory (by the roofline of the host's peaks) | overhead (a view)
    flops: int
    bytes: int
    intensity: float

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "class": self.op_class, "predicted_ms": self.predicted_ms,
                "overhead_ms": self.overhead_ms, "bound": self.bound, "flops": self.flops, "bytes": self.bytes,
                "intensity": None if math.isnan(self.intensity) else self.intensity}


def n_groups(a: Analysis) -> int:
    """Name groups the built module runs as modules of their own (every proper name prefix)."""
    return len({name.rsplit(".", k)[0] for name in (r.name for r in a.rows)
                for k in range(1, name.count(".") + 1)})


def predict_layers(model: LatencyModel, a: Analysis, *, batch: int = 1) -> tuple[list[LayerPrediction], float]:
    """Per-layer predictions and the framework overhead not owned by any layer (ms)."""
    dtype = model.settings["dtype"]
    per_op = model.harness["per_op_us"]
    # the network factors (calibrate.network_factors; 1 where none were fitted)
    ws, ls = model.harness.get("work_scale", 1.0), model.harness.get("launch_scale", 1.0)
    out = []
    where = {k: model.settings[k] for k in ("threads", "device", "dtype")}
    for op, row in zip(a.ir.ops, a.rows):
        t = op_traffic(op, row, batch=batch, dtype=dtype)
        cls = model.covering(op_class(op, batch=batch, **where))
        if cls is not None:
            fit = model.classes[cls]
            us, own = fit.us(features(op, batch, dtype)), fit.overhead_us()
        else:
            cls, own = "roofline", model.fallback_overhead_us()
            us = own + 1e6 * max(t.ops / model.peak_ops, t.bytes / model.bandwidth)
        b = bound(t.intensity, model.peak_ops, model.bandwidth)
        call = ls * (own + per_op)
        out.append(LayerPrediction(row.name, row.op, cls, (ws * (us - own) + call) / 1e3, call / 1e3, b, t.flops,
                                   t.bytes, t.intensity))
    rest = ls * (model.harness["base_us"] + n_groups(a) * model.harness["per_group_us"]) / 1e3
    if model.settings["device"] != "cpu":
        return _overlapped(out, rest, model.harness.get("sync_us", 0.0) / 1e3)
    return out, rest


def _overlapped(layers: list[LayerPrediction], rest: float, sync_ms: float = 0.0
                ) -> tuple[list[LayerPrediction], float]:
    """A GPU pass: the CPU launches kernels ahead of the GPU, so the pass takes the longer of the launches
    (every op's per-call cost and the framework's) and the kernels (every op's time less its per-call cost,
    which a micro-benchmark's back-to-back calls measure as the floor of a call). `sync_ms` is the
    synchronize each op's timing counted, where a calibration synchronised every call (none by default):
    a network's layers launch without one. Each layer's predicted_ms becomes its part of the longer one, so
    they still sum to the latency (with the framework's part when the launches are longer)."""
    launch = [max(0.0, lp.overhead_ms - sync_ms) for lp in layers]
    launches = sum(launch) + rest
    kernels = sum(lp.predicted_ms - lp.overhead_ms for lp in layers)
    if launches >= kernels:
        return [dataclasses.replace(lp, predicted_ms=t, overhead_ms=t) for lp, t in zip(layers, launch)], rest
    return [dataclasses.replace(lp, predicted_ms=lp.predicted_ms - lp.overhead_ms) for lp in layers], 0.0


def check_batch(batch: Any) -> int:
    if not (isinstance(batch, int) and not isinstance(batch, bool) and 1 <= batch <= 1024):
        raise ArchlibError(f"batch={batch!r} is not allowed: batch must be an integer in [1, 1024].")
    return batch
