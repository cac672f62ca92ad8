"""Shared assertions of the tests: an analysis against its built torch module."""
from __future__ import annotations

from typing import Any

import torch

from archlib.core.analysis import Analysis
from archlib.views.crosscheck import flopcounter_macs, prefix_sums
from archlib.views.torchmodel import build_module


def compare(ours: dict[str, int], theirs: dict[str, int]) -> list[dict[str, Any]]:
    """Rows (module, ours, theirs, diff) for every module either side names with a non-zero count."""
    keys = sorted({k for k, v in ours.items() if v} | {k for k, v in theirs.items() if v})
    return [{"module": k or "(total)", "archlib": ours.get(k, 0), "counter": theirs.get(k, 0),
             "diff": ours.get(k, 0) - theirs.get(k, 0)} for k in keys]


def assert_agrees_with_torch(a: Analysis) -> None:
    """Params and buffers == the module built on meta tensors; MACs == FlopCounterMode / 2 per module."""
    with torch.device("meta"):
        m = build_module(a.ir)
    t = a.totals()
    assert sum(p.numel() for p in m.parameters()) == t["params"], f"{a.model} {a.config}: params"
    assert sum(b.numel() for b in m.buffers()) == t["buffers"], f"{a.model} {a.config}: buffers"
    ours = prefix_sums({r.name: r.cost.macs for r in a.rows})
    bad = [r for r in compare(ours, flopcounter_macs(a.ir)) if r["diff"]]
    assert not bad, f"{a.model} {a.config}: MACs differ from FlopCounterMode: {bad[:5]}"
