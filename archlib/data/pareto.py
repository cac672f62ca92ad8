"""Pareto frontiers of accuracy against cost: maximise accuracy, minimise cost.

A point is on the frontier when no other point is at least as good on both axes and
strictly better on one (so exact duplicates are both kept). Points with a missing or
non-finite value are never on a frontier. O(n log n): sort by cost, sweep accuracy.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def frontier(costs: Sequence[float | None], accs: Sequence[float | None]) -> list[int]:
    """Indices of the non-dominated points, ordered by increasing cost."""
    if len(costs) != len(accs):
        raise ValueError(f"costs and accs differ in length: {len(costs)} vs {len(accs)}")
    idx = [i for i in range(len(costs)) if _finite(costs[i]) and _finite(accs[i])]
    idx.sort(key=lambda i: (costs[i], -accs[i], i))
    out: list[int] = []
    best_cheaper = -math.inf  # the best accuracy among strictly cheaper points
    for _, group in itertools.groupby(idx, key=lambda i: costs[i]):
        members = list(group)
        top = accs[members[0]]  # the group's best (sorted by -acc)
        if top > best_cheaper:
            out += [i for i in members if accs[i] == top]
            best_cheaper = top
    return out


def dominated(p: tuple[float, float], q: tuple[float, float]) -> bool:
    """Whether (cost, acc) point p is dominated by q."""
    return q[0] <= p[0] and q[1] >= p[1] and (q[0] < p[0] or q[1] > p[1])


def frontier_by(records: Iterable[Mapping[str, Any]], cost: str, acc: str,
                group: str | Callable[[Mapping[str, Any]], Hashable] | None = None) -> dict[Hashable, list[int]]:
    """Per group (a column name or a function of the record; None: one group "all", present
    even when there are no records), the indices into `records` of that group's frontier, by
    increasing cost."""
    recs = list(records)
    key = (lambda r: "all") if group is None else (lambda r: r.get(group)) if isinstance(group, str) else group
    groups: dict[Hashable, list[int]] = {"all": []} if group is None else {}
    for i, r in enumerate(recs):
        groups.setdefault(key(r), []).append(i)
    out = {}
    for g, members in groups.items():
        front = frontier([recs[i].get(cost) for i in members], [recs[i].get(acc) for i in members])
        out[g] = [members[j] for j in front]
    return out
