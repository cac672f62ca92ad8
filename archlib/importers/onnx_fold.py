"""Constant folding of an ONNX graph's shape arithmetic (Shape, Gather, Concat, ...), in numpy.

Nodes whose inputs are all constants (small integer tensors, scalars) and whose operator
is listed here are evaluated instead of becoming IR ops: they compute the sizes other
nodes use, not the model's activations. Only these operators are evaluated, on at most
MAX_ELEMS elements; nothing else in the file runs.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

MAX_ELEMS = 1_000_000


def _axes(a: dict[str, Any], ins: Sequence[Any], index: int = 1) -> list[int] | None:
    if len(ins) > index and ins[index] is not None:
        return [int(v) for v in np.asarray(ins[index]).ravel()]
    return list(a["axes"]) if "axes" in a else None


def _unsqueeze(a: dict, ins: list) -> np.ndarray:
    x = ins[0]
    axes = sorted(d + x.ndim + len(_axes(a, ins)) if d < 0 else d for d in _axes(a, ins))
    for d in axes:
        x = np.expand_dims(x, d)
    return x


def _squeeze(a: dict, ins: list) -> np.ndarray:
    axes = _axes(a, ins)
    return np.squeeze(ins[0], axis=tuple(axes)) if axes else np.squeeze(ins[0])


def _slice(a: dict, ins: list) -> np.ndarray:
    x = ins[0]
    starts, ends = np.asarray(ins[1]).ravel(), np.asarray(ins[2]).ravel()
    axes = _axes({}, ins, 3) or list(range(len(starts)))
    steps = np.asarray(ins[4]).ravel() if len(ins) > 4 and ins[4] is not None else np.ones(len(starts), int)
    index = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        index[int(ax)] = slice(int(s), int(e), int(st))
    return x[tuple(index)]


def _reshape(a: dict, ins: list) -> np.ndarray:
    shape = [int(v) for v in np.asarray(ins[1]).ravel()]
    if not a.get("allowzero", 0):
        shape = [ins[0].shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return ins[0].reshape(shape)


def _div(a: dict, ins: list) -> np.ndarray:
    x, y = ins
    if np.issubdtype(np.asarray(x).dtype, np.integer):
        return np.trunc(np.asarray(x) / np.asarray(y)).astype(np.asarray(x).dtype)
    return np.asarray(x) / np.asarray(y)


def _shape(a: dict, ins: list) -> np.ndarray:
    shape = np.asarray(ins[0].shape, dtype=np.int64)
    return shape[a.get("start", 0):a.get("end", None)]


def _constant_of_shape(a: dict, ins: list) -> np.ndarray:
    value = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
    shape = [int(v) for v in np.asarray(ins[0]).ravel()]
    return np.full(shape, value.ravel()[0], dtype=value.dtype)


def _range(a: dict, ins: list) -> np.ndarray:
    start, limit, delta = (np.asarray(v).item() for v in ins)
    return np.arange(start, limit, delta, dtype=np.asarray(ins[0]).dtype)


def _cast(a: dict, ins: list) -> np.ndarray:
    return np.asarray(ins[0]).astype(onnx.helper.tensor_dtype_to_np_dtype(a["to"]))


#: op type -> f(attributes, input arrays) -> output array (one output)
FOLD: dict[str, Callable[[dict, list], Any]] = {
    "Identity": lambda a, i: i[0], "Shape": _shape, "Size": lambda a, i: np.asarray(i[0].size, np.int64),
    "Gather": lambda a, i: np.take(i[0], np.asarray(i[1]), axis=a.get("axis", 0)),
    "Unsqueeze": _unsqueeze, "Squeeze": _squeeze, "Slice": _slice, "Reshape": _reshape, "Cast": _cast,
    "Concat": lambda a, i: np.concatenate([np.atleast_1d(v) for v in i], axis=a["axis"]),
    "Add": lambda a, i: np.add(*i), "Sub": lambda a, i: np.subtract(*i), "Mul": lambda a, i: np.multiply(*i),
    "Div": _div, "Neg": lambda a, i: np.negative(i[0]), "Abs": lambda a, i: np.abs(i[0]),
    "Equal": lambda a, i: np.equal(*i), "Less": lambda a, i: np.less(*i), "Greater": lambda a, i: np.greater(*i),
    "Not": lambda a, i: np.logical_not(i[0]), "Where": lambda a, i: np.where(*i),
    "Min": lambda a, i: np.minimum.reduce(i), "Max": lambda a, i: np.maximum.reduce(i),
    "Floor": lambda a, i: np.floor(i[0]), "Ceil": lambda a, i: np.ceil(i[0]), "Sqrt": lambda a, i: np.sqrt(i[0]),
    "ConstantOfShape": _constant_of_shape, "Range": _range,
    "Expand": lambda a, i: i[0] * np.ones([int(v) for v in np.asarray(i[1]).ravel()], dtype=i[0].dtype),
    "Transpose": lambda a, i: np.transpose(i[0], a.get("perm")),
    "ReduceProd": lambda a, i: np.prod(i[0], axis=tuple(_axes(a, i) or range(i[0].ndim)),
                                       keepdims=bool(a.get("keepdims", 1))),
}


def constant(node: onnx.NodeProto) -> np.ndarray | onnx.TensorProto:
    """The value of a Constant node (its TensorProto when it holds a tensor: maybe a weight)."""
    a = {x.name: x for x in node.attribute}
    if "value" in a:
        return a["value"].t
    for key, conv in (("value_float", np.float32), ("value_int", np.int64)):
        if key in a:
            return np.asarray(onnx.helper.get_attribute_value(a[key]), dtype=conv)
    for key, conv in (("value_floats", np.float32), ("value_ints", np.int64)):
        if key in a:
            return np.asarray(list(onnx.helper.get_attribute_value(a[key])), dtype=conv)
    raise ValueError(f"Constant {node.name!r}: a kind of value archlib does not read")


def fold(op_type: str, attrs: dict[str, Any], inputs: list[Any]) -> np.ndarray | None:
    """The folded value, or None when the operator is not folded or the result is too large."""
    fn = FOLD.get(op_type)
    if fn is None or any(np.asarray(v).size > MAX_ELEMS for v in inputs if v is not None):
        return None
    try:
        out = np.asarray(fn(attrs, inputs))
    except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, MemoryError):
        return None
    return out if out.size <= MAX_ELEMS else None
