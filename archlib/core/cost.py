"""Analytic per-op cost: the counting conventions of archlib, written once.

Conventions (say which, everywhere):
- **macs**: multiply-accumulates of conv2d, linear and matmul ops only (SE's 1x1 convs and
  attention matmuls included; bias additions excluded). This is what papers call
  "FLOPs" or "Mult-Adds", torchvision's `GFLOPS` and fvcore's `flops`.
- **flops** = 2 x macs (what `torch.utils.flop_counter.FlopCounterMode` reports).
- **elementwise**: ops outside the MACs, never mixed into them: one per output element of
  BN, LayerNorm, activations, residual adds, SE scales, softmax and bias additions; one
  per window element read by pooling (k*k per output of a max/avg pool, every input
  element of an adaptive average pool).
- **activations**: output elements of conv2d, linear and matmul ops (RegNet's definition).
- **params**: trainable parameters; **buffers** (BN running statistics and counters) apart.
- **fvcore**: what fvcore's `FlopCountAnalysis` counts with its default handles: macs,
  plus 2 per element of an eval-mode affine BatchNorm, 5 per element of an affine
  LayerNorm and 1 per input element of an adaptive average pool.
All counts are per sample (batch 1).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from archlib.core.ir import Op
from archlib.errors import ArchlibError


class OpCost(NamedTuple):
    """Cost of one op, per sample (a NamedTuple: thousands are made per analysis)."""

    params: int
    buffers: int
    macs: int
    elementwise: int
    activations: int
    out_elems: int
    fvcore: int

    @property
    def flops(self) -> int:
        return 2 * self.macs


@dataclass(frozen=True)
class OpKind:
    """Everything archlib knows of one op kind, registered once (fvcore's handle table, widened).

    `cost` gives the op's analytic cost; `fvcore` is the operator name fvcore reports for it
    (None: fvcore counts nothing); `view` says its output aliases its input (no memory);
    `module` names the factory of its torch leaf module as "package.module:function" taking
    the op's attrs, resolved only when a model is built, so the core never imports torch.
    `memory` gives (elements the op holds while it runs beyond its output, elements it keeps
    for the backward pass beyond its output); None: both are its matmul outputs beyond its
    output (activations - out_elems).
    """

    name: str
    cost: Callable[[Op], OpCost]
    module: str
    fvcore: str | None = None
    view: bool = False
    memory: Callable[[Op], tuple[int, int]] | None = None


#: every op kind, by name; families, attention and the importers add theirs with register_kind
KINDS: dict[str, OpKind] = {}


def register_kind(name: str, cost: Callable[[Op], OpCost], module: str, *, fvcore: str | None = None,
                  view: bool = False, memory: Callable[[Op], tuple[int, int]] | None = None) -> OpKind:
    """Register op kind `name`; registering a name twice raises."""
    if name in KINDS:
        raise ValueError(f"op kind {name!r} is registered twice")
    KINDS[name] = kind = OpKind(name, cost, module, fvcore, view, memory)
    return kind


def get_kind(name: str) -> OpKind:
    """The registered op kind `name`; an unknown name raises with the known ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise ArchlibError(f"unknown op kind {name!r}; known kinds: {', '.join(sorted(KINDS))}.") from None


def op_cost(op: Op) -> OpCost:
    """The analytic cost of `op` (no tensor is allocated)."""
    return KINDS[op.kind].cost(op)


def extra_memory(op: Op, cost: OpCost) -> tuple[int, int]:
    """(elements `op` holds while it runs beyond its output, elements it keeps for the backward
    pass beyond its output), per sample; see OpKind.memory."""
    kind = KINDS[op.kind]
    if kind.memory is not None:
        return kind.memory(op)
    extra = max(0, cost.activations - cost.out_elems)
    return extra, extra


def is_view(kind: str) -> bool:
    """True when ops of `kind` allocate nothing (their output is a view of, or is, the input)."""
    return KINDS[kind].view


def plain(op: Op, *, params: int = 0, buffers: int = 0, elementwise: int = 0) -> OpCost:
    """The cost of an op without MACs: its parameters, buffers and elementwise work."""
    return OpCost(params, buffers, 0, elementwise, 0, math.prod(op.out_shape), 0)


# -- the built-in kinds --------------------------------------------------------
def _own(op: Op, **sizes: int) -> int:
    """Parameters an op holds, less those it shares with an earlier op (an imported graph whose
    weight tensor is read by several ops lists them in `shared`: each is counted once)."""
    shared = op.attrs.get("shared")
    if not shared:
        return sum(sizes.values())
    return sum(n for name, n in sizes.items() if name not in shared)


def _conv2d(op: Op) -> OpCost:
    a, out = op.attrs, math.prod(op.out_shape)
    kh, kw = a["kernel"]
    per_out = a["in_ch"] // a["groups"] * kh * kw
    macs = out * per_out
    bias = out if a["bias"] else 0
    params = _own(op, weight=a["out_ch"] * per_out, bias=a["out_ch"] if a["bias"] else 0)
    return OpCost(params, 0, macs, bias, out, out, macs)


def _linear(op: Op) -> OpCost:
    a, out = op.attrs, math.prod(op.out_shape)
    macs = out * a["in_f"]
    params = _own(op, weight=a["in_f"] * a["out_f"], bias=a["out_f"] if a["bias"] else 0)
    return OpCost(params, 0, macs, out if a["bias"] else 0, out, out, macs)


def _matmul(op: Op) -> OpCost:
    out = math.prod(op.out_shape)
    macs = out * op.attrs["inner"]
    return OpCost(0, 0, macs, 0, out, out, macs)


def _bn2d(op: Op) -> OpCost:
    c, out = op.attrs["channels"], math.prod(op.out_shape)
    return OpCost(_own(op, weight=c, bias=c), _own(op, running_mean=c, running_var=c) + 1, 0, out, 0, out, 2 * out)


def _layernorm(op: Op) -> OpCost:
    """LayerNorm over the last `dim` elements, or over the trailing `shape` (an imported one);
    `affine` / `bias` False drop the scale / shift (fvcore then counts 4 per element, not 5)."""
    a, out = op.attrs, math.prod(op.out_shape)
    n = math.prod(a["shape"]) if "shape" in a else a["dim"]
    affine = a.get("affine", True)
    params = _own(op, weight=n if affine else 0, bias=n if affine and a.get("bias", True) else 0)
    return OpCost(params, 0, 0, out, 0, out, (5 if affine else 4) * out)


def _window_pool(op: Op) -> OpCost:
    k = op.attrs["kernel"]
    window = k * k if isinstance(k, int) else math.prod(k)  # square (families) or (kh, kw) (imported)
    return plain(op, elementwise=math.prod(op.out_shape) * window)


def _adaptive_avgpool(op: Op) -> OpCost:
    reads = math.prod(op.in_shape)
    return OpCost(0, 0, 0, reads, 0, math.prod(op.out_shape), reads)


def _per_output(op: Op) -> OpCost:
    return plain(op, elementwise=math.prod(op.out_shape))


_LEAVES = "archlib.views.leaves"
for _name, _cost, _fv in (("conv2d", _conv2d, "conv"), ("linear", _linear, "linear"),
                          ("matmul", _matmul, "matmul"), ("bn2d", _bn2d, "batch_norm"),
                          ("layernorm", _layernorm, "layer_norm"),
                          ("adaptive_avgpool2d", _adaptive_avgpool, "adaptive_avg_pool2d")):
    register_kind(_name, _cost, f"{_LEAVES}:{_name}", fvcore=_fv)
for _name in ("maxpool2d", "avgpool2d"):
    register_kind(_name, _window_pool, f"{_LEAVES}:{_name}")
for _name in ("act", "add", "mul", "softmax"):
    register_kind(_name, _per_output, f"{_LEAVES}:{_name}")
for _name in ("concat", "channel_shuffle"):
    register_kind(_name, plain, f"{_LEAVES}:{_name}")
for _name in ("flatten", "dropout", "slice"):
    register_kind(_name, plain, f"{_LEAVES}:{_name}", view=True)
