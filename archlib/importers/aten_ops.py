"""The torch importer's vocabulary: each aten op it maps to an IR op kind, one handler each.

A handler returns False when this use of the op falls outside what the kind models (a
shared weight, a transposed convolution, a reduction over the batch): the op is then kept
as an `other` row with FlopCounterMode's MACs, like any op without a handler.
"""
from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import torch
from torch import fx

from archlib.core.tensor_ops import Batch, at_batch, mentions_batch, resolve
from archlib.importers.torch_module import Lowering, aten_name, template

Handler = Callable[[Lowering, fx.Node, dict[str, Any]], bool]
HANDLERS: dict[str, Handler] = {}
#: ops with several outputs (split, unbind): the handler notes how each item is lowered when read
MULTI: dict[str, Handler] = {}


def handles(*names: str, table: dict[str, Handler] = HANDLERS) -> Callable[[Handler], Handler]:
    """Register a handler for the aten ops `names` (by overload packet: "conv2d")."""
    def register(fn: Handler) -> Handler:
        for n in names:
            if n in table:
                raise ValueError(f"aten op {n!r} has two handlers")
            table[n] = fn
        return fn
    return register


def packet(node: fx.Node) -> str:
    """aten.conv2d.default -> "conv2d" ("" for what is not an aten op)."""
    target = node.target
    return target._overloadpacket.__name__ if isinstance(target, torch._ops.OpOverload) else ""


def arguments(node: fx.Node) -> dict[str, Any]:
    """The op's arguments by schema name, defaults filled in."""
    out: dict[str, Any] = {}
    for i, arg in enumerate(node.target._schema.arguments):
        if i < len(node.args):
            out[arg.name] = node.args[i]
        elif arg.name in node.kwargs:
            out[arg.name] = node.kwargs[arg.name]
        else:
            out[arg.name] = arg.default_value if arg.has_default_value() else None
    return out


def lower(L: Lowering, node: fx.Node) -> None:
    """Lower one call_function node into IR ops (none for shape arithmetic and assertions)."""
    val = node.meta.get("val")
    if node.target is operator.getitem:
        _getitem(L, node)
        return
    if isinstance(val, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in val):
        name = packet(node)
        if name in MULTI and MULTI[name](L, node, arguments(node)):
            return
        L.multi[node.name] = ("other", node)
        return
    if not isinstance(val, torch.Tensor):
        return
    name = packet(node)
    handler = HANDLERS.get(name) or HANDLERS.get(name.rstrip("_"))  # relu_ is relu
    if handler is None or not handler(L, node, arguments(node)):
        other(L, node)


# -- helpers -------------------------------------------------------------------
def _pair(v: Any) -> tuple[int, int]:
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    return (int(v[0]), int(v[-1])) if v else (0, 0)


def _sizes(L: Lowering, arg: fx.Node) -> tuple:
    return L.values[arg.name].sizes if arg.name in L.values else tuple(arg.meta["val"].shape)


def _is_tensor(arg: Any) -> bool:
    return isinstance(arg, fx.Node) and isinstance(arg.meta.get("val"), torch.Tensor)


def _nchw(L: Lowering, x: Any) -> bool:
    """A batched image tensor: (N, C, H, W) with the batch first."""
    if not (_is_tensor(x) and x.name in L.values):
        return False
    s = _sizes(L, x)
    return len(s) == 4 and s[0] == Batch(1) and not any(isinstance(d, Batch) for d in s[1:])


def _dim(d: int, rank: int) -> int:
    return d + rank if d < 0 else d


def _one(L: Lowering, node: fx.Node, kind: str, x: fx.Node, **attrs: Any) -> bool:
    L.emit(node, kind, [L.tensor(x, node)], **attrs)
    return True


# -- layers with weights ---------------------------------------------------------
@handles("conv2d")
def _conv2d(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    x, w, b = a["input"], a["weight"], a["bias"]
    if not (_nchw(L, x) and L.is_param(w) and w.meta["val"].dim() == 4):
        return False
    cout, cin_g, kh, kw = w.meta["val"].shape
    dil, pad = _pair(a["dilation"]), a["padding"]
    if isinstance(pad, str):
        if pad == "same" and ((kh - 1) * dil[0] % 2 or (kw - 1) * dil[1] % 2):
            return False  # asymmetric 'same' padding: not a plain Conv2d
        pad = (0, 0) if pad == "valid" else ((kh - 1) * dil[0] // 2, (kw - 1) * dil[1] // 2)
    shared = L.weights(weight=w, bias=b)
    if shared is None:
        return False
    return _one(L, node, "conv2d", x, in_ch=int(cin_g) * a["groups"], out_ch=int(cout), kernel=(int(kh), int(kw)),
                stride=_pair(a["stride"]), padding=_pair(pad), dilation=dil, groups=int(a["groups"]),
                bias=b is not None, **shared)


@handles("linear")
def _linear(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    x, w, b = a["input"], a["weight"], a["bias"]
    if not (_is_tensor(x) and L.is_param(w) and w.meta["val"].dim() == 2):
        return False
    out_f, in_f = w.meta["val"].shape
    shared = L.weights(weight=w, bias=b)
    if shared is None:
        return False
    return _one(L, node, "linear", x, in_f=int(in_f), out_f=int(out_f), bias=b is not None, **shared)


@handles("layer_norm")
def _layer_norm(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    x, w, b = a["input"], a["weight"], a["bias"]
    if w is None and b is not None:
        return False
    shared = L.weights(weight=w, bias=b)
    if shared is None:
        return False
    return _one(L, node, "layernorm", x, shape=tuple(int(d) for d in a["normalized_shape"]), eps=float(a["eps"]),
                affine=w is not None, bias=b is not None, **shared)


@handles("batch_norm")
def _batch_norm(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    x, stats = a["input"], (a["weight"], a["bias"], a["running_mean"], a["running_var"])
    if a["training"] or not _nchw(L, x) or any(t is None for t in stats):
        return False
    shared = L.weights(weight=stats[0], bias=stats[1], running_mean=stats[2], running_var=stats[3])
    if shared is None:
        return False
    prefix = L.places[stats[0].name][1].rpartition(".")[0]
    L.consumed.update(n for n, (_, path) in L.places.items() if path == f"{prefix}.num_batches_tracked")
    return _one(L, node, "bn2d", x, channels=int(stats[0].meta["val"].shape[0]), eps=float(a["eps"]),
                momentum=float(a["momentum"] if a["momentum"] is not None else 0.1), **shared)


# -- elementwise -------------------------------------------------------------------
_ACTS = {"relu": "relu", "hardswish": "hardswish", "hardsigmoid": "hardsigmoid", "sigmoid": "sigmoid",
         "silu": "silu"}


@handles(*_ACTS)
def _act(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    return _one(L, node, "act", a["self"], fn=_ACTS[packet(node).rstrip("_")])


@handles("gelu")
def _gelu(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    if a["approximate"] == "tanh":
        return _eltwise(L, node, "gelu_tanh", [a["self"]])
    return _one(L, node, "act", a["self"], fn="gelu")


@handles("hardtanh")
def _hardtanh(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    if (a["min_val"], a["max_val"]) == (0.0, 6.0):
        return _one(L, node, "act", a["self"], fn="relu6")
    return _eltwise(L, node, "clamp", [a["self"], a["min_val"], a["max_val"]])


@handles("add", "mul")
def _add_mul(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    x, y = a["self"], a["other"]
    fn = packet(node).rstrip("_")
    if a.get("alpha", 1) != 1:
        return False
    if _is_tensor(x) and _is_tensor(y):
        L.emit(node, fn, [L.tensor(x, node), L.tensor(y, node)])
        return True
    return _eltwise(L, node, fn, [x, y])


#: aten op -> (eltwise fn, the schema arguments it passes, in order)
_ELTWISE: dict[str, tuple[str, tuple[str, ...]]] = {
    **{n: (n, ("self",)) for n in ("sqrt", "rsqrt", "exp", "log", "neg", "abs", "tanh", "erf", "reciprocal",
                                   "floor", "ceil", "sin", "cos", "square", "mish")},
    "sub": ("sub", ("self", "other")), "div": ("div", ("self", "other")), "rsub": ("sub", ("other", "self")),
    "pow": ("pow", ("self", "exponent")), "maximum": ("maximum", ("self", "other")),
    "minimum": ("minimum", ("self", "other")), "clamp": ("clamp", ("self", "min", "max")),
    "clamp_min": ("clamp", ("self", "min")), "leaky_relu": ("leaky_relu", ("self", "negative_slope")),
    "softplus": ("softplus", ("self", "beta", "threshold")), "where": ("where", ("condition", "self", "other")),
}


@handles(*_ELTWISE)
def _elementwise(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    fn, names = _ELTWISE[packet(node).rstrip("_")]
    if a.get("alpha", 1) != 1 or a.get("rounding_mode") is not None:
        return False
    if fn == "pow" and "self" not in a:  # pow.Scalar: a number to a tensor power
        names = ("self", "exponent")
    return _eltwise(L, node, fn, [a.get(n) for n in names])


@handles("clamp_max")
def _clamp_max(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    return _eltwise(L, node, "clamp", [a["self"], None, a["max"]])


def _eltwise(L: Lowering, node: fx.Node, fn: str, args: list[Any]) -> bool:
    inputs: list[int | str] = []
    tmpl = tuple(template(L, v, inputs, node) for v in args)
    if not inputs:
        return False
    L.emit(node, "eltwise", inputs, fn=fn, args=tmpl)
    return True


@handles("softmax", "_softmax")
def _softmax(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    if a.get("dtype") is not None or a.get("half_to_float"):
        return False
    return _one(L, node, "softmax", a["self"], dim=int(a["dim"]))


@handles("dropout")
def _dropout(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    return _one(L, node, "dropout", a["input"], p=float(a["p"]))


# -- pooling and reductions ---------------------------------------------------------------
@handles("max_pool2d")
def _max_pool2d(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    if not _nchw(L, a["self"]):
        return False
    k = _pair(a["kernel_size"])
    return _one(L, node, "maxpool2d", a["self"], kernel=k, stride=_pair(a["stride"]) if a["stride"] else k,
                padding=_pair(a["padding"]), dilation=_pair(a["dilation"]), ceil_mode=bool(a["ceil_mode"]))


@handles("avg_pool2d")
def _avg_pool2d(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    if not _nchw(L, a["self"]) or a["divisor_override"] is not None:
        return False
    k = _pair(a["kernel_size"])
    return _one(L, node, "avgpool2d", a["self"], kernel=k, stride=_pair(a["stride"]) if a["stride"] else k,
                padding=_pair(a["padding"]), ceil_mode=bool(a["ceil_mode"]),
                count_include_pad=bool(a["count_include_pad"]))


@handles("adaptive_avg_pool2d")
def _adaptive_avg_pool2d(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    if not _nchw(L, a["self"]):
        return False
    return _one(L, node, "adaptive_avgpool2d", a["self"], out=_pair(a["output_size"]))


@handles("mean", "sum", "amax", "amin")
def _reduce(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    x, dims = a["self"], a.get("dim")
    if not _is_tensor(x) or not dims or a.get("dtype") is not None:
        return False
    sizes = _sizes(L, x)
    dims = tuple(sorted(_dim(int(d), len(sizes)) for d in dims))
    if any(isinstance(sizes[d], Batch) for d in dims):
        return False  # a reduction over the batch is not per sample
    return _one(L, node, "reduce", x, fn=packet(node), dims=dims, keepdim=bool(a["keepdim"]))


@handles("cat")
def _cat(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    xs = [t for t in a["tensors"] if _is_tensor(t)]
    rank = len(node.meta["val"].shape)
    L.emit(node, "concat", [L.tensor(t, node) for t in xs], dim=_dim(int(a["dim"]), rank))
    return True


# -- matmuls and attention ------------------------------------------------------------
@handles("matmul", "mm", "bmm")
def _matmul(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    x, y = a["self"], a.get("other", a.get("mat2"))
    if not (_is_tensor(x) and _is_tensor(y)) or min(x.meta["val"].dim(), y.meta["val"].dim()) < 2:
        return False
    inner = _sizes(L, x)[-1]
    if isinstance(inner, Batch):
        return False
    L.emit(node, "matmul", [L.tensor(x, node), L.tensor(y, node)], inner=int(inner))
    return True


@handles("scaled_dot_product_attention")
def _sdpa(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    q, k, v, mask = a["query"], a["key"], a["value"], a["attn_mask"]
    if any(isinstance(_sizes(L, t)[-1], Batch) for t in (q, k, v)):
        return False
    inputs = [L.tensor(t, node) for t in (q, k, v)]
    if _is_tensor(mask):
        inputs.append(L.tensor(mask, node))
    L.emit(node, "sdpa", inputs, is_causal=bool(a["is_causal"]), scale=a["scale"], dropout_p=float(a["dropout_p"]),
           enable_gqa=bool(a.get("enable_gqa")), mask=_is_tensor(mask))
    return True


def _getitem(L: Lowering, node: fx.Node) -> None:
    src, i = node.args
    spec = L.multi.get(getattr(src, "name", None))
    if spec is None or not isinstance(node.meta.get("val"), torch.Tensor):
        return
    how, data = spec
    if how == "other":  # the op runs once per item read; its MACs are counted on the first
        first = not any(n.name in L.values for n in src.users if n is not node)
        other(L, node, op=data, item=int(i), count=first)
        return
    how(L, node, data, int(i))


def other(L: Lowering, node: fx.Node, *, op: fx.Node | None = None, item: int | None = None,
          count: bool = True) -> None:
    """An op outside the vocabulary: kept as an `other` row with FlopCounterMode's MACs."""
    op = op or node
    inputs: list[int | str] = []
    args = tuple(template(L, v, inputs, op) for v in op.args)
    kwargs = tuple((k, template(L, v, inputs, op)) for k, v in op.kwargs.items())
    batch_ref = L.batch_ref(inputs, mentions_batch(args) or mentions_batch(tuple(v for _, v in kwargs)))
    macs = _count(L, op, args, kwargs, inputs) if count else 0
    L.emit(node, "other", inputs, base=aten_name(op), target=str(op.target), args=args, kwargs=kwargs,
           batch_ref=batch_ref, item=item, macs=macs)


def _count(L: Lowering, op: fx.Node, args: tuple, kwargs: tuple, inputs: list[int | str]) -> int:
    """FlopCounterMode's MACs (FLOPs / 2) of the op on meta tensors of one sample."""
    from torch.utils.flop_counter import FlopCounterMode

    tensors = [torch.empty(at_batch(L.sizes_of(r), 1), dtype=L.dtype_of(r), device="meta") for r in inputs]

    def runtime(what: str) -> Any:
        return torch.device("meta") if what == "device" else getattr(torch, what.rpartition(".")[2])

    real = [resolve(v, tensors=tensors, batch=1, runtime=runtime) for v in args]
    realkw = {k: resolve(v, tensors=tensors, batch=1, runtime=runtime) for k, v in kwargs}
    try:
        with FlopCounterMode(display=False) as fc:
            op.target(*real, **realkw)
    except Exception as e:  # noqa: BLE001  (keep the row; say its MACs could not be counted)
        L.notes.append(f"{op.target}: FlopCounterMode could not count it ({str(e).splitlines()[0][:120]}); "
                       "counted as 0 MACs.")
        return 0
    return math.ceil(fc.get_total_flops() / 2)

