"""Memory traffic and arithmetic intensity per layer, and the roofline's maths (torch-free).

Conventions (written once here):
- **bytes moved** of an op = (input elements + output elements) x batch x dtype bytes +
  (parameters + buffers) x dtype bytes: what it must read and write at the least, the
  memory access cost (MAC) of ShuffleNetV2's guidelines (1x1 conv: hw(c1 + c2) + c1 c2).
  Weights are read once per pass whatever the batch. Views (flatten, slice, dropout at
  inference, token views) alias their input and move nothing. Scratch tensors inside one
  op (attention's score matrix) are not counted: the op's inputs and output are.
- **ops** = FLOPs (2 x MACs) + elementwise operations (one per output element of BN,
  activations, adds...; see archlib.core.cost), per pass; MACs and elementwise are still
  kept apart in every table, this sum only places an op on the roofline.
- **arithmetic intensity** = ops / bytes moved (operations per byte).
- **roofline**: attainable ops/s = min(peak ops/s, intensity x bandwidth); the ridge point
  is peak / bandwidth: an op left of it is memory bound, right of it compute bound.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

from archlib.core.analysis import DTYPE_BYTES, Analysis, Row
from archlib.core.cost import is_view
from archlib.core.ir import Op
from archlib.errors import ArchlibError

BOUNDS = ("compute", "memory", "overhead")


class Traffic(NamedTuple):
    """One op's work and memory traffic for a pass of `batch` samples."""

    name: str
    op: str
    flops: int  # 2 x MACs x batch
    ops: int  # flops + elementwise x batch
    bytes_in: int
    bytes_weights: int
    bytes_out: int

    @property
    def bytes(self) -> int:
        return self.bytes_in + self.bytes_weights + self.bytes_out

    @property
    def intensity(self) -> float:
        """Operations per byte moved (nan for a view, which moves nothing)."""
        return self.ops / self.bytes if self.bytes else math.nan


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of `dtype`; an unknown name raises with the allowed ones."""
    if dtype not in DTYPE_BYTES:
        raise ArchlibError(f"dtype={dtype!r} is not allowed: dtype must be one of {', '.join(DTYPE_BYTES)}.")
    return DTYPE_BYTES[dtype]


def _check_batch(batch: int) -> None:
    if not (isinstance(batch, int) and not isinstance(batch, bool) and 1 <= batch <= 65536):
        raise ArchlibError(f"batch={batch!r} is not allowed: batch must be an integer in [1, 65536].")


def op_traffic(op: Op, row: Row, *, batch: int = 1, dtype: str = "float32") -> Traffic:
    """The bytes `op` moves and the work it does for a pass of `batch` samples."""
    _check_batch(batch)
    s, c = dtype_bytes(dtype), row.cost
    flops = 2 * c.macs * batch
    ops = flops + c.elementwise * batch
    if is_view(op.kind):
        return Traffic(op.name, op.kind, flops, ops, 0, 0, 0)
    ins = sum(math.prod(shape) for shape in op.in_shapes)
    return Traffic(op.name, op.kind, flops, ops, ins * batch * s, (c.params + c.buffers) * s,
                   math.prod(op.out_shape) * batch * s)


def traffic(a: Analysis, *, batch: int = 1, dtype: str = "float32") -> list[Traffic]:
    """Every layer's work and bytes moved, in execution order (no tensor is allocated)."""
    return [op_traffic(op, row, batch=batch, dtype=dtype) for op, row in zip(a.ir.ops, a.rows)]


def totals(layers: Iterable[Traffic]) -> dict[str, float]:
    """The model as one point: summed ops and bytes, and their ratio."""
    ops = bytes_ = flops = 0
    for t in layers:
        ops, bytes_, flops = ops + t.ops, bytes_ + t.bytes, flops + t.flops
    return {"flops": flops, "ops": ops, "bytes": bytes_, "intensity": ops / bytes_ if bytes_ else math.nan}


def ridge(peak_ops: float, bandwidth: float) -> float:
    """The ridge point (operations per byte) of a roofline: peak ops/s over bytes/s."""
    _check_positive(peak_ops=peak_ops, bandwidth=bandwidth)
    return peak_ops / bandwidth


def attainable(intensity: float, peak_ops: float, bandwidth: float) -> float:
    """Attainable operations per second at `intensity`: min(peak, intensity x bandwidth)."""
    _check_positive(peak_ops=peak_ops, bandwidth=bandwidth)
    if not intensity >= 0:
        raise ArchlibError(f"intensity={intensity!r} is not allowed: intensity must be a number >= 0.")
    return min(peak_ops, intensity * bandwidth)


def bound(intensity: float, peak_ops: float, bandwidth: float) -> str:
    """'compute' at or right of the ridge point, 'memory' left of it, 'overhead' for an op
    that moves nothing (a view: intensity nan), whose time is only the framework's."""
    if math.isnan(intensity):
        return "overhead"
    return "compute" if intensity >= ridge(peak_ops, bandwidth) else "memory"


def _check_positive(**values: float) -> None:
    for name, v in values.items():
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ArchlibError(f"{name}={v!r} is not allowed: {name} must be a positive finite number.")
