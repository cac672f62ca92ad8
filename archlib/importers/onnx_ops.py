"""ONNX nodes -> IR ops: the ONNX importer's lowering and its vocabulary, one handler per op type.

Values are the model input, pending IR ops, weights (floating-point initializers of more
than one element: `param` rows where an op reads them directly) and constants (folded
shape arithmetic, scalars). A node outside the vocabulary is an error that names it:
unlike the torch importer there is no FlopCounterMode to count what archlib cannot.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from archlib.core.ir import INPUT, IR
from archlib.core.tensor_ops import Batch, Ref, Size, has_batch, per_sample
from archlib.errors import ArchlibError
from archlib.importers import onnx_fold
from archlib.importers.graph import GraphBuilder
from archlib.importers.onnx_file import FOLDED_BN_NOTE, OnnxModel, attrs_of, infer_shapes, is_weight, weight_dims

Handler = Callable[["OnnxLowering", int, onnx.NodeProto], None]
HANDLERS: dict[str, Handler] = {}


class Unsupported(Exception):
    """This node cannot be costed (the reason is the message)."""


def handles(*ops: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for op in ops:
            if op in HANDLERS:
                raise ValueError(f"ONNX op {op!r} has two handlers")
            HANDLERS[op] = fn
        return fn
    return register


def scope_of(node: onnx.NodeProto, index: int) -> tuple[tuple[str, ...], str]:
    """(scope, local name) of a node: its name's path (`/stage1/stage1.0/conv/Conv`), or the
    module path the torch exporter records (`namespace`), else just its name."""
    name = node.name or f"{node.op_type}_{index}"
    meta = {p.key: p.value for p in node.metadata_props}
    if "/" in name.strip("/"):
        parts = [p for p in name.split("/") if p]
        scope, prev = [], ""
        for p in parts[:-1]:  # /stage1/stage1.0/dw: each level repeats its parent's path
            scope.append(p[len(prev) + 1:] if prev and p.startswith(prev + ".") else p)
            prev = p
        return tuple(s for part in scope for s in part.split(".") if s), parts[-1]
    if meta.get("namespace"):
        entries = [e.split(": ")[0] for e in meta["namespace"].split("/")]
        path = entries[-2] if len(entries) >= 3 else ""
        return tuple(p for p in path.split(".") if p), name
    return (), name


class OnnxLowering:
    """Lowers one OnnxModel at one input size into an IR."""

    def __init__(self, m: OnnxModel, shape: tuple[int, ...]) -> None:
        self.m, self.shape = m, shape
        self.s1 = infer_shapes(m, shape, 1)
        self.s2 = infer_shapes(m, shape, 2) if m.batch is None else None
        self.g = GraphBuilder(shape, collapse_single=False)
        self.values: dict[str, int | str] = {m.input_name: INPUT}
        self.sizes_of: dict[int | str, tuple[Size, ...]] = {INPUT: (Batch(1), *shape)}
        self.weights: dict[str, tuple[int, ...]] = {}
        self.consts: dict[str, np.ndarray] = {}
        self.counted: set[str] = set()
        self.param_rows: dict[str, int] = {}
        self.from_input: set[int | str] = {INPUT}
        self.nodes = list(m.model.graph.node)
        self.consumers: dict[str, list[int]] = {}
        self.skip: set[int] = set()
        self.notes: list[str] = []
        for i, node in enumerate(self.nodes):
            for name in node.input:
                self.consumers.setdefault(name, []).append(i)
        for t in m.model.graph.initializer:
            self._tensor(t.name, t)
        self.weights.update(weight_dims(m.model))

    def _tensor(self, name: str, t: onnx.TensorProto) -> None:
        if is_weight(t):
            self.weights[name] = tuple(int(d) for d in t.dims)
        elif math.prod(t.dims) <= onnx_fold.MAX_ELEMS:
            self.consts[name] = numpy_helper.to_array(t)

    # -- sizes and values ----------------------------------------------------
    def sizes(self, name: str, batched: bool = True) -> tuple[Size, ...]:
        if name not in self.s1:
            raise Unsupported(f"the shape of {name!r} could not be inferred")
        one = self.s1[name]
        if self.s2 is None:
            return (Batch(1), *one[1:]) if batched and one and one[0] == 1 else one
        two = self.s2.get(name)
        if two is None or len(two) != len(one):
            raise Unsupported(f"the shape of {name!r} changes rank with the batch size")
        out: list[Size] = []
        for a, b in zip(one, two):
            if b not in (a, 2 * a):
                raise Unsupported(f"a size of {name!r} is not proportional to the batch size")
            out.append(a if a == b else Batch(a))
        return tuple(out)

    def value(self, name: str, node: onnx.NodeProto, index: int) -> int | str:
        """The IR value `name` that `node` reads: an op, the input, or a weight read directly (a `param` row)."""
        if name in self.values:
            return self.values[name]
        if name not in self.weights and name not in self.consts:
            raise Unsupported(f"it reads {name!r}, which is not computed before it")
        if name not in self.param_rows:
            scope, base = scope_of(node, index)
            if name in self.weights:
                dims, role, dtype = self.weights[name], "param" if name not in self.counted else "shared", "float32"
                self.counted.add(name)
            else:
                arr = self.consts[name]
                dims, role, dtype = tuple(arr.shape), "constant", str(arr.dtype)
            self.param_rows[name] = self.g.add(scope, f"{base}_{name}", "param", [], dims, shape=dims, role=role,
                                               dtype=dtype)
            self.sizes_of[self.param_rows[name]] = dims
        return self.param_rows[name]

    def own(self, **named: str | None) -> dict[str, Any]:
        """Take an op's weight initializers; `shared` names those an earlier op already counted."""
        for role, name in named.items():
            if name is not None and name not in self.weights:
                raise Unsupported(f"its {role} {name!r} is not a weight initializer")
        shared = tuple(r for r, n in named.items() if n is not None and n in self.counted)
        self.counted.update(n for n in named.values() if n is not None)
        return {"shared": shared} if shared else {}

    def scalar(self, name: str) -> float | None:
        """A constant single number (Clip bounds, scales), or None when `name` is something else."""
        if name in self.consts and self.consts[name].size == 1:
            return float(self.consts[name].ravel()[0])
        return None

    def emit(self, index: int, node: onnx.NodeProto, kind: str, inputs: list[int | str], output: str, /, *,
             base: str | None = None, sizes: tuple[Size, ...] | None = None, **attrs: Any) -> int:
        batched = any(i in self.from_input for i in inputs)
        sizes = self.sizes(output, batched) if sizes is None else sizes
        scope, name = scope_of(node, index)
        idx = self.g.add(scope, base or name, kind, inputs, sizes, **attrs)
        if batched:
            self.from_input.add(idx)
        self.values[output], self.sizes_of[idx] = idx, sizes
        return idx

    def batch_ref(self, inputs: list[int | str], needed: bool) -> tuple[int, int] | None:
        if not needed or self.m.batch == 1:  # the file fixes the batch at 1: nothing to find
            return None
        for i, r in enumerate(inputs):
            if has_batch(self.sizes_of[r]):
                return i, math.prod(per_sample(self.sizes_of[r]))
        inputs.append(INPUT)
        return len(inputs) - 1, math.prod(self.shape)

    # -- the walk -------------------------------------------------------------
    def run(self) -> IR:
        from archlib.importers import onnx_layout, onnx_nodes  # noqa: F401  (register the handlers)

        bad: list[str] = []
        missing: set[str] = set()
        for i, node in enumerate(self.nodes):
            if i in self.skip:
                continue
            if any(n in missing for n in node.input if n):
                missing.update(node.output)
                continue
            try:
                self._node(i, node)
            except Unsupported as e:
                bad.append(f"{node.op_type} node {node.name or i!r} ({e})")
                missing.update(node.output)
        if bad:
            more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
            raise ArchlibError(f"{self.m.name}: {len(bad)} node(s) cannot be costed: {'; '.join(bad[:3])}{more}. "
                               f"archlib maps {', '.join(sorted(HANDLERS))}.")
        return self._finish()

    def _node(self, i: int, node: onnx.NodeProto) -> None:
        if node.domain not in ("", "ai.onnx"):
            raise Unsupported(f"operator domain {node.domain!r} is not ONNX's own")
        if node.op_type == "Constant":
            value = onnx_fold.constant(node)
            if isinstance(value, onnx.TensorProto):
                self._tensor(node.output[0], value)
            else:
                self.consts[node.output[0]] = value
            return
        if self._fold(node):
            return
        handler = HANDLERS.get(node.op_type)
        if handler is None:
            raise Unsupported("an operator archlib does not model")
        handler(self, i, node)

    def _fold(self, node: onnx.NodeProto) -> bool:
        if node.op_type in ("Shape", "Size") and node.input[0] in self.s1:
            full = self.s1[node.input[0]]
            a = attrs_of(node)
            value = np.asarray(full[a.get("start", 0):a.get("end", None)] if node.op_type == "Shape"
                               else math.prod(full), dtype=np.int64)
        else:
            ins = [self.consts.get(n) if n else None for n in node.input]
            if any(n and n not in self.consts for n in node.input) or not node.input:
                return False
            value = onnx_fold.fold(node.op_type, attrs_of(node), ins)
            if value is None:
                return False
        self.consts[node.output[0]] = value
        return True

    def _finish(self) -> IR:
        outs = [o.name for o in self.m.model.graph.output]
        if len(outs) > 1:
            self.notes.append(f"the file has {len(outs)} outputs: the built module returns the first; all are counted.")
        if outs[0] not in self.values:
            raise ArchlibError(f"{self.m.name}: the output {outs[0]!r} is a constant; there is nothing to analyse.")
        unused = [n for n in self.weights if n not in self.counted]
        for n in unused:
            self.g.add(("unused",), n, "param", [], self.weights[n], shape=self.weights[n], role="param",
                       dtype="float32")
        if unused:
            self.notes.append(f"{len(unused)} weight initializer(s) no node reads are counted (rows under `unused`).")
        shared = [r for r in self.g.ops if r.attrs.get("shared") or r.attrs.get("role") == "shared"]
        if shared:
            self.notes.append(f"{len(shared)} op(s) read a weight another op reads too: it is counted once; the "
                              "built module gives each its own copy.")
        self.notes.append(FOLDED_BN_NOTE)
        return self.g.finish(self.values[outs[0]], batch=self.m.batch, notes=self.notes)


def template(L: OnnxLowering, node: onnx.NodeProto, index: int, names: list[str | None],
             inputs: list[int | str]) -> tuple:
    """Operands as an argument template: tensors Ref(i) into `inputs`, single numbers as floats."""
    out: list[Any] = []
    for n in names:
        if not n:
            out.append(None)
            continue
        s = L.scalar(n)
        if s is not None:
            out.append(s)
            continue
        inputs.append(L.value(n, node, index))
        out.append(Ref(len(inputs) - 1))
    return tuple(out)
