"""Op kinds of imported graphs (archlib.importers): layout views, elementwise maths,
reductions, fused attention, learned tensors read directly, and `other`.

A family's ops know their batch from the per-sample shapes alone; an imported graph's do
not (nn.MultiheadAttention folds the batch into the heads: `(N*H, L, dh)`). So sizes in
these ops' attributes are written as traced, batch axis included, with `Batch(k)` for a
size of k x the batch; a built module finds the batch N as `numel // unit` of the input
named by `batch_ref = (input index, per-sample numel)`. Shapes in the IR stay per sample:
a size of exactly N is dropped, k x N is k (so numel(shape) is the per-sample count).

Kinds added here, their costs in archlib.core.cost's conventions:
- `param`     a learned tensor (or buffer) that ops read directly: its elements as params
              (or buffers); no activation memory.
- `reshape`, `permute`, `expand`, `select`, `narrow`, `identity`: views, no cost.
- `pad`       constant padding (a copy, no arithmetic).
- `eltwise`   elementwise maths outside `act` (sub, div, pow, sqrt, erf, clamp, ...):
              one elementwise per output element.
- `reduce`    mean/sum/max/min over axes: one elementwise per element read.
- `sdpa`      scaled-dot-product attention on q (.., Lq, dq), k (.., Lk, dq), v (.., Lk, dv):
              macs = heads Lq Lk (dq + dv) (Q K^T and A V), as FlopCounterMode counts it;
              its softmax and scale are elementwise; the H Lq Lk scores are activations.
- `other`     an op outside this vocabulary, kept with the MACs FlopCounterMode counts for
              it (attrs `macs`); listed as not modelled, never dropped.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from archlib.core.cost import OpCost, plain, register_kind
from archlib.core.ir import Op


class Batch(NamedTuple):
    """A size of k x the batch N, in an imported op's attributes."""

    k: int

    def __str__(self) -> str:
        return f"{self.k}N" if self.k != 1 else "N"


class Ref(NamedTuple):
    """In an argument template: the op's input tensor number `index`."""

    index: int


class Runtime(NamedTuple):
    """In an argument template: a value known only when the built module runs ("device")."""

    what: str


Size = int | Batch


def per_sample(sizes: Sequence[Size]) -> tuple[int, ...]:
    """The per-sample shape of traced sizes: a size of exactly N is dropped, k x N is k."""
    return tuple(s.k if isinstance(s, Batch) else int(s) for s in sizes
                 if not (isinstance(s, Batch) and s.k == 1))


def has_batch(sizes: Sequence[Any]) -> bool:
    return any(isinstance(s, Batch) for s in sizes)


#: elementwise functions the `eltwise` kind knows (the built module maps each to torch)
ELTWISE = ("add", "sub", "mul", "div", "pow", "sqrt", "rsqrt", "exp", "log", "neg", "abs", "tanh", "erf",
           "reciprocal", "maximum", "minimum", "clamp", "leaky_relu", "elu", "softplus", "gelu_tanh",
           "hard_sigmoid", "where", "floor", "ceil", "sin", "cos", "square", "mish", "prelu")
REDUCTIONS = ("mean", "sum", "amax", "amin", "prod")
VIEWS = ("reshape", "permute", "expand", "select", "narrow", "identity")


def _param(op: Op) -> OpCost:
    n = math.prod(op.attrs["shape"])
    role = op.attrs.get("role", "param")
    return OpCost(n if role == "param" else 0, n if role == "buffer" else 0, 0, 0, 0, n, 0)


def _reduce(op: Op) -> OpCost:
    return plain(op, elementwise=math.prod(op.in_shape))


def _eltwise(op: Op) -> OpCost:
    return plain(op, elementwise=math.prod(op.out_shape))


def _sdpa(op: Op) -> OpCost:
    q, k, v = op.in_shapes[:3]
    heads, lq, lk = math.prod(q[:-2]), q[-2], k[-2]
    scores = heads * lq * lk
    macs = scores * (q[-1] + v[-1])
    out = math.prod(op.out_shape)
    return OpCost(0, 0, macs, scores + math.prod(q), scores + out, out, 0)


def _other(op: Op) -> OpCost:
    macs, out = op.attrs.get("macs", 0), math.prod(op.out_shape)
    return OpCost(0, 0, macs, 0, out if macs else 0, out, macs)


_LEAVES = "archlib.views.tensor_leaves"
register_kind("param", _param, f"{_LEAVES}:param", view=True)
for _name in VIEWS:
    register_kind(_name, plain, f"{_LEAVES}:{_name}", view=True)
register_kind("pad", plain, f"{_LEAVES}:pad")
register_kind("eltwise", _eltwise, f"{_LEAVES}:eltwise")
register_kind("reduce", _reduce, f"{_LEAVES}:reduce")
register_kind("sdpa", _sdpa, f"{_LEAVES}:sdpa")
register_kind("other", _other, f"{_LEAVES}:other", fvcore="other")


def not_modelled(ops: Sequence[Op]) -> dict[str, int]:
    """The operators of `other` ops, with how many rows each has (the "not modelled" note)."""
    out: dict[str, int] = {}
    for op in ops:
        if op.kind == "other":
            out[op.attrs["target"]] = out.get(op.attrs["target"], 0) + 1
    return out


def at_batch(sizes: Sequence[Any], n: int) -> tuple[int, ...]:
    """Traced sizes at batch `n` (Batch(k) -> k n)."""
    return tuple(s.k * n if isinstance(s, Batch) else int(s) for s in sizes)


def resolve(value: Any, *, tensors: Sequence[Any], batch: int, runtime: Any) -> Any:
    """An argument template made concrete: Ref(i) -> tensors[i], Batch(k) -> k x batch,
    Runtime(what) -> runtime(what); tuples element by element."""
    if isinstance(value, Ref):
        return tensors[value.index]
    if isinstance(value, Batch):
        return value.k * batch
    if isinstance(value, Runtime):
        return runtime(value.what)
    if isinstance(value, tuple):
        return [resolve(v, tensors=tensors, batch=batch, runtime=runtime) for v in value]
    return value


def mentions_batch(value: Any) -> bool:
    """True when a template holds a Batch size anywhere."""
    if isinstance(value, Batch):
        return True
    return isinstance(value, tuple) and not isinstance(value, (Ref, Runtime)) and any(map(mentions_batch, value))
