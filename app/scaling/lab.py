"""The Scaling page's computations: scaling rules as knob settings, cost curves, the inverse solver.

Every cost is archlib's (analytic, no tensor); functions here only choose configurations.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

import archlib
from archlib.errors import ArchlibError

RULES = ("compound", "width", "depth", "resolution")


@st.cache_data(max_entries=4096, show_spinner=False)
def totals(model: str, items: tuple[tuple[str, Any], ...]) -> dict[str, int] | None:
    """Totals of one configuration, or None where the configuration is not allowed."""
    try:
        return archlib.analyze(model, **dict(items)).totals()
    except ArchlibError:
        return None


def cost(model: str, knobs: dict[str, Any], metric: str) -> int | None:
    t = totals(model, tuple(sorted(knobs.items())))
    return None if t is None else t[metric]


def compound_base(alpha: float, beta: float, gamma: float) -> float:
    """alpha * beta^2 * gamma^2: the FLOPs growth per unit of phi (paper: about 2)."""
    return alpha * beta ** 2 * gamma ** 2


def effnet_knobs(rule: str, phi: float, alpha: float, beta: float, gamma: float,
                 base_resolution: int = 224, *, stages: str = "") -> dict[str, Any]:
    """EfficientNet knobs that scale one dimension (or all three, compound) of the base network by phi:
    B0's Table 1, or the stage table `stages`."""
    base = {"stages": stages} if stages else {}
    if rule == "compound":
        return {"phi": phi, "alpha": alpha, "beta": beta, "gamma": gamma} | base
    if rule == "width":
        return {"width": round(beta ** phi, 10)} | base
    if rule == "depth":
        return {"depth": round(alpha ** phi, 10)} | base
    if rule == "resolution":
        return {"resolution": math.floor(base_resolution * gamma ** phi + 0.5)} | base
    raise ValueError(f"unknown rule {rule!r}")


def predicted(rule: str, phi: float, alpha: float, beta: float, gamma: float) -> float:
    """The paper's FLOPs growth: depth d, width w^2, resolution r^2."""
    return {"compound": compound_base(alpha, beta, gamma) ** phi, "width": beta ** (2 * phi),
            "depth": alpha ** phi, "resolution": gamma ** (2 * phi)}[rule]


@dataclass(frozen=True)
class Solution:
    """The inverse solver's answer: the largest x on the grid whose cost fits the budget."""

    x: float | None        # None: not even the smallest x fits
    cost: int | None       # cost at x
    next_x: float | None   # the next grid point (over budget or not allowed); None at the top
    next_cost: int | None
    probes: int


def solve_max(f: Callable[[float], int | None], lo: float, hi: float, budget: float, *,
              step: float) -> Solution:
    """Largest x = lo + k*step in [lo, hi] with f(x) <= budget; f non-decreasing (None = too big)."""
    n = int(round((hi - lo) / step))
    grid = lambda k: round(lo + k * step, 10)  # noqa: E731
    probes = 0

    def fits(k: int) -> tuple[bool, int | None]:
        nonlocal probes
        probes += 1
        c = f(grid(k))
        return c is not None and c <= budget, c

    ok, c0 = fits(0)
    if not ok:
        return Solution(None, None, grid(0), c0, probes)
    ok, cn = fits(n)
    if ok:
        return Solution(grid(n), cn, None, None, probes)
    good, bad, good_c, bad_c = 0, n, c0, cn
    while bad - good > 1:
        mid = (good + bad) // 2
        ok, c = fits(mid)
        if ok:
            good, good_c = mid, c
        else:
            bad, bad_c = mid, c
    return Solution(grid(good), good_c, grid(bad), bad_c, probes)


def regnet_widths(w0: int, wa: float, wm: float, d: int, q: int = 8) -> tuple[list[float], list[int], list[int]]:
    """(u_j, quantised w_j, stage index of each block) of RegNet's quantised linear rule."""
    from archlib.families.regnet import block_widths  # the family's own rule: one definition

    w = block_widths(w0, wa, wm, d)
    u = [w0 + wa * j for j in range(d)]
    stage, out = 0, []
    for j, wj in enumerate(w):
        if j and wj != w[j - 1]:
            stage += 1
        out.append(stage)
    return u, w, out


def block_out_widths(model: str, knobs: dict[str, Any]) -> list[int]:
    """Output channels of every block s*.b* of the built configuration (from the IR)."""
    a = archlib.analyze(model, **knobs)
    out: dict[str, int] = {}
    for r in a.rows:
        parts = r.name.split(".")
        if len(parts) > 2 and parts[0].startswith("s") and parts[0][1:].isdigit():
            out[".".join(parts[:2])] = r.out_shape[0]
    return list(out.values())


#: the latency search stays below this many MACs: one CPU forward pass of more takes seconds
LATENCY_MAX_MACS = 20_000_000_000
#: one thread (stable on a shared host), short timed runs: a probe takes about a second
LATENCY_SETTINGS = {"threads": 1, "min_run_time": 0.2, "max_seconds": 30.0}


def measured(model: str, knobs: dict[str, Any]) -> float | None:
    """Measured median latency (ms) of one forward pass on this host with LATENCY_SETTINGS, or None where
    it could not be measured (a failure is not cached: asked again, it measures again). Stored like every
    measurement, so the Pareto page sees it too."""
    from app.hardware import model as hwmodel  # the app's one cached measurement

    try:
        return hwmodel.measured_ms(model, tuple(sorted(knobs.items())), LATENCY_SETTINGS)
    except ArchlibError:
        return None
