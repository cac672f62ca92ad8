"""The torch importer's layout ops: reshapes, permutes, expands, indexing and splits.

Each is a view in the IR (no cost); its attributes hold the traced sizes (Batch(k) for k x
the batch) so the built module reshapes correctly at any batch size.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import fx

from archlib.core.tensor_ops import Batch
from archlib.importers.aten_ops import MULTI, _dim, _is_tensor, _sizes, handles, packet
from archlib.importers.torch_module import Lowering


def _out(L: Lowering, node: fx.Node, x: fx.Node) -> tuple:
    return L.sizes(node.meta["val"], L.batched([L.tensor(x, node)]))


def _identity(L: Lowering, node: fx.Node, x: fx.Node) -> bool:
    L.emit(node, "identity", [L.tensor(x, node)])
    return True


def _resized(kind: str) -> Any:
    """The handler of a view that only changes sizes (reshape, expand): the op `kind` at the traced
    output sizes, or an identity where they are unchanged."""
    def handler(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
        x = a["self"]
        if not _is_tensor(x):
            return False
        out = _out(L, node, x)
        if out == _sizes(L, x):
            return _identity(L, node, x)
        inputs = [L.tensor(x, node)]
        ref = L.batch_ref(inputs, any(isinstance(s, Batch) for s in out))
        L.emit(node, kind, inputs, sizes=out, shape=out, batch_ref=ref)
        return True
    return handler


_reshape = handles("view", "reshape", "_unsafe_view", "flatten", "unflatten", "squeeze", "unsqueeze", "view_as",
                   "reshape_as")(_resized("reshape"))
_expand = handles("expand", "expand_as", "broadcast_to")(_resized("expand"))


@handles("permute", "transpose", "t", "swapaxes", "swapdims", "numpy_T")
def _permute(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    x = a["self"]
    if not _is_tensor(x):
        return False
    rank = len(_sizes(L, x))
    name = packet(node)
    if name == "permute":
        dims = [_dim(int(d), rank) for d in a["dims"]]
    else:
        dims = list(range(rank))
        i, j = (0, 1) if name in ("t", "numpy_T") and rank == 2 else (
            (_dim(int(a.get("dim0", a.get("axis0", 0))), rank), _dim(int(a.get("dim1", a.get("axis1", 0))), rank))
            if name != "numpy_T" else (0, rank - 1))
        if name == "numpy_T":
            dims = dims[::-1]
        else:
            dims[i], dims[j] = dims[j], dims[i]
    if dims == list(range(rank)):
        return _identity(L, node, x)
    L.emit(node, "permute", [L.tensor(x, node)], sizes=_out(L, node, x), dims=tuple(dims))
    return True


@handles("contiguous", "clone", "alias", "detach", "lift_fresh_copy", "identity")
def _copy(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    x = a.get("self", a.get("input"))
    return _is_tensor(x) and _identity(L, node, x)


@handles("select")
def _select(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    x = a["self"]
    sizes = _sizes(L, x) if _is_tensor(x) else ()
    dim = _dim(int(a["dim"]), len(sizes)) if sizes else 0
    if not sizes or isinstance(sizes[dim], Batch) or not isinstance(a["index"], int):
        return False
    index = a["index"] + sizes[dim] if a["index"] < 0 else a["index"]
    L.emit(node, "select", [L.tensor(x, node)], sizes=_out(L, node, x), dim=dim, index=int(index))
    return True


@handles("slice")
def _slice(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    x = a["self"]
    if not _is_tensor(x):
        return False
    sizes = _sizes(L, x)
    dim = _dim(int(a["dim"]), len(sizes))
    out = _out(L, node, x)
    if out == sizes and (a["step"] or 1) == 1:
        return _identity(L, node, x)
    if isinstance(sizes[dim], Batch) or not all(isinstance(v, int) or v is None for v in (a["start"], a["end"])):
        return False
    start, stop, step = slice(a["start"], a["end"], a["step"] or 1).indices(sizes[dim])
    L.emit(node, "narrow", [L.tensor(x, node)], sizes=out, dim=dim, start=start, stop=stop, step=step)
    return True


@handles("split", "split_with_sizes", "chunk", "unsafe_split", "unbind", table=MULTI)
def _split(L: Lowering, node: fx.Node, a: dict[str, Any]) -> bool:
    """Note how each item is taken: a `narrow` per piece (a `select` per index for unbind)."""
    x = a["self"]
    if not _is_tensor(x):
        return False
    sizes = _sizes(L, x)
    dim = _dim(int(a["dim"]), len(sizes))
    if isinstance(sizes[dim], Batch):
        return False
    pieces = [int(t.shape[dim]) for t in node.meta["val"]] if packet(node) != "unbind" else []
    starts = [sum(pieces[:i]) for i in range(len(pieces))]
    L.multi[node.name] = (_item, (x, dim, packet(node) == "unbind", starts, pieces))
    return True


def _item(L: Lowering, node: fx.Node, data: tuple, i: int) -> None:
    x, dim, unbind, starts, pieces = data
    src = node.args[0]
    base = src.target._overloadpacket.__name__ if isinstance(src.target, torch._ops.OpOverload) else "item"
    if unbind:
        L.emit(node, "select", [L.tensor(x, node)], sizes=_out(L, node, x), base=base, dim=dim, index=i)
    else:
        L.emit(node, "narrow", [L.tensor(x, node)], sizes=_out(L, node, x), base=base, dim=dim, start=starts[i],
               stop=starts[i] + pieces[i], step=1)
