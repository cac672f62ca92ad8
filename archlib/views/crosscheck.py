"""Independent counters run on the built module, to check the analytic cost model.

- `flopcounter_macs`: torch.utils.flop_counter.FlopCounterMode on the meta device
  (exact for conv/linear/matmul; FLOPs / 2 = MACs), per module.
- `fvcore_counts`: fvcore FlopCountAnalysis on a real batch-1 tensor (fvcore cannot
  trace on meta), per module and by module and operator.
Both key modules by archlib's dotted names ("" is the whole model).
"""
from __future__ import annotations

import warnings
from collections import Counter
from typing import TYPE_CHECKING, Any

import torch

from archlib.core.ir import IR
from archlib.errors import ArchlibError
from archlib.views.torchmodel import build_module

if TYPE_CHECKING:
    from archlib.core.analysis import Analysis


def check_fits(a: Analysis, *, available: int, fraction: float = 0.5) -> None:
    """Refuse a real build and forward whose weights plus every op output (batch 1, float32)
    would take more than `fraction` of `available` bytes (the host's free memory); nothing is
    allocated."""
    mem = a.memory(batch=1)
    need = mem["weights"] + mem["training_saved_activations"]  # a traced forward may keep every output
    have = available
    if need > fraction * have:
        raise ArchlibError(f"{a.model}: building and running it needs about {need / 2**20:,.0f} MiB, more than "
                           f"{fraction:.0%} of the {have / 2**20:,.0f} MiB available here; choose a smaller configuration.")


def _meta_model(ir: IR) -> tuple[torch.nn.Module, torch.Tensor]:
    with torch.device("meta"):
        model = build_module(ir).eval()
    return model, torch.empty((1, *ir.input_shape), device="meta")


def flopcounter_macs(ir: IR) -> dict[str, int]:
    """Per-module MACs (FLOPs / 2) from FlopCounterMode, the model run on meta tensors."""
    from torch.utils.flop_counter import FlopCounterMode

    model, x = _meta_model(ir)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    root = type(model).__name__
    out: dict[str, int] = {}
    for mod, ops in counter.get_flop_counts().items():
        if mod == "Global":
            continue
        name = "" if mod == root else mod[len(root) + 1:]
        total = sum(ops.values())
        if total % 2:
            raise AssertionError(f"odd FLOP count {total} in {mod}")
        out[name] = total // 2
    return out


def fvcore_counts(ir: IR, *, model: torch.nn.Module | None = None) -> tuple[dict[str, int], dict[str, Counter]]:
    """(per-module totals, per-module-and-operator counts) from fvcore on a real input."""
    from fvcore.nn import FlopCountAnalysis

    if model is None:
        model = build_module(ir)
    model = model.eval()
    x = torch.zeros((1, *ir.input_shape))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        fca = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        by_module = {k: int(v) for k, v in fca.by_module().items()}
        by_mo = {k: Counter({op: int(n) for op, n in v.items()}) for k, v in fca.by_module_and_operator().items()}
    return by_module, by_mo


def compare(ours: dict[str, int], theirs: dict[str, int]) -> list[dict[str, Any]]:
    """Rows (module, ours, theirs, diff) for every module either side names with a non-zero count."""
    keys = sorted({k for k, v in ours.items() if v} | {k for k, v in theirs.items() if v})
    return [{"module": k or "(total)", "archlib": ours.get(k, 0), "counter": theirs.get(k, 0),
             "diff": ours.get(k, 0) - theirs.get(k, 0)} for k in keys]


def prefix_sums(rows: dict[str, int]) -> dict[str, int]:
    """Per-op counts summed into every name prefix ("" = total), like module hooks report."""
    out: Counter = Counter()
    for name, v in rows.items():
        parts = name.split(".")
        for n in range(len(parts) + 1):
            out[".".join(parts[:n])] += v
    return dict(out)
