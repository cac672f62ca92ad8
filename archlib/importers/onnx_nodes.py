"""The ONNX importer's vocabulary: one handler per operator type it maps to an IR op kind."""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from archlib.core.tensor_ops import Batch
from archlib.importers.onnx_file import attrs_of
from archlib.importers.onnx_ops import OnnxLowering, Unsupported, handles, scope_of, template

N = onnx.NodeProto


def _in(node: N, i: int) -> str | None:
    return node.input[i] if len(node.input) > i and node.input[i] else None


def _one_output(L: OnnxLowering, node: N) -> None:
    if any(o and L.consumers.get(o) for o in node.output[1:]) or any(
            o in {x.name for x in L.m.model.graph.output} for o in node.output[1:]):
        raise Unsupported("its extra outputs are used")


def _dim(d: int, rank: int) -> int:
    return d + rank if d < 0 else d


def _plain(L: OnnxLowering, i: int, node: N, kind: str, **attrs: Any) -> None:
    _one_output(L, node)
    L.emit(i, node, kind, [L.value(node.input[0], node, i)], node.output[0], **attrs)


def _pads(a: dict[str, Any], node: N, L: OnnxLowering, k: tuple[int, int], s: tuple[int, int],
          d: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) from pads or auto_pad."""
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("NOTSET", ""):
        p = list(a.get("pads", [0, 0, 0, 0]))
        return p[0], p[1], p[2], p[3]
    if auto == "VALID":
        return 0, 0, 0, 0
    ins = L.s1[node.input[0]][2:]
    out = []
    for size, kk, ss, dd in zip(ins, k, s, d):
        total = max((-(-size // ss) - 1) * ss + (kk - 1) * dd + 1 - size, 0)
        out.append((total // 2, total - total // 2) if auto == "SAME_UPPER" else (total - total // 2, total // 2))
    return out[0][0], out[1][0], out[0][1], out[1][1]


# -- layers with weights -----------------------------------------------------------
@handles("Conv")
def _conv(L: OnnxLowering, i: int, node: N) -> None:
    x, w, b = node.input[0], node.input[1], _in(node, 2)
    xs = L.sizes(x)
    if len(xs) != 4 or w not in L.weights or len(L.weights[w]) != 4:
        raise Unsupported("archlib models 2-D convolutions with an initializer weight")
    a = attrs_of(node)
    cout, cin_g, kh, kw = L.weights[w]
    k = tuple(a.get("kernel_shape", (kh, kw)))
    s, d, g = tuple(a.get("strides", (1, 1))), tuple(a.get("dilations", (1, 1))), int(a.get("group", 1))
    t, left, bottom, right = _pads(a, node, L, k, s, d)
    ref = L.value(x, node, i)
    if (t, left) != (bottom, right):  # asymmetric ("SAME" in TF exports): an explicit pad, then the conv
        _, base = scope_of(node, i)
        padded = (*xs[:2], xs[2] + t + bottom, xs[3] + left + right)
        ref = L.emit(i, node, "pad", [ref], f"{node.output[0]}#pad", base=f"{base}_pad", sizes=padded,
                     pads=(left, right, t, bottom), mode="constant", value=0.0)
        t = left = 0
    shared = L.own(weight=w, bias=b)
    L.emit(i, node, "conv2d", [ref], node.output[0], in_ch=cin_g * g, out_ch=cout, kernel=(kh, kw), stride=s,
           padding=(t, left), dilation=d, groups=g, bias=b is not None, **shared)


@handles("Gemm")
def _gemm(L: OnnxLowering, i: int, node: N) -> None:
    a = attrs_of(node)
    x, w, c = node.input[0], node.input[1], _in(node, 2)
    if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or (c and a.get("beta", 1.0) != 1.0):
        raise Unsupported("archlib models Gemm as x W^T + b (transA=0, alpha=beta=1)")
    if w not in L.weights:
        return _matmul_of(L, i, node, x, w, transpose=bool(a.get("transB", 0)), bias=c)
    k, n = L.weights[w][::-1] if a.get("transB", 0) else L.weights[w]
    if c is not None and (c not in L.weights or np.prod(L.weights[c]) != n):
        raise Unsupported("its C is not a bias of one value per output")
    shared = L.own(weight=w, bias=c)
    L.emit(i, node, "linear", [L.value(x, node, i)], node.output[0], in_f=k, out_f=n, bias=c is not None, **shared)


@handles("MatMul")
def _matmul(L: OnnxLowering, i: int, node: N) -> None:
    x, w = node.input
    if w in L.weights and len(L.weights[w]) == 2 and x not in L.weights:
        k, n = L.weights[w]
        bias, out = _bias_after(L, node, n)
        shared = L.own(weight=w, bias=bias)
        L.emit(i, node, "linear", [L.value(x, node, i)], out, in_f=k, out_f=n, bias=bias is not None, **shared)
        return
    _matmul_of(L, i, node, x, w)


def _bias_after(L: OnnxLowering, node: N, n: int) -> tuple[str | None, str]:
    """x @ W followed by its only reader `+ b` (b: n weights): one linear layer with a bias."""
    users = L.consumers.get(node.output[0], [])
    if len(users) == 1:
        add = L.nodes[users[0]]
        other = [v for v in add.input if v != node.output[0]]
        if add.op_type == "Add" and len(other) == 1 and L.weights.get(other[0]) == (n,):
            L.skip.add(users[0])
            return other[0], add.output[0]
    return None, node.output[0]


def _matmul_of(L: OnnxLowering, i: int, node: N, x: str, w: str, *, transpose: bool = False,
               bias: str | None = None) -> None:
    xs = L.sizes(x)
    if len(xs) < 2 or len(L.sizes(w)) < 2 or isinstance(xs[-1], Batch):
        raise Unsupported("archlib models matrix products of operands with two or more axes")
    a, b = L.value(x, node, i), L.value(w, node, i)
    _, base = scope_of(node, i)
    if transpose:
        ws = L.sizes(w, False)
        perm = (*range(len(ws) - 2), len(ws) - 1, len(ws) - 2)
        b = L.emit(i, node, "permute", [b], f"{node.output[0]}#t", base=f"{base}_t",
                   sizes=tuple(ws[p] for p in perm), dims=perm)
    out = node.output[0] if bias is None else f"{node.output[0]}#mm"
    L.emit(i, node, "matmul", [a, b], out, inner=int(xs[-1]),
           sizes=None if bias is None else L.sizes(node.output[0]))
    if bias is not None:
        L.emit(i, node, "add", [L.values[out], L.value(bias, node, i)], node.output[0], base=f"{base}_bias")


@handles("BatchNormalization")
def _batchnorm(L: OnnxLowering, i: int, node: N) -> None:
    _one_output(L, node)
    x, scale, b, mean, var = node.input[:5]
    if len(L.sizes(x)) != 4:
        raise Unsupported("archlib models BatchNorm over (N, C, H, W)")
    a = attrs_of(node)
    shared = L.own(weight=scale, bias=b, running_mean=mean, running_var=var)
    L.emit(i, node, "bn2d", [L.value(x, node, i)], node.output[0], channels=L.weights[scale][0],
           eps=float(a.get("epsilon", 1e-5)), momentum=1.0 - float(a.get("momentum", 0.9)), **shared)


@handles("LayerNormalization")
def _layernorm(L: OnnxLowering, i: int, node: N) -> None:
    _one_output(L, node)
    x, scale, b = node.input[0], node.input[1], _in(node, 2)
    xs = L.sizes(x)
    axis = _dim(int(attrs_of(node).get("axis", -1)), len(xs))
    shape = xs[axis:]
    if any(isinstance(d, Batch) for d in shape):
        raise Unsupported("it normalises over the batch axis")
    shared = L.own(weight=scale, bias=b)
    L.emit(i, node, "layernorm", [L.value(x, node, i)], node.output[0], shape=tuple(shape),
           eps=float(attrs_of(node).get("epsilon", 1e-5)), affine=True, bias=b is not None, **shared)


# -- activations and elementwise ---------------------------------------------------------------
@handles("Relu", "HardSwish")
def _act(L: OnnxLowering, i: int, node: N) -> None:
    _plain(L, i, node, "act", fn={"Relu": "relu", "HardSwish": "hardswish"}[node.op_type])


@handles("Sigmoid")
def _sigmoid(L: OnnxLowering, i: int, node: N) -> None:
    """sigmoid(x), or x * sigmoid(x) (its only reader multiplying it by x) as one SiLU."""
    x, y = node.input[0], node.output[0]
    users = L.consumers.get(y, [])
    if len(users) == 1:
        mul = L.nodes[users[0]]
        if mul.op_type == "Mul" and sorted(mul.input) == sorted([x, y]):
            L.skip.add(users[0])
            L.emit(users[0], mul, "act", [L.value(x, node, i)], mul.output[0], fn="silu")
            return
    _plain(L, i, node, "act", fn="sigmoid")


@handles("HardSigmoid")
def _hardsigmoid(L: OnnxLowering, i: int, node: N) -> None:
    a = attrs_of(node)
    alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
    if abs(alpha - 1 / 6) < 1e-6 and beta == 0.5:
        return _plain(L, i, node, "act", fn="hardsigmoid")
    _eltwise(L, i, node, "hard_sigmoid", [node.input[0]], extra=(alpha, beta))


@handles("Clip")
def _clip(L: OnnxLowering, i: int, node: N) -> None:
    a = attrs_of(node)
    lo = L.scalar(node.input[1]) if _in(node, 1) else a.get("min")
    hi = L.scalar(node.input[2]) if _in(node, 2) else a.get("max")
    if (_in(node, 1) and lo is None) or (_in(node, 2) and hi is None):
        raise Unsupported("its bounds are not constants")
    if (lo, hi) == (0.0, 6.0):
        return _plain(L, i, node, "act", fn="relu6")
    _eltwise(L, i, node, "clamp", [node.input[0]], extra=(lo, hi))


@handles("Gelu")
def _gelu(L: OnnxLowering, i: int, node: N) -> None:
    approx = attrs_of(node).get("approximate", b"none")
    if (approx.decode() if isinstance(approx, bytes) else approx) == "tanh":
        return _eltwise(L, i, node, "gelu_tanh", [node.input[0]])
    _plain(L, i, node, "act", fn="gelu")


_UNARY = {"Tanh": "tanh", "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Reciprocal": "reciprocal", "Neg": "neg",
          "Abs": "abs", "Erf": "erf", "Floor": "floor", "Ceil": "ceil", "Sin": "sin", "Cos": "cos", "Mish": "mish"}


@handles(*_UNARY)
def _unary(L: OnnxLowering, i: int, node: N) -> None:
    _eltwise(L, i, node, _UNARY[node.op_type], [node.input[0]])


@handles("LeakyRelu", "Elu", "Softplus")
def _param_act(L: OnnxLowering, i: int, node: N) -> None:
    a = attrs_of(node)
    if node.op_type == "Softplus":
        return _eltwise(L, i, node, "softplus", [node.input[0]])
    default = 0.01 if node.op_type == "LeakyRelu" else 1.0
    _eltwise(L, i, node, "leaky_relu" if node.op_type == "LeakyRelu" else "elu", [node.input[0]],
             extra=(float(a.get("alpha", default)),))


@handles("PRelu")
def _prelu(L: OnnxLowering, i: int, node: N) -> None:
    _eltwise(L, i, node, "prelu", list(node.input[:2]))


_BINARY = {"Add": "add", "Mul": "mul", "Sub": "sub", "Div": "div", "Pow": "pow", "Max": "maximum",
           "Min": "minimum", "Where": "where"}


@handles(*_BINARY)
def _binary(L: OnnxLowering, i: int, node: N) -> None:
    fn = _BINARY[node.op_type]
    names = list(node.input)
    if fn in ("maximum", "minimum") and len(names) == 2 and any(L.scalar(n) is not None for n in names):
        x = next(n for n in names if L.scalar(n) is None)
        bound = next(L.scalar(n) for n in names if L.scalar(n) is not None)
        return _eltwise(L, i, node, "clamp", [x], extra=(bound, None) if fn == "maximum" else (None, bound))
    if fn in ("add", "mul") and all(L.scalar(n) is None for n in names):
        L.emit(i, node, fn, [L.value(n, node, i) for n in names], node.output[0])
        return
    if len(names) != (3 if fn == "where" else 2):
        raise Unsupported("archlib models it with two operands")
    _eltwise(L, i, node, fn, names)


def _eltwise(L: OnnxLowering, i: int, node: N, fn: str, names: list[str], extra: tuple = ()) -> None:
    inputs: list[int | str] = []
    args = template(L, node, i, names, inputs) + tuple(extra)
    if not inputs:
        raise Unsupported("none of its operands is a tensor")
    L.emit(i, node, "eltwise", inputs, node.output[0], fn=fn, args=args)


@handles("Softmax")
def _softmax(L: OnnxLowering, i: int, node: N) -> None:
    rank = len(L.sizes(node.input[0]))
    opset = next((o.version for o in L.m.model.opset_import if o.domain in ("", "ai.onnx")), 13)
    axis = _dim(int(attrs_of(node).get("axis", -1 if opset >= 13 else 1)), rank)
    if opset < 13 and axis != rank - 1:
        raise Unsupported("before opset 13 Softmax flattens from its axis; archlib models the last axis only")
    _plain(L, i, node, "softmax", dim=axis)


@handles("Identity", "Dropout")
def _identity(L: OnnxLowering, i: int, node: N) -> None:
    _plain(L, i, node, "identity")


@handles("Cast")
def _cast(L: OnnxLowering, i: int, node: N) -> None:
    if attrs_of(node).get("to") not in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
                                        onnx.TensorProto.BFLOAT16):
        raise Unsupported("a cast of activations to a non-floating type")
    _plain(L, i, node, "identity")
