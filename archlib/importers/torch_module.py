"""Any torch.nn.Module as an IR: traced on the meta device, each aten op mapped to an op kind.

The module is copied to the meta device (its weights are not copied: the copy holds no
data) and traced by torch.export with a dynamic batch, so every size is known as a number
or as k x the batch. Each aten op becomes the IR op kind that costs it analytically
(archlib.importers.aten_ops); an op outside that vocabulary becomes an `other` row with
the MACs FlopCounterMode counts for it, and is listed in the IR's notes. Rows are named by
module path (`stage1.0.dw`, `stage2.1.mha.linear`). Nothing runs on real tensors.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import fx, nn

from archlib.core.ir import INPUT, IR
from archlib.core.tensor_ops import Batch, Ref, Runtime, Size, has_batch, not_modelled, per_sample
from archlib.errors import ArchlibError
from archlib.importers.graph import GraphBuilder

MAX_INPUT_ELEMS = 50_000_000  # per sample: a 4096 x 4096 RGB image
MAX_BATCH = 1 << 16


class Val(NamedTuple):
    """An IR value: the pending op (or INPUT) that makes it, its traced sizes, its dtype."""

    ref: int | str
    sizes: tuple[Size, ...]
    dtype: torch.dtype


class _NotLinear(Exception):
    """A size that is not k x the batch: trace again with a fixed batch."""


def check_input_shape(input_shape: Any) -> tuple[int, ...]:
    """(C, H, W) or any per-sample shape of 1 to 4 positive integers, within the size limit."""
    try:
        shape = tuple(int(d) for d in input_shape)
        ok = 1 <= len(shape) <= 4 and all(d >= 1 for d in shape) and all(
            float(d) == float(v) for d, v in zip(shape, input_shape))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ArchlibError(f"input_shape={input_shape!r} is not allowed: input_shape must be the per-sample "
                           "shape, 1 to 4 positive integers such as (3, 224, 224).")
    if math.prod(shape) > MAX_INPUT_ELEMS:
        raise ArchlibError(f"input_shape={shape} is not allowed: at most {MAX_INPUT_ELEMS:,} elements per sample.")
    return shape


def check_module(module: Any) -> nn.Module:
    if not isinstance(module, nn.Module):
        raise ArchlibError(f"a {type(module).__name__} is not a model: give a registered model name, an ONNX file "
                           "or a torch.nn.Module.")
    return module


def fingerprint(module: nn.Module) -> tuple:
    """What an imported graph depends on beside the code: submodule types, tensor shapes, train mode."""
    check_module(module)
    return (module.training, tuple((n, type(m).__qualname__) for n, m in module.named_modules()),
            tuple((n, tuple(t.shape), t.dtype) for n, t in (*module.named_parameters(), *module.named_buffers())))


def meta_copy(module: nn.Module) -> nn.Module:
    """A copy of `module` whose parameters and buffers live on the meta device (no data is copied)."""
    check_module(module)
    memo: dict[int, Any] = {}
    for t in [*module.parameters(), *module.buffers()]:
        m = torch.empty_like(t, device="meta")
        memo[id(t)] = nn.Parameter(m, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else m
    try:
        out = copy.deepcopy(module, memo)
    except Exception as e:  # noqa: BLE001  (any module: say which could not be copied)
        raise ArchlibError(f"{type(module).__name__} could not be copied to the meta device: {e}") from e
    return out.eval()


def _export(module: nn.Module, shape: tuple[int, ...], *, fixed: bool = False) -> Any:
    """The exported program: with a dynamic batch (traced at 2), or a batch fixed at 1."""
    from torch.export import Dim

    if fixed:
        return torch.export.export(module, (torch.empty((1, *shape), device="meta"),), strict=False)
    dims = ({0: Dim("batch", min=1, max=MAX_BATCH)},)
    return torch.export.export(module, (torch.empty((2, *shape), device="meta"),), dynamic_shapes=dims, strict=False)


def import_module(module: nn.Module, input_shape: Sequence[int]) -> IR:
    """The IR of `module` for per-sample inputs of `input_shape` (e.g. (3, 224, 224)).

    Traced with a dynamic batch where the code allows it (the built module then runs at any
    batch), else at a fixed batch of 1 (the IR says so: `ir.batch == 1`).
    """
    shape = check_input_shape(input_shape)
    meta = meta_copy(module)
    for fixed in (False, True):
        try:
            ep = _export(meta, shape, fixed=fixed)
        except Exception as e:  # noqa: BLE001  (the user's code: a pinned batch, or one clear line)
            if not fixed:
                continue
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            raise ArchlibError(f"{type(module).__name__} could not be traced by torch.export on the meta device "
                               f"with an input of {shape}: {first}") from None
        try:
            return Lowering(ep, shape, fixed, meta).run()
        except _NotLinear:  # a size not proportional to the batch: the batch must be fixed
            continue
    raise ArchlibError(f"{type(module).__name__}: a size depends on the batch in a way the importer cannot follow.")


class Lowering:
    """Walks an exported program's graph and collects IR ops (see archlib.importers.aten_ops)."""

    def __init__(self, ep: Any, input_shape: tuple[int, ...], fixed: bool, module: nn.Module) -> None:
        self.ep, self.fixed = ep, fixed
        # path -> the tensor object: a tied weight has two paths, and export two placeholders for it
        self.tensor_ids = {n: id(t) for n, t in (*module.named_parameters(remove_duplicate=False),
                                                  *module.named_buffers(remove_duplicate=False))}
        self.g = GraphBuilder(input_shape)
        self.input_shape = input_shape
        self.values: dict[str, Val] = {}
        self.multi: dict[str, Any] = {}  # node name -> how its getitem users are lowered
        self.places: dict[str, tuple[str, str]] = {}  # placeholder -> (role, path in the module)
        self.param_rows: dict[str, int] = {}
        self.consumed: set[str] = set()
        self.uses: dict[str, int] = {}
        self.notes: list[str] = []
        self.from_input: set[int] = set()  # pending ops computed from the model input
        self.dtypes: dict[int | str, torch.dtype] = {INPUT: torch.float32}
        self.sym = None

    # -- sizes ------------------------------------------------------------
    def size(self, s: Any) -> Size:
        if isinstance(s, int):
            return s
        expr = s.node.expr
        if expr.is_number:
            return int(expr)
        if self.sym is None or expr.free_symbols != {self.sym}:
            raise _NotLinear
        one, two = int(expr.subs(self.sym, 1)), int(expr.subs(self.sym, 2))
        if two == one:
            return one
        if two == 2 * one:
            return Batch(one)
        raise _NotLinear

    def sizes(self, t: torch.Tensor, batched: bool = True) -> tuple[Size, ...]:
        out = tuple(self.size(s) for s in t.shape)
        if self.fixed and batched and out and out[0] == 1:
            out = (Batch(1), *out[1:])  # a fixed batch of 1: the leading axis is the batch
        return out

    def sizes_of(self, ref: int | str) -> tuple[Size, ...]:
        return self.values["__input__"].sizes if ref == INPUT else self.g.ops[ref].sizes

    # -- values -----------------------------------------------------------
    def is_param(self, arg: Any) -> bool:
        return isinstance(arg, fx.Node) and arg.name in self.places

    def weights(self, **named: Any) -> dict[str, Any] | None:
        """Take the weight tensors of an op (conv weight and bias, ...): None when one is not a
        parameter; else the op's `shared` attribute naming those an earlier op already counted."""
        if not all(a is None or self.is_param(a) for a in named.values()):
            return None
        shared = tuple(role for role, a in named.items() if a is not None and a.name in self.consumed)
        self.consumed.update(a.name for a in named.values() if a is not None)
        return {"shared": shared} if shared else {}

    def tensor(self, arg: fx.Node, consumer: fx.Node) -> int | str:
        """The IR value of tensor `arg`; a parameter read directly becomes a `param` row."""
        if arg.name in self.values:
            return self.values[arg.name].ref
        if arg.name not in self.places:
            raise ArchlibError(f"{consumer.name} reads {arg.name}, which the importer has not lowered.")
        if arg.name not in self.param_rows:
            role, path = self.places[arg.name]
            scope = self.scope(consumer)
            local = path[len(".".join(scope)) + 1:] if path.startswith(".".join(scope) + ".") and scope else path
            t = arg.meta["val"]
            self.param_rows[arg.name] = self.g.add(scope, local.replace(".", "_"), "param", [], tuple(t.shape),
                                                   shape=tuple(t.shape), role=role, dtype=str(t.dtype))
            self.consumed.add(arg.name)
            self.dtypes[self.param_rows[arg.name]] = t.dtype
        return self.param_rows[arg.name]

    def scope(self, node: fx.Node) -> tuple[str, ...]:
        stack = node.meta.get("nn_module_stack") or {}
        if not stack:
            return ()
        path = list(stack.values())[-1][0]
        return tuple(p for p in str(path).split(".") if p)

    def emit(self, node: fx.Node, kind: str, inputs: list[int | str], /, *, sizes: tuple[Size, ...] | None = None,
             base: str | None = None, **attrs: Any) -> int:
        val = node.meta["val"]
        if sizes is None:
            sizes = self.sizes(val, self.batched(inputs))
        idx = self.g.add(self.scope(node), base or aten_name(node), kind, inputs, sizes, **attrs)
        if self.batched(inputs):
            self.from_input.add(idx)
        self.dtypes[idx] = getattr(val, "dtype", torch.float32)
        self.values[node.name] = Val(idx, sizes, getattr(val, "dtype", torch.float32))
        return idx

    def dtype_of(self, ref: int | str) -> torch.dtype:
        return self.dtypes.get(ref, torch.float32)

    def batched(self, inputs: Sequence[int | str]) -> bool:
        return any(i == INPUT or i in self.from_input for i in inputs)

    def batch_ref(self, inputs: list[int | str], needed: bool) -> tuple[int, int] | None:
        """(input index, its per-sample numel): where a built leaf finds the batch; the model input
        is added as an input when no input carries the batch."""
        if not needed or self.fixed:  # a fixed batch is 1: nothing to find
            return None
        for i, r in enumerate(inputs):
            sizes = self.sizes_of(r)
            if has_batch(sizes):
                return i, math.prod(per_sample(sizes))
        inputs.append(INPUT)
        return len(inputs) - 1, math.prod(self.input_shape)

    # -- the walk -----------------------------------------------------------
    def run(self) -> IR:
        from archlib.importers import aten_ops, aten_views  # noqa: F401  (aten_views registers the layout ops)

        graph = self.ep.graph
        specs = {s.arg.name: s for s in self.ep.graph_signature.input_specs if hasattr(s.arg, "name")}
        user_inputs = []
        for node in graph.nodes:
            self.uses[node.name] = len(node.users)
            if node.op != "placeholder":
                continue
            spec = specs.get(node.name)
            kind = spec.kind.name if spec is not None else "USER_INPUT"
            if kind == "USER_INPUT":
                user_inputs.append(node)
            else:
                role = {"PARAMETER": "param", "BUFFER": "buffer"}.get(kind, "constant")
                self.places[node.name] = (role, str(spec.target or node.name))
        if len(user_inputs) != 1:
            raise ArchlibError(f"the module's forward takes {len(user_inputs)} tensor inputs; the importer "
                               "analyses modules with one image input.")
        x = user_inputs[0]
        if not self.fixed:
            self.sym = x.meta["val"].shape[0].node.expr
        self.values[x.name] = self.values["__input__"] = Val(INPUT, (Batch(1), *self.input_shape), torch.float32)
        output = None
        for node in graph.nodes:
            if node.op == "call_function":
                aten_ops.lower(self, node)
            elif node.op == "output":
                output = self._output(node)
        self._unused()
        if output is None:
            raise ArchlibError("the module returns no tensor.")
        other = not_modelled(self.g.ops)
        if other:
            self.notes.insert(0, "not modelled (kept as `other` rows with FlopCounterMode's MACs): " +
                              ", ".join(f"{k} x{v}" for k, v in sorted(other.items())))
        return self.g.finish(output, batch=1 if self.fixed else None, notes=self.notes)

    def _output(self, node: fx.Node) -> int | str | None:
        found: list[fx.Node] = []
        fx.node.map_arg(node.args[0], lambda n: found.append(n) or n)
        tensors = [a for a in found if isinstance(a.meta.get("val"), torch.Tensor)]
        if not tensors:
            return None
        if len(tensors) > 1:
            self.notes.append(f"the module returns {len(tensors)} tensors: the built module returns the first; "
                              "all of them are counted.")
        return self.tensor(tensors[0], node)

    def _unused(self) -> None:
        """Parameters and buffers no op reads still count (params == sum(p.numel())): rows under `unused`."""
        counted = 0
        nodes = {n.name: n for n in self.ep.graph.nodes}
        read = {self.tensor_ids.get(self.places[n][1]) for n in self.consumed if n in self.places}
        for name, (role, path) in self.places.items():
            if name in self.consumed or role == "constant" or self.tensor_ids.get(path, -1) in read:
                continue
            t = nodes[name].meta["val"]
            self.g.add(("unused",), path.replace(".", "_"), "param", [], tuple(t.shape), shape=tuple(t.shape),
                       role=role, dtype=str(t.dtype))
            counted += t.numel() if role == "param" else 0
        if counted:
            self.notes.append(f"{counted:,} parameters that the forward never reads are counted (rows under "
                              "`unused`).")


_SHORT = {"scaled_dot_product_attention": "sdpa", "_unsafe_view": "view", "adaptive_avg_pool2d": "pool",
          "max_pool2d": "maxpool", "avg_pool2d": "avgpool"}


def aten_name(node: fx.Node) -> str:
    """`conv2d` for aten.conv2d.default: the row's local name."""
    target = node.target
    name = getattr(target, "__name__", str(target)).split(".")[0]
    return _SHORT.get(name, name.strip("_")) or "op"


def template(L: Lowering, v: Any, inputs: list[int | str], consumer: fx.Node) -> Any:
    """An aten argument as data: tensors become Ref(i) into `inputs`, sizes Batch(k) or ints."""
    if isinstance(v, fx.Node):
        val = v.meta.get("val")
        if isinstance(val, torch.Tensor):
            inputs.append(L.tensor(v, consumer))
            return Ref(len(inputs) - 1)
        if isinstance(val, (int, torch.SymInt)):
            return L.size(val)
        if isinstance(val, (float, bool, torch.SymFloat, torch.SymBool)):
            return float(val) if isinstance(val, (float, torch.SymFloat)) else bool(val)
        raise ArchlibError(f"{consumer.name}: an argument of type {type(val).__name__} cannot be kept.")
    if isinstance(v, (list, tuple)):
        return tuple(template(L, x, inputs, consumer) for x in v)
    if isinstance(v, torch.device):
        return Runtime("device")
    if isinstance(v, (torch.dtype, torch.memory_format, torch.layout)):
        return Runtime(str(v))
    if v is None or isinstance(v, (int, float, bool, str)):
        return v
    raise ArchlibError(f"{consumer.name}: an argument of type {type(v).__name__} cannot be kept.")
