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
from typing import Callable, NamedTuple

from archlib.ir import Op

#: op kinds whose output is a view or the input itself, so it allocates nothing new
#: (modules adding op kinds add theirs).
VIEW_KINDS = {"flatten", "dropout", "slice", "reshape"}
#: op kinds whose cost is counted as MACs.
MAC_KINDS = frozenset({"conv2d", "linear", "matmul"})

#: the operator names fvcore reports for each op kind (for the by-module-and-operator view).
FVCORE_OPERATOR = {
    "conv2d": "conv",
    "linear": "linear",
    "matmul": "matmul",
    "bn2d": "batch_norm",
    "layernorm": "layer_norm",
    "adaptive_avgpool2d": "adaptive_avg_pool2d",
}


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


#: cost functions of op kinds defined outside this module (e.g. archlib.attention)
EXTRA_COSTS: dict[str, Callable[[Op], "OpCost"]] = {}


def op_cost(op: Op) -> OpCost:
    """The analytic cost of `op` (no tensor is allocated)."""
    if op.kind in EXTRA_COSTS:
        return EXTRA_COSTS[op.kind](op)
    a = op.attrs
    out = math.prod(op.out_shape)
    kind = op.kind
    params = buffers = macs = elem = acts = fv = 0
    if kind == "conv2d":
        kh, kw = a["kernel"]
        per_out = a["in_ch"] // a["groups"] * kh * kw
        params = a["out_ch"] * per_out + (a["out_ch"] if a["bias"] else 0)
        macs = out * per_out
        elem = out if a["bias"] else 0
        acts = out
        fv = macs
    elif kind == "linear":
        params = a["in_f"] * a["out_f"] + (a["out_f"] if a["bias"] else 0)
        macs = out * a["in_f"]
        elem = out if a["bias"] else 0
        acts = out
        fv = macs
    elif kind == "matmul":
        macs = out * a["inner"]
        acts = out
        fv = macs
    elif kind == "bn2d":
        params, buffers = 2 * a["channels"], 2 * a["channels"] + 1
        elem = out
        fv = 2 * out
    elif kind == "layernorm":
        params = 2 * a["dim"]
        elem = out
        fv = 5 * out
    elif kind in ("maxpool2d", "avgpool2d"):
        elem = out * a["kernel"] * a["kernel"]
    elif kind == "adaptive_avgpool2d":
        elem = fv = math.prod(op.in_shape)
    elif kind in ("act", "add", "mul", "softmax"):
        elem = out
    return OpCost(params, buffers, macs, elem, acts, out, fv)
