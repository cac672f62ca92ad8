"""Per-layer analysis of an IR: the table, totals, group sums and memory estimates.

See archlib.core.cost for the counting conventions. Nothing here allocates a tensor.
"""
from __future__ import annotations

import math
import re
import reprlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from archlib.core.cost import KINDS, OpCost, extra_memory, is_view, op_cost
from archlib.core.ir import IR, Shape
from archlib.core.knobs import Knob, resolve
from archlib.errors import ArchlibError

T = TypeVar("T")
COUNTS = ("params", "buffers", "macs", "flops", "elementwise", "activations", "fvcore")

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "float64": 8}
#: optimizer state per parameter, in parameter-sized copies
OPTIMIZER_STATE = {"sgd": 0, "sgd_momentum": 1, "adam": 2, "adamw": 2}

#: named levels of the hierarchy (see group_key); the depths are for integer comparisons only
LEVELS = {"stage": 1, "block": 2, "unit": 3, "op": 99}
#: a level may also be a depth: name components kept (deeper than any name is the op level)
MAX_DEPTH = 32
_DEPTH = Knob("level", "int", 2, "depth: name components kept", lo=1, hi=MAX_DEPTH)
#: the memory estimate's settings, validated like knobs
MEMORY = (Knob("batch", "int", 1, "samples per batch", lo=1, hi=65536),
          Knob("dtype", "choice", "float32", "number format", choices=tuple(DTYPE_BYTES)),
          Knob("optimizer", "choice", "sgd_momentum", "optimizer state kept per parameter",
               choices=tuple(OPTIMIZER_STATE)))


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
    level = parse_level(level)
    if isinstance(level, int):
        return group_of(name, level)
    if level == "op":
        return name
    parts = name.split(".")
    if level == "stage" or len(parts) == 1:
        return parts[0]
    n = 2 if _BLOCK.fullmatch(parts[1]) or _STAGE.fullmatch(parts[0]) else 1
    return ".".join(parts[:n + (level == "unit")])


def parse_level(level: Any, *, text: bool = False) -> str | int:
    """A level of the name hierarchy: stage, block, unit or op, or a depth (an int in [1, 32]).

    The one validator of levels (analysis, graph, CLI, app); `text=True` reads a command-line
    or URL string, where a depth is written in digits. Anything else raises ArchlibError.
    """
    if isinstance(level, str) and level in LEVELS:
        return level
    why = ""
    try:
        if text and isinstance(level, str) and any(c.isdigit() for c in level):
            return _DEPTH.parse_text(level)  # ASCII digits only: '²' and '١' are refused
        if not text and not isinstance(level, (str, bool)) and hasattr(level, "__index__"):
            return _DEPTH.parse(level)
        if not isinstance(level, str):
            why = f" (a {type(level).__name__}; a level is a str or an int)"
    except ArchlibError:
        ascii_digits = isinstance(level, str) and level.strip().isascii() and level.strip().isdigit()
        why = " (not written with the digits 0-9)" if text and not ascii_digits else " (out of range)"
    raise ArchlibError(f"level={reprlib.repr(level)} is not allowed{why}: level must be one of "
                       f"{', '.join(LEVELS)} or a depth, an integer in [1, {MAX_DEPTH}].")


@dataclass(frozen=True)
class Analysis:
    """The analysis of one model configuration: rows in execution order plus views."""

    model: str
    config: dict[str, Any]
    ir: IR
    rows: tuple[Row, ...]
    _totals: dict[str, int] = field(repr=False, default_factory=dict)
    notes: tuple[str, ...] = ()  # what a reader should know (a custom stage table overriding knobs)
    #: what is already computed (group sums per level, liveness): an analysis is shared by every
    #: page and session, and these depend on nothing but the analysis
    _memo: dict[Any, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def of(cls, model: str, config: dict[str, Any], ir: IR, *, notes: tuple[str, ...] = ()) -> Analysis:
        costs = [op_cost(op) for op in ir.ops]
        rows = tuple([Row(op.name, op.kind, op.in_shapes[0] if op.in_shapes else (), op.out_shape, c)
                      for op, c in zip(ir.ops, costs)])
        col = dict(zip(OpCost._fields, map(sum, zip(*costs)))) if costs else dict.fromkeys(OpCost._fields, 0)
        totals = {k: (2 * col["macs"] if k == "flops" else col[k]) for k in COUNTS}
        return cls(model, dict(config), ir, rows, totals, tuple(notes))

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
        level = parse_level(level)
        key = ("groups", level)
        if key not in self._memo:
            out: dict[str, dict[str, int]] = {}
            for r in self.rows:
                acc = out.setdefault(group_key(r.name, level), _zero())
                _accumulate(acc, r.cost)
            self._memo[key] = tuple(out.items())
        return [(k, dict(v)) for k, v in self._memo[key]]  # copies: the caller may change them

    def memoized(self, key: str, derive: Callable[[Analysis], T]) -> T:
        """`derive(self)`, computed once per analysis: views derived from it (a stage table, say)
        that every page and session showing this configuration reads. Treat the result as read-only."""
        if ("derived", key) not in self._memo:
            self._memo[("derived", key)] = derive(self)
        return self._memo[("derived", key)]

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
        last reader, in execution order, plus the working memory of the op running (softmax
        attention: its scores and their softmax, alive together), plus the weights. Training:
        weights, gradients, optimizer state, and the peak of a forward that keeps every
        non-view output and what each op saves for the backward pass (a traced forward holds
        no more), the running op's working memory included.
        """
        cfg = resolve(MEMORY, {"batch": batch, "dtype": dtype, "optimizer": optimizer}, model="memory")
        batch, nbytes, optimizer = cfg["batch"], DTYPE_BYTES[cfg["dtype"]], cfg["optimizer"]
        t = self._totals
        weights = (t["params"] + t["buffers"]) * nbytes
        if "liveness" not in self._memo:
            self._memo["liveness"] = _liveness(self.ir, [r.cost for r in self.rows])
        peak_elems, saved = self._memo["liveness"]
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
            "notes": [*self.notes, *self.ir.notes],  # the configuration's, then the importer's
            "layers": [r.as_dict() for r in self.rows],
        }


def _liveness(ir: IR, costs: list[OpCost]) -> tuple[int, int]:
    """(peak live elements during inference, peak elements of a forward that keeps every output
    and what each op saves for the backward pass), both with the running op's working memory.

    An op holds its working memory (cost.extra_memory: softmax attention's scores and their
    softmax, 2 H L^2) while it runs, and keeps part of it (the softmax, H L^2) for the backward.
    """
    last_use: dict[str, int] = {}
    for i, op in enumerate(ir.ops):
        for src in op.inputs:
            last_use[src] = i
    size: dict[str, int] = {"input": math.prod(ir.input_shape)}
    live = size["input"]
    peak = live
    saved = saved_peak = 0
    for i, (op, cost) in enumerate(zip(ir.ops, costs)):
        own = 0 if is_view(op.kind) else math.prod(op.out_shape)
        work, keep = extra_memory(op, cost)
        size[op.name] = own
        live += own
        peak = max(peak, live + work)
        saved_peak = max(saved_peak, saved + own + work)
        saved += own + keep
        for src in set(op.inputs):
            if last_use[src] == i:
                live -= size[src]
    return peak, max(saved, saved_peak)


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

