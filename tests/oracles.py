"""Test-only oracles: the slow, obviously right definitions the library's fast code is checked against."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import networkx as nx
import torch

from archlib.core.analysis import COUNTS
from archlib.data.pareto import dominated
from archlib.views.attention_torch import positive_features


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def frontier_brute(costs: Sequence[float | None], accs: Sequence[float | None]) -> list[int]:
    """The O(n^2) definition of a Pareto front: every valid point no other point dominates."""
    pts = [(i, (costs[i], accs[i])) for i in range(len(costs)) if _finite(costs[i]) and _finite(accs[i])]
    keep = [i for i, p in pts if not any(dominated(p, q) for j, q in pts if j != i)]
    return sorted(keep, key=lambda i: (costs[i], -accs[i], i))


def graph_totals(g: nx.DiGraph) -> dict[str, int]:
    """Every count summed over the graph's nodes."""
    return {k: sum(d[k] for _, d in g.nodes(data=True)) for k in COUNTS}


def kernel_estimate(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """phi(x) . phi(y) with positive features w: an unbiased estimate of exp(x . y)."""
    return (positive_features(x, w) * positive_features(y, w)).sum(dim=-1)
