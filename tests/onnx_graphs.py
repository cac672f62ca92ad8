"""Small ONNX graphs built with onnx.helper for the importer's tests (one per mapped operator)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 20


def weight(name: str, *shape: int, seed: int = 0) -> TensorProto:
    return numpy_helper.from_array(np.random.default_rng(seed).normal(size=shape).astype(np.float32), name)


def const(name: str, values, dtype=np.int64) -> TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def model(nodes, inits=(), *, shape=(1, 4, 8, 8), out="y", opset: int = OPSET) -> onnx.ModelProto:
    """x of `shape` (a str dim is symbolic) -> nodes -> `out`."""
    g = helper.make_graph(list(nodes), "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)
    inferred = onnx.shape_inference.infer_shapes(m)  # the output's type as an exporter would write it
    typed = {v.name: v for v in (*inferred.graph.value_info, *inferred.graph.output)}
    if out in typed and typed[out].type.tensor_type.HasField("shape"):
        m.graph.output[0].CopyFrom(typed[out])
    else:  # unknown here: a rank-free shape, as some exporters write
        m.graph.output[0].type.tensor_type.shape.SetInParent()
    return m


def save(m: onnx.ModelProto, folder: Path, name: str) -> Path:
    path = folder / f"{name}.onnx"
    onnx.save(m, path)
    return path


N = helper.make_node

#: case -> (model, expected op kinds in order (params rows left out), MACs, params, output shape per sample)
CASES = {
    "conv_groups_dilation_stride": (
        model([N("Conv", ["x", "w", "b"], ["y"], group=2, dilations=[2, 2], strides=[2, 2], pads=[2, 2, 2, 2])],
              [weight("w", 6, 2, 3, 3), weight("b", 6)]),
        ["conv2d"], 6 * 4 * 4 * 2 * 9, 6 * 2 * 9 + 6, (6, 4, 4)),
    "conv_asymmetric_pads": (
        model([N("Conv", ["x", "w"], ["y"], pads=[0, 0, 1, 1], strides=[2, 2])], [weight("w", 8, 4, 3, 3)]),
        ["pad", "conv2d"], 8 * 4 * 4 * 36, 8 * 36, (8, 4, 4)),
    "conv_same_upper": (
        model([N("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])], [weight("w", 8, 4, 3, 3)]),
        ["pad", "conv2d"], 8 * 4 * 4 * 36, 8 * 36, (8, 4, 4)),
    "gemm_transB": (
        model([N("Flatten", ["x"], ["f"]), N("Gemm", ["f", "w", "b"], ["y"], transB=1)],
              [weight("w", 10, 256), weight("b", 10)]),
        ["reshape", "linear"], 2560, 2570, (10,)),
    "matmul_add_is_linear": (
        model([N("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]), N("MatMul", ["t", "w"], ["m"]),
               N("Add", ["m", "b"], ["y"])], [weight("w", 4, 6), weight("b", 6)]),
        ["permute", "linear"], 64 * 24, 30, (8, 8, 6)),
    "matmul_of_activations": (
        model([N("Reshape", ["x", "s"], ["r"]), N("Transpose", ["r"], ["t"], perm=[0, 2, 1]),
               N("MatMul", ["r", "t"], ["y"])], [const("s", [1, 4, 64])]),
        ["reshape", "permute", "matmul"], 4 * 4 * 64, 0, (4, 4)),
    "batchnorm_relu_clip6": (
        model([N("BatchNormalization", ["x", "g", "be", "mu", "var"], ["n"]), N("Relu", ["n"], ["r"]),
               N("Clip", ["r", "lo", "hi"], ["y"])],
              [weight("g", 4), weight("be", 4), weight("mu", 4), weight("var", 4), const("lo", 0.0, np.float32),
               const("hi", 6.0, np.float32)]),
        ["bn2d", "act", "act"], 0, 8, (4, 8, 8)),
    "layernorm_over_last_axis": (
        model([N("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
               N("LayerNormalization", ["t", "g", "b"], ["y"], axis=-1, epsilon=1e-6)],
              [weight("g", 4), weight("b", 4)]),
        ["permute", "layernorm"], 0, 8, (8, 8, 4)),
    "activations": (
        model([N("HardSwish", ["x"], ["a"]), N("HardSigmoid", ["a"], ["b"], alpha=1 / 6), N("Gelu", ["b"], ["c"]),
               N("Sigmoid", ["c"], ["s"]), N("Mul", ["c", "s"], ["d"]), N("Sigmoid", ["d"], ["e"]),
               N("Clip", ["e", "lo"], ["y"])], [const("lo", 0.5, np.float32)]),
        ["act", "act", "act", "act", "act", "eltwise"], 0, 0, (4, 8, 8)),
    "add_mul_with_weights_and_scalars": (
        model([N("Add", ["x", "x"], ["a"]), N("Mul", ["a", "g"], ["b"]), N("Mul", ["b", "k"], ["c"]),
               N("Sub", ["c", "x"], ["d"]), N("Div", ["d", "k"], ["y"])],
              [weight("g", 4, 1, 1), const("k", 0.5, np.float32)]),
        ["add", "mul", "eltwise", "eltwise", "eltwise"], 0, 4, (4, 8, 8)),
    "pools": (
        model([N("MaxPool", ["x"], ["m"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
               N("AveragePool", ["m"], ["a"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
               N("GlobalAveragePool", ["a"], ["y"])]),
        ["maxpool2d", "avgpool2d", "adaptive_avgpool2d"], 0, 0, (4, 1, 1)),
    "reduce_mean_opset18_axes_input": (
        model([N("ReduceMean", ["x", "ax"], ["y"], keepdims=0)], [const("ax", [2, 3])]),
        ["reduce"], 0, 0, (4,)),
    "concat_split": (
        model([N("Split", ["x", "sp"], ["a", "b"], axis=1), N("Concat", ["b", "a", "x"], ["y"], axis=1)],
              [const("sp", [1, 3])]),
        ["narrow", "narrow", "concat"], 0, 0, (8, 8, 8)),
    "reshape_flatten_squeeze_unsqueeze": (
        model([N("Unsqueeze", ["x", "ax"], ["u"]), N("Squeeze", ["u", "ax"], ["s"]),
               N("Reshape", ["s", "shp"], ["r"]), N("Flatten", ["r"], ["y"], axis=1)],
              [const("ax", [2]), const("shp", [1, 16, 16])]),
        ["reshape", "reshape", "reshape", "reshape"], 0, 0, (256,)),
    "gather_slice_transpose_softmax": (
        model([N("Gather", ["x", "i"], ["g"], axis=1), N("Slice", ["g", "st", "en", "axs"], ["s"]),
               N("Transpose", ["s"], ["t"], perm=[0, 2, 1]), N("Softmax", ["t"], ["y"], axis=-1)],
              [const("i", 2), const("st", [1]), const("en", [7]), const("axs", [1])]),
        ["select", "narrow", "permute", "softmax"], 0, 0, (8, 6)),
    "dynamic_input": (
        model([N("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), N("GlobalAveragePool", ["c"], ["g"]),
               N("Flatten", ["g"], ["f"]), N("Gemm", ["f", "fw"], ["y"], transB=1)],
              [weight("w", 8, 4, 3, 3), weight("fw", 5, 8)], shape=("batch", 4, "h", "w")),
        ["conv2d", "adaptive_avgpool2d", "reshape", "linear"], 8 * 36 * 64 + 40, 8 * 36 + 40, (5,)),
    "shape_arithmetic_is_folded": (
        model([N("Shape", ["x"], ["sh"]), N("Gather", ["sh", "zero"], ["n"]), N("Unsqueeze", ["n", "ax0"], ["n1"]),
               N("Concat", ["n1", "minus"], ["target"], axis=0), N("Reshape", ["x", "target"], ["y"])],
              [const("zero", 0), const("ax0", [0]), const("minus", [-1])], shape=("batch", 4, 8, 8)),
        ["reshape"], 0, 0, (256,)),
}
