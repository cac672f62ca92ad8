"""Pareto frontier: the fast sweep equals the brute-force definition on any input."""
from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from oracles import frontier_brute

from archlib.data import pareto, results

value = st.one_of(st.none(), st.sampled_from([math.nan, math.inf]), st.integers(0, 20).map(float),
                  st.floats(0, 1e6, allow_nan=False))


@given(st.lists(st.tuples(value, value), max_size=40))
def test_frontier_equals_brute_force(points):
    costs, accs = [p[0] for p in points], [p[1] for p in points]
    assert pareto.frontier(costs, accs) == frontier_brute(costs, accs)


@given(st.lists(st.tuples(st.integers(1, 8), st.integers(1, 8)), min_size=1, max_size=30))
def test_frontier_properties(points):
    costs, accs = [float(c) for c, _ in points], [float(a) for _, a in points]
    front = pareto.frontier(costs, accs)
    assert front, "a non-empty set of valid points has a non-empty frontier"
    # increasing cost means strictly increasing accuracy along the frontier
    for i, j in zip(front, front[1:]):
        assert costs[i] < costs[j] and accs[i] < accs[j] or (costs[i], accs[i]) == (costs[j], accs[j])
    # every point off the frontier is dominated by one on it
    for k in set(range(len(points))) - set(front):
        assert any(pareto.dominated((costs[k], accs[k]), (costs[f], accs[f])) for f in front)


def test_examples():
    assert pareto.frontier([1, 2, 3], [1, 3, 2]) == [0, 1]
    assert pareto.frontier([1, 1], [2, 2]) == [0, 1]  # exact duplicates are both kept
    assert pareto.frontier([1, 1], [2, 3]) == [1]
    assert pareto.frontier([None, 2], [5, math.nan]) == []


def test_frontier_by_group_on_published_results():
    recs = [r.as_dict() for r in results.load()]
    fronts = pareto.frontier_by(recs, "macs_M", "top1_pct", "kind")
    overall = pareto.frontier_by(recs, "macs_M", "top1_pct")["all"]
    assert set(fronts) == {"paper", "torchvision", "timm", "pycls"}
    for kind, idx in fronts.items():
        assert all(recs[i]["kind"] == kind for i in idx)
    best = max(r["top1_pct"] for r in recs if r["top1_pct"] and r["macs_M"])
    assert recs[overall[-1]]["top1_pct"] == best
