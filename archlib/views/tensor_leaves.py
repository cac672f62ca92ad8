"""Torch leaves of the imported graphs' op kinds (archlib.core.tensor_ops), one factory each.

Sizes in their attributes may be Batch(k): k x the batch, found at run time from the
input that `batch_ref = (index, per-sample numel)` names. Nothing here evaluates text: an
elementwise op is looked up in a fixed table, an `other` op only among torch's aten ops.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from archlib.core.tensor_ops import ELTWISE, REDUCTIONS, resolve
from archlib.errors import ArchlibError

A = Mapping[str, Any]

_FN = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b, "maximum": torch.maximum, "minimum": torch.minimum, "sqrt": torch.sqrt,
    "rsqrt": torch.rsqrt, "exp": torch.exp, "log": torch.log, "neg": torch.neg, "abs": torch.abs,
    "tanh": torch.tanh, "erf": torch.erf, "reciprocal": torch.reciprocal, "floor": torch.floor,
    "ceil": torch.ceil, "sin": torch.sin, "cos": torch.cos, "square": torch.square,
    "clamp": lambda x, lo=None, hi=None: torch.clamp(x, lo, hi),
    "leaky_relu": lambda x, slope=0.01: F.leaky_relu(x, slope),
    "elu": lambda x, alpha=1.0: F.elu(x, alpha),
    "softplus": lambda x, beta=1.0, threshold=20.0: F.softplus(x, beta, threshold),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "hard_sigmoid": lambda x, alpha=0.2, beta=0.5: torch.clamp(x * alpha + beta, 0.0, 1.0),
    "where": torch.where, "mish": F.mish,
    "prelu": lambda x, slope: torch.where(x >= 0, x, x * slope),  # ONNX's PRelu: the slope broadcasts
}
assert set(_FN) == set(ELTWISE), "every elementwise fn of archlib.core.tensor_ops has a torch function"


def _batch(xs: tuple[torch.Tensor, ...], ref: Any) -> int:
    if ref is None:
        return 1
    i, unit = ref
    return xs[i].numel() // unit


def _runtime(device: torch.device):
    def get(what: str) -> Any:
        if what == "device":
            return device
        value = getattr(torch, what.rpartition(".")[2], None)
        if not isinstance(value, (torch.dtype, torch.memory_format, torch.layout)):
            raise ArchlibError(f"unknown runtime value {what!r} in an imported op.")
        return value
    return get


class Param(nn.Module):
    """A learned tensor (or buffer) that ops read directly: random values, the traced shape and dtype."""

    def __init__(self, shape: tuple[int, ...], role: str, dtype: str) -> None:
        super().__init__()
        dt = getattr(torch, dtype.rpartition(".")[2], torch.float32)
        value = torch.randn(shape).mul_(0.02).to(dt) if dt.is_floating_point else torch.zeros(shape, dtype=dt)
        if role == "param" and dt.is_floating_point:
            self.value = nn.Parameter(value)
        else:
            self.register_buffer("value", value, persistent=role != "constant")

    def forward(self) -> torch.Tensor:
        # not the leaf itself: module hooks (FlopCounterMode's tracker) expect an op's output
        return self.value.view_as(self.value) if torch.is_grad_enabled() else self.value.detach()


class Sized(nn.Module):
    """reshape / expand to traced sizes, the batch read from the input `batch_ref` names."""

    def __init__(self, method: str, shape: tuple, batch_ref: Any) -> None:
        super().__init__()
        self.method, self.shape, self.batch_ref = method, shape, batch_ref

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        n = _batch(xs, self.batch_ref)
        return getattr(xs[0], self.method)(resolve(self.shape, tensors=xs, batch=n, runtime=None))

    def extra_repr(self) -> str:
        return f"{self.method} to ({', '.join(map(str, self.shape))})"


class Call(nn.Module):
    """One call of a fixed function on the inputs (permute, select, narrow, pad, reductions, ...)."""

    def __init__(self, fn: Any, label: str, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.fn, self.label, self.args, self.kwargs = fn, label, args, kwargs

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.fn(*xs, *self.args, **self.kwargs)

    def extra_repr(self) -> str:
        return self.label


class Eltwise(nn.Module):
    def __init__(self, fn: str, args: tuple) -> None:
        super().__init__()
        if fn not in _FN:
            raise ArchlibError(f"unknown elementwise function {fn!r}; known: {', '.join(_FN)}.")
        self.fn, self.args = fn, args

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return _FN[self.fn](*resolve(self.args, tensors=xs, batch=1, runtime=None))

    def extra_repr(self) -> str:
        return self.fn


class Other(nn.Module):
    """An aten op outside the vocabulary, called as traced (only torch.ops.aten ops are looked up)."""

    def __init__(self, target: str, args: tuple, kwargs: tuple, batch_ref: Any, item: int | None) -> None:
        super().__init__()
        parts = target.split(".")
        if len(parts) != 3 or parts[0] != "aten":
            raise ArchlibError(f"{target!r} is not an aten operator: an imported `other` op must be one.")
        self.op = getattr(getattr(torch.ops.aten, parts[1]), parts[2])
        self.target, self.args, self.kwargs, self.batch_ref, self.item = target, args, dict(kwargs), batch_ref, item

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        n = _batch(xs, self.batch_ref)
        device = xs[0].device if xs else torch.device("cpu")
        rt = _runtime(device)
        out = self.op(*resolve(self.args, tensors=xs, batch=n, runtime=rt),
                      **{k: resolve(v, tensors=xs, batch=n, runtime=rt) for k, v in self.kwargs.items()})
        return out[self.item] if self.item is not None else out

    def extra_repr(self) -> str:
        return self.target


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *mask: torch.Tensor, **kw: Any) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask[0] if mask else None, **kw)


def _reduce(fn: str):
    if fn not in REDUCTIONS:
        raise ArchlibError(f"unknown reduction {fn!r}; known: {', '.join(REDUCTIONS)}.")
    return getattr(torch, fn)


# -- factories named after their kinds -------------------------------------------------
def param(a: A) -> nn.Module:
    return Param(tuple(a["shape"]), a.get("role", "param"), a.get("dtype", "float32"))


def reshape(a: A) -> nn.Module:
    return Sized("reshape", tuple(a["shape"]), a.get("batch_ref"))


def expand(a: A) -> nn.Module:
    return Sized("expand", tuple(a["shape"]), a.get("batch_ref"))


def permute(a: A) -> nn.Module:
    return Call(torch.permute, f"dims={tuple(a['dims'])}", tuple(a["dims"]))


def select(a: A) -> nn.Module:
    return Call(torch.select, f"dim={a['dim']}, index={a['index']}", a["dim"], a["index"])


def narrow(a: A) -> nn.Module:
    dim, sl = a["dim"], slice(a["start"], a["stop"], a.get("step", 1))
    return Call(lambda x: x[(slice(None),) * dim + (sl,)], f"dim={dim}, {sl.start}:{sl.stop}:{sl.step}")


def identity(a: A) -> nn.Module:
    return nn.Identity()


def pad(a: A) -> nn.Module:
    mode = a.get("mode", "constant")
    kw = {"value": a.get("value", 0.0)} if mode == "constant" else {}  # only constant padding takes a value
    return Call(F.pad, f"pads={tuple(a['pads'])}, {mode}", tuple(a["pads"]), mode=mode, **kw)


def eltwise(a: A) -> nn.Module:
    return Eltwise(a["fn"], tuple(a["args"]))


def reduce(a: A) -> nn.Module:
    fn = _reduce(a["fn"])
    return Call(fn, f"{a['fn']} over {tuple(a['dims'])}", tuple(a["dims"]), keepdim=a["keepdim"])


def sdpa(a: A) -> nn.Module:
    kw = {"is_causal": a.get("is_causal", False), "scale": a.get("scale"), "enable_gqa": a.get("enable_gqa", False)}
    return Call(_sdpa, "scaled_dot_product_attention", **kw)


def other(a: A) -> nn.Module:
    return Other(a["target"], tuple(a["args"]), tuple(a["kwargs"]), a.get("batch_ref"), a.get("item"))
