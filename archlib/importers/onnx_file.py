"""An ONNX file as an IR: read with the onnx package, checked, shapes inferred; nothing in it runs.

The file is parsed (protobuf), checked (onnx.checker), and its shapes inferred
(onnx.shape_inference with data propagation) at the input size: the file's own, or the
one given where its input is dynamic. Weight values are never loaded: only their shapes.
A file over the size limit, one that is not ONNX or is truncated, one whose external
weight data is missing, or one with an operator archlib cannot cost gets one clear
ArchlibError, and nothing is kept.

Parameters are the file's floating-point weights: initializers (and Constant nodes) of
more than one element; single numbers are the arithmetic's constants (Clip bounds,
scales). Exporters fold each BatchNorm into the convolution before it, so a file has C
fewer parameters than its module per BatchNorm after a bias-free convolution (the
folded bias replaces the BN's scale and shift), 2C after a convolution with a bias.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto

from archlib.errors import ArchlibError

MAX_FILE_BYTES = 512 * 2**20
FLOAT_TYPES = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16)
WEIGHT_KEY = "archlib.weight"  # the skeleton marks each weight it turned into a graph input
FOLDED_BN_NOTE = ("Parameters are the file's weights. Exporters fold each BatchNorm into the convolution before it, "
                  "so a file has C fewer parameters than its module per BatchNorm after a bias-free convolution "
                  "(2C after one with a bias) and no BN rows; MACs are unchanged.")


@dataclass(frozen=True, eq=False)
class OnnxModel:
    """A parsed and checked ONNX file (weights' values not loaded); compared by identity."""

    name: str                         # how it is called (its file name)
    sha256: str
    size: int                         # bytes
    model: onnx.ModelProto            # the skeleton: graph, shapes and small constants
    input_name: str
    batch: int | None                 # the file's batch size, None when dynamic
    dims: tuple[int | None, ...]      # per-sample input sizes, None where the file leaves them open
    producer: str

    @property
    def dynamic(self) -> tuple[int, ...]:
        """Positions (in the per-sample shape) of the input sizes the file leaves open."""
        return tuple(i for i, d in enumerate(self.dims) if d is None)

    def input_shape(self, given: Sequence[int] | None = None) -> tuple[int, ...]:
        """The per-sample input shape: the file's, with `given` filling (or confirming) it."""
        if given is None:
            if self.dynamic:
                shown = "x".join("?" if d is None else str(d) for d in self.dims)
                raise ArchlibError(f"{self.name}: the input's size is dynamic ({shown} per sample): give it, e.g. "
                                   f"--input {','.join(str(d or 224) for d in self.dims)} (input_shape= in Python).")
            return tuple(int(d) for d in self.dims)
        shape = tuple(int(d) for d in given)
        if len(shape) != len(self.dims) or any(d is not None and d != s for d, s in zip(self.dims, shape)):
            shown = ",".join("?" if d is None else str(d) for d in self.dims)
            raise ArchlibError(f"{self.name}: input {','.join(map(str, shape))} is not allowed: the file's input is "
                               f"{shown} per sample (only the ? sizes can be chosen).")
        return shape


def read(source: str | os.PathLike | bytes, *, name: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> OnnxModel:
    """Parse and check an ONNX file (a path or its bytes); one ArchlibError for anything wrong."""
    base = None
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = name or "upload.onnx"
    else:
        path = Path(source)
        name = name or path.name
        try:
            size = path.stat().st_size
        except OSError as e:
            raise ArchlibError(f"{name}: the file cannot be read ({e.strerror or e}).") from None
        _check_size(name, size, max_bytes)
        data, base = path.read_bytes(), path.resolve().parent
    _check_size(name, len(data), max_bytes)
    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # noqa: BLE001  (protobuf's DecodeError and friends: not a model)
        raise ArchlibError(f"{name}: not an ONNX model (the file does not parse as one; truncated or another "
                           "format).") from None
    if not model.graph.node or model.ir_version < 3:
        raise ArchlibError(f"{name}: not an ONNX model (no graph in it; truncated or another format).")
    _check_external(name, model, base)
    sk = _skeleton(name, model, base)
    try:
        onnx.checker.check_model(sk)
    except Exception as e:  # noqa: BLE001  (the checker's ValidationError: one line)
        raise ArchlibError(f"{name}: not a valid ONNX model: {_first_line(e)}") from None
    return _describe(name, hashlib.sha256(data).hexdigest(), len(data), sk)


def has_external(data: bytes) -> bool:
    """True when the model in `data` keeps some tensor in a file beside it."""
    model = onnx.load_model_from_string(data)
    return any(t.data_location == TensorProto.EXTERNAL for t in _tensors(model))


def _check_size(name: str, size: int, limit: int) -> None:
    if size > limit:
        raise ArchlibError(f"{name}: the file is {size / 2**20:,.1f} MiB; at most {limit / 2**20:,.0f} MiB are read.")
    if size == 0:
        raise ArchlibError(f"{name}: the file is empty; not an ONNX model.")


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]


def _tensors(model: onnx.ModelProto) -> list[TensorProto]:
    out = list(model.graph.initializer)
    for node in model.graph.node:
        out += [a.t for a in node.attribute if a.type == onnx.AttributeProto.TENSOR]
    return out


def _check_external(name: str, model: onnx.ModelProto, base: Path | None) -> None:
    """Tensors stored outside the file must be next to it: weights are only checked to be there,
    never read; an upload (bytes) cannot carry such files at all."""
    for t in _tensors(model):
        if t.data_location != TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in t.external_data}
        where = info.get("location", "")
        if base is None:
            raise ArchlibError(f"{name}: the data of {t.name!r} is in an external file ({where!r}), which an upload "
                               "cannot carry: export with the weights inside the file (external_data=False).")
        target = (base / where).resolve()
        need = int(info.get("offset", 0) or 0) + int(info.get("length", 0) or 0)
        if base not in target.parents or not target.is_file() or target.stat().st_size < need:
            raise ArchlibError(f"{name}: the external data file {where!r} of {t.name!r} is missing (looked in "
                               f"{base}) or shorter than the file says.")
        if not is_weight(t) and _numel(t.dims) > 1_000_000:
            raise ArchlibError(f"{name}: the external constant {t.name!r} is too large to read.")


def _skeleton(name: str, model: onnx.ModelProto, base: Path | None) -> onnx.ModelProto:
    """The model with its weights (floating-point initializers of more than one element) turned
    into typed graph inputs: their shapes are all the importer needs, and no value is copied."""
    sk = onnx.ModelProto()
    for field in ("ir_version", "producer_name", "producer_version", "domain", "model_version"):
        setattr(sk, field, getattr(model, field))
    sk.opset_import.extend(model.opset_import)
    sk.functions.extend(model.functions)
    g, sg = model.graph, sk.graph
    sg.name = g.name
    sg.node.extend(g.node)
    sg.input.extend(g.input)
    sg.output.extend(g.output)
    sg.value_info.extend(g.value_info)
    declared = {i.name for i in g.input}
    for t in g.initializer:
        if is_weight(t):
            if t.name not in declared:
                sg.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
            sg.metadata_props.add(key=WEIGHT_KEY, value=t.name)
            continue
        small = TensorProto()
        small.CopyFrom(t)
        if small.data_location == TensorProto.EXTERNAL:  # a small constant kept next to the file: read it
            from onnx.external_data_helper import load_external_data_for_tensor

            load_external_data_for_tensor(small, str(base))
            small.data_location = TensorProto.DEFAULT
            del small.external_data[:]
        sg.initializer.append(small)
    return sk


def is_weight(t: TensorProto) -> bool:
    """A floating-point tensor of more than one element: a parameter (single numbers are constants)."""
    return t.data_type in FLOAT_TYPES and _numel(t.dims) > 1


def _numel(dims: Sequence[int]) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def _describe(name: str, sha: str, size: int, model: onnx.ModelProto) -> OnnxModel:
    inits = {t.name for t in model.graph.initializer} | weight_names(model)
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ArchlibError(f"{name}: the model has {len(inputs)} inputs; archlib analyses models with one image "
                           "input.")
    tt = inputs[0].type.tensor_type
    if not tt.HasField("shape") or len(tt.shape.dim) < 2:
        raise ArchlibError(f"{name}: the input {inputs[0].name!r} has no batch axis and per-sample shape.")
    if tt.elem_type not in FLOAT_TYPES:
        raise ArchlibError(f"{name}: the input {inputs[0].name!r} is not a floating-point tensor.")
    dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim]
    if dims[0] not in (None, 1):
        raise ArchlibError(f"{name}: the file fixes the batch at {dims[0]}; archlib counts per sample: export it "
                           "with batch 1 or a dynamic batch axis.")
    return OnnxModel(name, sha, size, model, inputs[0].name, dims[0], tuple(dims[1:]),
                     f"{model.producer_name} {model.producer_version}".strip())


def weight_names(model: onnx.ModelProto) -> set[str]:
    """The weights a skeleton turned into graph inputs."""
    return {p.value for p in model.graph.metadata_props if p.key == WEIGHT_KEY}


def weight_dims(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    names = weight_names(model)
    return {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim) for i in model.graph.input
            if i.name in names}


def infer_shapes(m: OnnxModel, shape: Sequence[int], batch: int) -> dict[str, tuple[int, ...]]:
    """Every value's shape with the input at (batch, *shape); unknown sizes are left out."""
    sk = onnx.ModelProto()
    sk.CopyFrom(m.model)
    dims = next(i for i in sk.graph.input if i.name == m.input_name).type.tensor_type.shape.dim
    for d, v in zip(dims, (batch, *shape)):
        d.Clear()
        d.dim_value = int(v)
    try:
        inferred = onnx.shape_inference.infer_shapes(sk, check_type=True, strict_mode=True, data_prop=True)
    except Exception as e:  # noqa: BLE001  (InferenceError: a shape the file's ops cannot produce)
        raise ArchlibError(f"{m.name}: shape inference failed at input {tuple(shape)}: {_first_line(e)}") from None
    out: dict[str, tuple[int, ...]] = {m.input_name: (batch, *map(int, shape))}
    for vi in (*inferred.graph.value_info, *inferred.graph.output):
        t = vi.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            out[vi.name] = tuple(int(d.dim_value) for d in t.shape.dim)
    for t in sk.graph.initializer:
        out[t.name] = tuple(int(d) for d in t.dims)
    out.update(weight_dims(sk))
    return out


def attrs_of(node: onnx.NodeProto) -> dict[str, Any]:
    """A node's attributes as Python values."""
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
