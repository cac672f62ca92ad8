"""Per-layer analysis of an IR: the table, totals, group sums and memory estimates.

See archlib.core.cost for the counting conventions. Nothing here allocates a tensor.
"""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from archlib.core.cost import KINDS, OpCost, is_view, op_cost
from archlib.core.ir import IR, Shape
from archlib.errors import ArchlibError

COUNTS = ("params", "buffers", "macs", "flops", "elementwise", "activations", "fvcore")

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "float64": 8}
#: optimizer state per parameter, in parameter-sized copies
OPTIMIZER_STATE = {"sgd": 0, "sgd_momentum": 1, "adam": 2, "adamw": 2}

#: named levels of the hierarchy (see group_key); the depths are for integer comparisons only
LEVELS = {"stage": 1, "block": 2, "unit": 3, "op": 99}


class Row(NamedTuple):
    """One line of the per-layer table."""

    name: str
    op: str
    in_shape: Shape
    out_shape: Shape
    cost: OpCost

    @property
    def activation_bytes(self) -> int:
        """Bytes of this op's output in float32 (0 for a view), per sample."""
        return 0 if is_view(self.op) else 4 * self.cost.out_elems

    def as_dict(self) -> dict[str, Any]:
        c = self.cost
        return {
            "name": self.name, "op": self.op, "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape), "params": c.params, "buffers": c.buffers,
            "macs": c.macs, "flops": c.flops, "elementwise": c.elementwise,
            "activations": c.activations, "out_elems": c.out_elems, "activation_bytes": self.activation_bytes,
            "fvcore": c.fvcore,
        }


def _zero() -> dict[str, int]:
    return dict.fromkeys(COUNTS, 0)


def _accumulate(acc: dict[str, int], c: OpCost) -> None:
    acc["params"] += c.params
    acc["buffers"] += c.buffers
    acc["macs"] += c.macs
    acc["flops"] += 2 * c.macs
    acc["elementwise"] += c.elementwise
    acc["activations"] += c.activations
    acc["fvcore"] += c.fvcore


def group_of(name: str, depth: int) -> str:
    """The name's prefix of `depth` components (the whole name if it is shorter)."""
    parts = name.split(".")
    return ".".join(parts[:depth])


_BLOCK = re.compile(r"b?\d+")  # s3.b1, or an imported module list's index (stages.0)
_STAGE = re.compile(r"s\d+")


def group_key(name: str, level: str | int) -> str:
    """The group `name` falls in at `level`.

    stage: the first name component (`stem`, `s3`, `head`). block: `s3.b1` for ops of a
    block (`stages.0` in an imported model's module list); the whole stem or head; a
    stage-level op (`s1.pool`) on its own. unit: one
    component below the block (`s3.b1.dw`, `stem.conv`). op: the name. An integer level
    is a plain prefix of that many components.
    """
    if isinstance(level, int) and not isinstance(level, bool):
        return group_of(name, _depth(level))
    if level == "op":
        return name
    parts = name.split(".")
    if level == "stage" or len(parts) == 1:
        return parts[0] if level in LEVELS else group_of(name, _depth(level))
    n = 2 if _BLOCK.fullmatch(parts[1]) or _STAGE.fullmatch(parts[0]) else 1
    if level == "unit":
        n += 1
    elif level != "block":
        _depth(level)  # raises with the allowed levels
    return ".".join(parts[:n])


@dataclass(frozen=True)
class Analysis:
    """The analysis of one model configuration: rows in execution order plus views."""

    model: str
    config: dict[str, Any]
    ir: IR
    rows: tuple[Row, ...]
    _totals: dict[str, int] = field(repr=False, default_factory=dict)

    @classmethod
    def of(cls, model: str, config: dict[str, Any], ir: IR) -> Analysis:
        costs = [op_cost(op) for op in ir.ops]
        rows = tuple([Row(op.name, op.kind, op.in_shapes[0] if op.in_shapes else (), op.out_shape, c)
                      for op, c in zip(ir.ops, costs)])
        col = dict(zip(OpCost._fields, map(sum, zip(*costs)))) if costs else dict.fromkeys(OpCost._fields, 0)
        totals = {k: (2 * col["macs"] if k == "flops" else col[k]) for k in COUNTS}
        return cls(model, dict(config), ir, rows, totals)

    @property
    def input_shape(self) -> Shape:
        return self.ir.input_shape

    @property
    def output_shape(self) -> Shape:
        return self.ir.output.out_shape

    def totals(self) -> dict[str, int]:
        """Sums over all ops, per sample."""
        return dict(self._totals)

    def by_group(self, level: str | int = "block") -> list[tuple[str, dict[str, int]]]:
        """Sums per name prefix at `level` (stage, block, unit, op or a depth), in order."""
        _depth(level)
        out: dict[str, dict[str, int]] = {}
        for r in self.rows:
            acc = out.setdefault(group_key(r.name, level), _zero())
            _accumulate(acc, r.cost)
        return list(out.items())

    def by_operator(self) -> dict[str, dict[str, int]]:
        """Sums per op kind (conv2d, bn2d, act:relu6, ...)."""
        out: dict[str, dict[str, int]] = {}
        for r, op in zip(self.rows, self.ir.ops):
            key = f"act:{op.attrs['fn']}" if r.op == "act" else r.op
            _accumulate(out.setdefault(key, _zero()), r.cost)
        return out

    def by_module_and_operator(self) -> dict[str, Counter]:
        """fvcore's view: for the root ("") and every module prefix, fvcore counts by operator."""
        out: dict[str, Counter] = defaultdict(Counter)
        for r in self.rows:
            if not r.cost.fvcore:
                continue
            opname = KINDS[r.op].fvcore
            parts = r.name.split(".")
            for n in range(len(parts) + 1):
                out[".".join(parts[:n])][opname] += r.cost.fvcore
        return dict(out)

    def memory(self, *, batch: int = 1, dtype: str = "float32", optimizer: str = "sgd_momentum") -> dict[str, int]:
        """Memory estimates in bytes: weights, inference peak and a training step.

        Inference peak: every op output materialised (views excepted) and freed after its
        last reader, in execution order, plus the weights. Training: weights, gradients,
        optimizer state, and every non-view op output kept for the backward pass.
        """
        if dtype not in DTYPE_BYTES:
            raise ArchlibError(f"dtype={dtype!r} is not allowed: dtype must be one of {', '.join(DTYPE_BYTES)}.")
        if optimizer not in OPTIMIZER_STATE:
            raise ArchlibError(f"optimizer={optimizer!r} is not allowed: optimizer must be one of "
                               f"{', '.join(OPTIMIZER_STATE)}.")
        if not (isinstance(batch, int) and 1 <= batch <= 65536):
            raise ArchlibError(f"batch={batch!r} is not allowed: batch must be an integer in [1, 65536].")
        nbytes = DTYPE_BYTES[dtype]
        t = self._totals
        weights = (t["params"] + t["buffers"]) * nbytes
        peak_elems, saved = _liveness(self.ir, [r.cost for r in self.rows])
        grads = t["params"] * nbytes
        return {
            "weights": weights,
            "inference_activations_peak": peak_elems * batch * nbytes,
            "inference_total": weights + peak_elems * batch * nbytes,
            "training_saved_activations": saved * batch * nbytes,
            "training_total": weights + grads + OPTIMIZER_STATE[optimizer] * grads + saved * batch * nbytes,
        }

    def to_json(self) -> dict[str, Any]:
        """The documented JSON form (CLI `summary --json`)."""
        t = self.totals()
        return {
            "model": self.model,
            "config": self.config,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "conventions": "macs = multiply-accumulates of conv/linear/matmul; flops = 2*macs; "
                           "activations = output elements of conv/linear/matmul; per sample",
            "totals": t,
            "layers": [r.as_dict() for r in self.rows],
            **({"notes": list(self.ir.notes)} if self.ir.notes else {}),
        }


def _depth(level: str | int) -> int:
    if isinstance(level, int) and level >= 1:
        return level
    if level in LEVELS:
        return LEVELS[level]
    raise ArchlibError(f"level={level!r} is not allowed: level must be one of {', '.join(LEVELS)} or a depth >= 1.")


def _liveness(ir: IR, costs: list[OpCost]) -> tuple[int, int]:
    """(peak live elements during inference, elements saved for a training step).

    An op whose matmul outputs exceed its own output (attention's H*L^2 scores) holds the
    difference while it runs, and keeps it for the backward pass.
    """
    last_use: dict[str, int] = {}
    for i, op in enumerate(ir.ops):
        for src in op.inputs:
            last_use[src] = i
    size: dict[str, int] = {"input": math.prod(ir.input_shape)}
    live = size["input"]
    peak = live
    saved = 0
    for i, (op, cost) in enumerate(zip(ir.ops, costs)):
        own = 0 if is_view(op.kind) else math.prod(op.out_shape)
        scratch = max(0, cost.activations - cost.out_elems)
        size[op.name] = own
        saved += own + scratch
        live += own
        peak = max(peak, live + scratch)
        for src in set(op.inputs):
            if last_use[src] == i:
                live -= size[src]
    return peak, saved


def human(n: float, unit: str = "") -> str:
    """65.7G-style human units (powers of 1000)."""
    units = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"), (1, ""))
    for i, (div, suffix) in enumerate(units):
        if abs(n) >= div or div == 1:
            if abs(float(f"{n / div:.3g}")) >= 1000:  # 999.6K rounds to 1000K: say 1M
                if i == 0:
                    return f"{n / div:,.0f}{suffix}{unit}"
                div, suffix = units[i - 1]
            return f"{n / div:.3g}{suffix}{unit}"
    return f"{n:g}{unit}"

