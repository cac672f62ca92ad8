"""Independent counters run on the built module, to check the analytic cost model.

- `flopcounter_macs`: torch.utils.flop_counter.FlopCounterMode on the meta device
  (exact for conv/linear/matmul; FLOPs / 2 = MACs), per module.
- `fvcore_counts`: fvcore FlopCountAnalysis on a real batch-1 tensor (fvcore cannot
  trace on meta), per module and by module and operator.
- `CrossCheck.run`: both, compared module by module with the analysis, each difference
  with its reason: the one object the app's cross-check panel renders.
Modules are keyed by archlib's dotted names ("" is the whole model).
"""
from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from archlib.core import registry
from archlib.core.analysis import LEVELS, human, parse_level
from archlib.core.ir import IR
from archlib.errors import ArchlibError
from archlib.views.torchmodel import build_module

if TYPE_CHECKING:
    from archlib.core.analysis import Analysis

#: past these a cross-check is refused: fvcore needs a real model and a real forward pass
MAX_MACS = 30_000_000_000
MAX_PARAMS = 400_000_000  # 1.6 GB of float32 weights, built for real
#: why archlib's fvcore-convention count exceeds its MACs, per op kind (fvcore's own handles)
REASONS = {"bn2d": "BN 2/elem", "layernorm": "LayerNorm 5/elem", "adaptive_avgpool2d": "adaptive pool 1/input elem"}


def too_large(a: Analysis) -> str | None:
    """Why `a` is too large to cross-check here (None when it is not); nothing is built."""
    t = a.totals()
    if t["macs"] <= MAX_MACS and t["params"] <= MAX_PARAMS:
        return None
    return (f"{a.model}: this configuration has {human(t['macs'])} MACs and {human(t['params'])} parameters; "
            f"cross-checks run up to {human(MAX_MACS)} MACs and {human(MAX_PARAMS)} parameters (fvcore needs a real "
            "model and forward pass).")


def planned_bytes(a: Analysis) -> int:
    """What a cross-check of `a` allocates: the weights plus every op output of a traced forward
    (batch 1, float32), which may keep them all."""
    mem = a.memory(batch=1)
    return mem["weights"] + mem["training_saved_activations"]


def check_fits(a: Analysis, *, available: int, fraction: float = 0.5) -> None:
    """Refuse a real build and forward that would take more than `fraction` of `available` bytes
    (the host's free memory); nothing is allocated."""
    need, have = planned_bytes(a), available
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


def prefix_sums(rows: dict[str, int]) -> dict[str, int]:
    """Per-op counts summed into every name prefix ("" = total), like module hooks report."""
    out: Counter = Counter()
    for name, v in rows.items():
        for k in _prefixes(name):
            out[k] += v
    return dict(out)


@dataclass(frozen=True)
class ModuleCheck:
    """One module's counts: archlib's MACs against FlopCounterMode's, archlib's fvcore-convention
    count against fvcore's, and why the fvcore convention exceeds the MACs (op kind, count)."""

    module: str  # "" is the whole model
    macs: int
    flopcounter: int
    fvcore_convention: int
    fvcore: int
    extra: tuple[tuple[str, int], ...] = ()

    @property
    def macs_agree(self) -> bool:
        return self.macs == self.flopcounter

    @property
    def fvcore_agrees(self) -> bool:
        return self.fvcore_convention == self.fvcore

    @property
    def reason(self) -> str:
        """fvcore's count beyond the MACs, by what fvcore adds ('BN 2/elem: 1.2M, ...'); '' when none."""
        return ", ".join(f"{REASONS.get(op, op)}: {human(n)}" for op, n in self.extra)


@dataclass(frozen=True)
class CrossCheck:
    """The analysis of one configuration checked against FlopCounterMode (meta) and fvcore
    (a real batch-1 forward), module by module in execution order."""

    model: str
    modules: tuple[ModuleCheck, ...]

    @classmethod
    def run(cls, a: Analysis, *, available: int,
            admit: Callable[[int], AbstractContextManager] | None = None) -> CrossCheck:
        """Build `a`'s module and count it both ways; refused before anything is allocated when it
        is too large or would not fit in half of `available` bytes (the caller's free memory).
        `admit(planned bytes)`, when given, is entered around the real work (the app's
        process-wide gate for heavy jobs)."""
        if reason := too_large(a):
            raise ArchlibError(reason)
        registry.check_size(a.model, a.ir, for_build=True)
        check_fits(a, available=available)
        with admit(planned_bytes(a)) if admit else nullcontext():
            return cls.of(a, flopcounter_macs(a.ir), fvcore_counts(a.ir)[0])

    @classmethod
    def of(cls, a: Analysis, flopcounter: dict[str, int], fvcore: dict[str, int]) -> CrossCheck:
        """The comparison of `a` with counts already taken (per dotted module name)."""
        macs = prefix_sums({r.name: r.cost.macs for r in a.rows})
        conv = prefix_sums({r.name: r.cost.fvcore for r in a.rows})
        extra: dict[str, Counter] = {}
        for r in a.rows:
            if r.cost.fvcore != r.cost.macs:
                for k in _prefixes(r.name):
                    extra.setdefault(k, Counter())[r.op] += r.cost.fvcore - r.cost.macs
        order = {"": -1}
        for i, r in enumerate(a.rows):
            for k in _prefixes(r.name):
                order.setdefault(k, i)
        names = sorted(set(macs) | set(flopcounter) | set(fvcore), key=lambda k: (order.get(k, len(a.rows)), k))
        return cls(a.model, tuple(
            ModuleCheck(k, macs.get(k, 0), flopcounter.get(k, 0), conv.get(k, 0), fvcore.get(k, 0),
                        tuple(extra.get(k, Counter()).items()))
            for k in names if macs.get(k) or flopcounter.get(k) or conv.get(k) or fvcore.get(k)))

    @property
    def total(self) -> ModuleCheck:
        return next((m for m in self.modules if m.module == ""), ModuleCheck("", 0, 0, 0, 0))

    @property
    def flopcounter_mismatches(self) -> list[str]:
        """Modules where FlopCounterMode's MACs differ from archlib's (none, when the model is right)."""
        return [m.module for m in self.modules if not m.macs_agree]

    @property
    def fvcore_mismatches(self) -> list[str]:
        """Modules where fvcore differs from archlib's fvcore convention (an operator it has no handle for)."""
        return [m.module for m in self.modules if not m.fvcore_agrees]

    def down_to(self, level: str | int) -> list[ModuleCheck]:
        """The modules down to `level` (stage, block, unit, op or a depth), in execution order."""
        level = parse_level(level)
        depth = LEVELS[level] if isinstance(level, str) else level
        return [m for m in self.modules if m.module == "" or m.module.count(".") < depth]


def _prefixes(name: str) -> list[str]:
    """"" and every dotted prefix of `name`, itself included."""
    parts = name.split(".")
    return [".".join(parts[:n]) for n in range(len(parts) + 1)]
