"""The ONNX importer's pooling, reductions and layout ops (reshapes, transposes, slices, concat)."""
from __future__ import annotations

import numpy as np
import onnx

from archlib.core.tensor_ops import Batch
from archlib.importers.onnx_file import attrs_of
from archlib.importers.onnx_nodes import _dim, _in, _one_output, _pads, _plain
from archlib.importers.onnx_ops import OnnxLowering, Unsupported, handles, scope_of

N = onnx.NodeProto


# -- pooling and reductions ---------------------------------------------------------
@handles("MaxPool", "AveragePool")
def _pool(L: OnnxLowering, i: int, node: N) -> None:
    _one_output(L, node)
    a = attrs_of(node)
    k = tuple(a["kernel_shape"])
    if len(k) != 2 or len(L.sizes(node.input[0])) != 4:
        raise Unsupported("archlib models 2-D pooling over (N, C, H, W)")
    s, d = tuple(a.get("strides", (1, 1))), tuple(a.get("dilations", (1, 1)))
    t, left, bottom, right = _pads(a, node, L, k, s, d)
    if (t, left) != (bottom, right):
        raise Unsupported("its padding is not the same on both sides")
    common = {"kernel": k, "stride": s, "padding": (t, left), "ceil_mode": bool(a.get("ceil_mode", 0))}
    if node.op_type == "MaxPool":
        return _plain(L, i, node, "maxpool2d", dilation=d, **common)
    if d != (1, 1):
        raise Unsupported("a dilated average pool")
    _plain(L, i, node, "avgpool2d", count_include_pad=bool(a.get("count_include_pad", 0)), **common)


@handles("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(L: OnnxLowering, i: int, node: N) -> None:
    if len(L.sizes(node.input[0])) != 4:
        raise Unsupported("archlib models global pooling over (N, C, H, W)")
    if node.op_type == "GlobalAveragePool":
        return _plain(L, i, node, "adaptive_avgpool2d", out=(1, 1))
    _plain(L, i, node, "reduce", fn="amax", dims=(2, 3), keepdim=True)


_REDUCE = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "amax", "ReduceMin": "amin"}


@handles(*_REDUCE)
def _reduce(L: OnnxLowering, i: int, node: N) -> None:
    a = attrs_of(node)
    xs = L.sizes(node.input[0])
    if _in(node, 1):
        if node.input[1] not in L.consts:
            raise Unsupported("its axes are not constants")
        axes = [int(v) for v in L.consts[node.input[1]].ravel()]
    else:
        axes = list(a.get("axes", []))
    if not axes:
        if a.get("noop_with_empty_axes", 0):
            return _plain(L, i, node, "identity")
        axes = list(range(len(xs)))
    dims = tuple(sorted(_dim(d, len(xs)) for d in axes))
    if any(isinstance(xs[d], Batch) for d in dims):
        raise Unsupported("it reduces over the batch axis")
    _plain(L, i, node, "reduce", fn=_REDUCE[node.op_type], dims=dims, keepdim=bool(a.get("keepdims", 1)))


# -- layout ---------------------------------------------------------------------
@handles("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Expand")
def _reshape(L: OnnxLowering, i: int, node: N) -> None:
    x = node.input[0]
    ref = L.value(x, node, i)
    out = L.sizes(node.output[0], ref in L.from_input)
    if out == L.sizes_of[ref]:
        return _plain(L, i, node, "identity")
    inputs = [ref]
    batch = L.batch_ref(inputs, any(isinstance(s, Batch) for s in out))
    kind = "expand" if node.op_type == "Expand" else "reshape"
    L.emit(i, node, kind, inputs, node.output[0], sizes=out, shape=out, batch_ref=batch)


@handles("Transpose")
def _transpose(L: OnnxLowering, i: int, node: N) -> None:
    rank = len(L.sizes(node.input[0]))
    perm = tuple(int(p) for p in attrs_of(node).get("perm", range(rank - 1, -1, -1)))
    if perm == tuple(range(rank)):
        return _plain(L, i, node, "identity")
    _plain(L, i, node, "permute", dims=perm)


@handles("Concat")
def _concat(L: OnnxLowering, i: int, node: N) -> None:
    rank = len(L.sizes(node.output[0]))
    inputs = [L.value(n, node, i) for n in node.input if n]
    L.emit(i, node, "concat", inputs, node.output[0], dim=_dim(int(attrs_of(node)["axis"]), rank))


@handles("Split")
def _split(L: OnnxLowering, i: int, node: N) -> None:
    xs = L.sizes(node.input[0])
    axis = _dim(int(attrs_of(node).get("axis", 0)), len(xs))
    if isinstance(xs[axis], Batch):
        raise Unsupported("it splits the batch axis")
    ref = L.value(node.input[0], node, i)
    _, base = scope_of(node, i)
    start = 0
    for j, out in enumerate(node.output):
        size = L.s1[out][axis]
        if out:
            L.emit(i, node, "narrow", [ref], out, base=f"{base}_{j}", dim=axis, start=start, stop=start + size, step=1)
        start += size


@handles("Slice")
def _slice(L: OnnxLowering, i: int, node: N) -> None:
    xs = L.sizes(node.input[0])
    if any(n and n not in L.consts for n in node.input[1:]):
        raise Unsupported("its starts, ends, axes or steps are not constants")
    starts, ends = (L.consts[n].ravel() for n in node.input[1:3])
    axes = L.consts[node.input[3]].ravel() if _in(node, 3) else np.arange(len(starts))
    steps = L.consts[node.input[4]].ravel() if _in(node, 4) else np.ones(len(starts), int)
    ref = L.value(node.input[0], node, i)
    cuts = []
    for s, e, ax, st in zip(starts, ends, axes, steps):
        ax = _dim(int(ax), len(xs))
        full = L.s1[node.input[0]][ax]
        lo, hi, step = slice(int(s), int(e), int(st)).indices(full)
        if (lo, hi, step) == (0, full, 1):
            continue
        if isinstance(xs[ax], Batch):
            raise Unsupported("it slices the batch axis")
        cuts.append((ax, lo, hi, step))
    if not cuts:
        return _plain(L, i, node, "identity")
    _, base = scope_of(node, i)
    for j, (ax, lo, hi, step) in enumerate(cuts):
        last = j == len(cuts) - 1
        out = node.output[0] if last else f"{node.output[0]}#{j}"
        sizes = None if last else _cut(L.sizes_of[ref], ax, lo, hi, step)
        ref = L.emit(i, node, "narrow", [ref], out, base=base if last else f"{base}_{j}", sizes=sizes, dim=ax,
                     start=lo, stop=hi, step=step)


def _cut(sizes: tuple, ax: int, lo: int, hi: int, step: int) -> tuple:
    return (*sizes[:ax], len(range(lo, hi, step)), *sizes[ax + 1:])


@handles("Gather")
def _gather(L: OnnxLowering, i: int, node: N) -> None:
    data, idx = node.input[:2]
    if idx not in L.consts:
        raise Unsupported("its indices are not constants")
    xs = L.sizes(data, data not in L.weights)
    axis = _dim(int(attrs_of(node).get("axis", 0)), len(xs))
    if isinstance(xs[axis], Batch):
        raise Unsupported("it gathers along the batch axis")
    ind = L.consts[idx].astype(np.int64)
    ind = np.where(ind < 0, ind + xs[axis], ind)
    if ind.ndim == 0:
        return _plain(L, i, node, "select", dim=axis, index=int(ind))
    steps = np.diff(ind.ravel())
    if ind.ndim == 1 and (len(ind) == 1 or (steps[0] > 0 and (steps == steps[0]).all())):
        step = int(steps[0]) if len(ind) > 1 else 1
        return _plain(L, i, node, "narrow", dim=axis, start=int(ind[0]), stop=int(ind[-1]) + 1, step=step)
    raise Unsupported("it gathers indices that are not an evenly spaced run")


@handles("Pad")
def _pad(L: OnnxLowering, i: int, node: N) -> None:
    a = attrs_of(node)
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = L.consts.get(node.input[1]) if _in(node, 1) else np.asarray(a.get("pads", []))
    if pads is None or _in(node, 3) or mode not in ("constant", "reflect", "edge"):
        raise Unsupported("archlib models constant, reflect or edge padding by constant amounts on every axis")
    pads = [int(p) for p in pads.ravel()]
    rank = len(pads) // 2
    torch_pads: list[int] = []
    for ax in reversed(range(rank)):  # torch: last axis first, (begin, end) pairs
        torch_pads += [pads[ax], pads[ax + rank]]
    while torch_pads and torch_pads[-2:] == [0, 0]:
        torch_pads = torch_pads[:-2]
    value = L.scalar(node.input[2]) if _in(node, 2) else 0.0
    _plain(L, i, node, "pad", pads=tuple(torch_pads), mode={"edge": "replicate"}.get(mode, mode),
           value=float(value or 0.0))
