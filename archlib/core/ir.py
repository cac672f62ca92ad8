"""The IR: a model lowered at a given input size to a flat, ordered list of primitive ops.

Shapes are per sample (no batch axis): (C, H, W) for images, (L, D) for tokens, (F,)
for vectors. Every op has a hierarchical dotted name (`s3.b1.dw.conv`) that is also its
module name in the built torch model, its graph node and its table row. Ops are in
execution order and each name prefix covers a contiguous run of ops, so every group of
ops (stage, block, unit) is a contiguous slice.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from archlib.errors import ArchlibError

Shape = tuple[int, ...]
INPUT = "input"

ACTIVATIONS = ("relu", "relu6", "hardswish", "hardsigmoid", "sigmoid", "silu", "gelu")


class Attrs(dict):
    """An op's attributes, read-only: IRs are cached and shared, so nothing may change them."""

    __slots__ = ()

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("op attributes are read-only (IRs are shared through a cache)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _readonly  # type: ignore[assignment]

    def __reduce__(self) -> tuple:
        return (Attrs, (dict(self),))


class Op(NamedTuple):
    """One primitive op: its name, kind, producers, shapes and attributes (immutable)."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    in_shapes: tuple[Shape, ...]
    out_shape: Shape
    attrs: Attrs = Attrs()

    @property
    def in_shape(self) -> Shape:
        return self.in_shapes[0]


@dataclass(frozen=True)
class IR:
    """A lowered model: its input shape and ops in execution order.

    `batch` is None when the graph runs at any batch size (every family's); an imported
    graph whose shapes fix the batch (an ONNX file exported at batch 1) says which.
    `notes` are what an importer wants said about the graph (ops it could not model, ...).
    """

    input_shape: Shape
    ops: tuple[Op, ...]
    batch: int | None = None
    notes: tuple[str, ...] = ()

    @property
    def output(self) -> Op:
        return self.ops[-1]

    def by_name(self) -> dict[str, Op]:
        return {op.name: op for op in self.ops}


def numel(shape: Sequence[int]) -> int:
    return math.prod(shape)


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def pool_out(size: int, k: int, s: int, p: int, ceil_mode: bool, d: int = 1) -> int:
    """Output length of a conv/pool window along one axis, with PyTorch's ceil_mode rule."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1  # the last window may not start inside the right padding
    return out


class _Scope:
    """`with builder.scope("s3", "b1"):` (a plain class: contextlib's generator is slow here)."""

    __slots__ = ("b", "parts", "saved")

    def __init__(self, b: IRBuilder, parts: tuple[str, ...]) -> None:
        self.b, self.parts = b, parts

    def __enter__(self) -> None:
        self.saved = self.b._prefix
        self.b._prefix += "".join(f"{p}." for p in self.parts)

    def __exit__(self, *exc: object) -> None:
        self.b._prefix = self.saved


class IRBuilder:
    """Builds an IR while inferring shapes; families call it, one method per op kind.

    Values are op names (strings); `self.input` is the model input.
    """

    def __init__(self, input_shape: Shape) -> None:
        self.input_shape = tuple(input_shape)
        self.input = INPUT
        self._ops: list[Op] = []
        self._shapes: dict[str, Shape] = {INPUT: self.input_shape}
        self._prefix = ""  # "s3.b1." inside scope("s3", "b1")

    # -- naming -------------------------------------------------------------
    def scope(self, *parts: str) -> _Scope:
        """Prefix the names of ops made inside with `parts` (e.g. "s3", "b1"); a context manager."""
        return _Scope(self, parts)

    def shape(self, value: str) -> Shape:
        return self._shapes[value]

    def emit(self, local: str, kind: str, inputs: Sequence[str], out_shape: Shape, **attrs: Any) -> str:
        """Append an op of any registered kind (modules adding op kinds use this)."""
        name = self._prefix + local
        shapes = self._shapes
        if name in shapes:
            raise ValueError(f"duplicate op name {name!r}")
        out = tuple(map(int, out_shape))
        if out and min(out) <= 0:
            raise ArchlibError(
                f"op {name} would produce an empty tensor of shape {out} from input "
                f"{self.input_shape}: the input resolution is too small for this model."
            )
        ins = tuple(inputs)
        self._ops.append(Op(name, kind, ins, tuple([shapes[i] for i in ins]), out, Attrs(attrs)))
        shapes[name] = out
        return name

    def finish(self, *, batch: int | None = None, notes: Sequence[str] = ()) -> IR:
        return validate(IR(self.input_shape, tuple(self._ops), batch, tuple(notes)))

    # -- ops ----------------------------------------------------------------
    def conv(self, name: str, x: str, out_ch: int, k: int | Sequence[int], *, stride: int = 1,
             padding: int | Sequence[int] | None = None, groups: int = 1, bias: bool = False,
             dilation: int = 1) -> str:
        c, h, w = self._shapes[x]
        kh, kw = _pair(k)
        sh, sw = _pair(stride)
        ph, pw = _pair(padding) if padding is not None else ((kh - 1) // 2 * dilation, (kw - 1) // 2 * dilation)
        if c % groups or out_ch % groups:
            raise ArchlibError(f"conv {self._prefix}{name}: channels {c}->{out_ch} are not divisible by groups={groups}.")
        oh = pool_out(h, kh, sh, ph, False, dilation)
        ow = pool_out(w, kw, sw, pw, False, dilation)
        return self.emit(name, "conv2d", [x], (out_ch, oh, ow), in_ch=c, out_ch=out_ch,
                          kernel=(kh, kw), stride=(sh, sw), padding=(ph, pw), dilation=dilation,
                          groups=groups, bias=bias)

    def bn(self, name: str, x: str, *, eps: float = 1e-5, momentum: float = 0.1) -> str:
        return self.emit(name, "bn2d", [x], self._shapes[x], channels=self._shapes[x][0],
                          eps=eps, momentum=momentum)

    def layernorm(self, name: str, x: str, *, eps: float = 1e-6) -> str:
        return self.emit(name, "layernorm", [x], self._shapes[x], dim=self._shapes[x][-1], eps=eps)

    def act(self, name: str, x: str, fn: str) -> str:
        if fn not in ACTIVATIONS:
            raise ValueError(f"unknown activation {fn!r}")
        return self.emit(name, "act", [x], self._shapes[x], fn=fn)

    def linear(self, name: str, x: str, out_f: int, *, bias: bool = True) -> str:
        shp = self._shapes[x]
        return self.emit(name, "linear", [x], (*shp[:-1], out_f), in_f=shp[-1], out_f=out_f, bias=bias)

    def _pool(self, kind: str, name: str, x: str, k: int, stride: int | None, padding: int,
              ceil_mode: bool) -> str:
        c, h, w = self._shapes[x]
        s = k if stride is None else stride
        out = (c, pool_out(h, k, s, padding, ceil_mode), pool_out(w, k, s, padding, ceil_mode))
        return self.emit(name, kind, [x], out, kernel=k, stride=s, padding=padding, ceil_mode=ceil_mode)

    def maxpool(self, name: str, x: str, k: int, *, stride: int | None = None, padding: int = 0,
                ceil_mode: bool = False) -> str:
        return self._pool("maxpool2d", name, x, k, stride, padding, ceil_mode)

    def avgpool(self, name: str, x: str, k: int, *, stride: int | None = None, padding: int = 0,
                ceil_mode: bool = False) -> str:
        return self._pool("avgpool2d", name, x, k, stride, padding, ceil_mode)

    def adaptive_avgpool(self, name: str, x: str, out: int | Sequence[int] = 1) -> str:
        oh, ow = _pair(out)
        return self.emit(name, "adaptive_avgpool2d", [x], (self._shapes[x][0], oh, ow), out=(oh, ow))

    def flatten(self, name: str, x: str) -> str:
        return self.emit(name, "flatten", [x], (numel(self._shapes[x]),))

    def dropout(self, name: str, x: str, p: float) -> str:
        return self.emit(name, "dropout", [x], self._shapes[x], p=p)

    def add(self, name: str, a: str, b: str) -> str:
        if self._shapes[a] != self._shapes[b]:
            raise ValueError(f"add {name}: shapes {self._shapes[a]} and {self._shapes[b]} differ")
        return self.emit(name, "add", [a, b], self._shapes[a])

    def mul(self, name: str, x: str, scale: str) -> str:
        """x * scale, where scale broadcasts (SE: (C,1,1) against (C,H,W))."""
        return self.emit(name, "mul", [x, scale], self._shapes[x])

    def concat(self, name: str, xs: Sequence[str]) -> str:
        shapes = [self._shapes[x] for x in xs]
        if any(s[1:] != shapes[0][1:] for s in shapes):
            raise ValueError(f"concat {name}: spatial shapes differ: {shapes}")
        return self.emit(name, "concat", xs, (sum(s[0] for s in shapes), *shapes[0][1:]))

    def channel_shuffle(self, name: str, x: str, groups: int) -> str:
        return self.emit(name, "channel_shuffle", [x], self._shapes[x], groups=groups)

    def channel_slice(self, name: str, x: str, start: int, stop: int) -> str:
        c, *rest = self._shapes[x]
        return self.emit(name, "slice", [x], (stop - start, *rest), start=start, stop=stop)

    # -- common compositions ------------------------------------------------
    def conv_bn_act(self, name: str, x: str, out_ch: int, k: int, *, stride: int = 1, groups: int = 1,
                    act: str | None = "relu", eps: float = 1e-5, momentum: float = 0.1,
                    padding: int | None = None) -> str:
        """conv (no bias) -> BN -> optional activation, named name.conv / name.bn / name.act."""
        with self.scope(name):
            y = self.conv("conv", x, out_ch, k, stride=stride, groups=groups, padding=padding)
            y = self.bn("bn", y, eps=eps, momentum=momentum)
            return self.act("act", y, act) if act else y

    def squeeze_excite(self, name: str, x: str, squeeze_ch: int, *, act: str = "relu",
                       gate: str = "sigmoid") -> str:
        """SE: global pool -> 1x1 conv -> act -> 1x1 conv -> gate -> scale x."""
        c = self._shapes[x][0]
        with self.scope(name):
            s = self.adaptive_avgpool("pool", x, 1)
            s = self.conv("fc1", s, squeeze_ch, 1, bias=True)
            s = self.act("act", s, act)
            s = self.conv("fc2", s, c, 1, bias=True)
            s = self.act("gate", s, gate)
            return self.mul("scale", x, s)


def validate(ir: IR) -> IR:
    """Check names are unique, producers precede consumers and groups are contiguous."""
    seen = {INPUT}
    closed: set[str] = set()
    open_prefixes: list[str] = []
    parent = None
    for op in ir.ops:
        if not seen.issuperset(op.inputs):
            raise ValueError(f"op {op.name} reads {sorted(set(op.inputs) - seen)} before they are produced")
        if op.name.rpartition(".")[0] == parent:  # same group as the op before: nothing opens or closes
            if op.name in closed:
                raise ValueError(f"op {op.name} reuses a group name")
            seen.add(op.name)
            continue
        parent = op.name.rpartition(".")[0]
        parts = op.name.split(".")
        prefixes = [".".join(parts[:n]) for n in range(1, len(parts))]
        keep = 0
        while keep < len(open_prefixes) and keep < len(prefixes) and open_prefixes[keep] == prefixes[keep]:
            keep += 1
        closed.update(open_prefixes[keep:])
        for p in prefixes[keep:]:
            if p in closed or p in seen:
                raise ValueError(f"group {p!r} is not contiguous (reopened by {op.name})")
        if op.name in closed:
            raise ValueError(f"op {op.name} reuses a group name")
        open_prefixes = prefixes
        seen.add(op.name)
    return ir
