"""Invariants held by every registered model: one IR, three views that agree.

For each model at a small and at its default resolution: params == sum(numel) of the
built module; MACs == FlopCounterMode FLOPs / 2 per module (meta device); fvcore counts
per module == our fvcore-convention counts (real small input); graph totals == table
totals at every level; a real forward gives the analysed output shape.
"""
from __future__ import annotations

import math

import pytest
import torch
from checks import assert_agrees_with_torch
from conftest import HUGE_PARAMS, MODELS, small_config

import archlib
from archlib.core import registry
from archlib.core.analysis import COUNTS
from archlib.views.blockgraph import collapse, graph_totals, op_graph
from archlib.views.crosscheck import compare, fvcore_counts, prefix_sums


def check_counts_meta(name: str, **knobs) -> None:
    """Params, buffers and per-module MACs against the module on meta tensors."""
    assert_agrees_with_torch(archlib.analyze(name, **knobs))


@pytest.mark.parametrize("name", MODELS)
def test_counts_match_flopcounter_default(name):
    check_counts_meta(name)


def _real_params(names):
    """Models to build for real; the huge ones (hundreds of MB of weights) are marked slow."""
    return [pytest.param(n, marks=pytest.mark.slow) if archlib.analyze(n).totals()["params"] > HUGE_PARAMS else n
            for n in names]


@pytest.mark.parametrize("name", _real_params(MODELS))
def test_fvcore_forward_and_shape_small(name):
    """fvcore per module and a real forward on a small input."""
    knobs = small_config(name)
    a = archlib.analyze(name, **knobs)
    model = archlib.build(name, **knobs).eval()
    assert sum(p.numel() for p in model.parameters()) == a.totals()["params"]
    with torch.no_grad():
        y = model(torch.randn(2, *a.input_shape))
    assert tuple(y.shape) == (2, *a.output_shape)
    assert torch.isfinite(y).all()
    by_module, by_mo = fvcore_counts(a.ir, model=model)
    ours = prefix_sums({r.name: r.cost.fvcore for r in a.rows})
    bad = [r for r in compare(ours, by_module) if r["diff"]]
    assert not bad, f"{name}: fvcore convention differs: {bad[:5]}"
    assert {k: v for k, v in by_mo.items() if v} == {k: v for k, v in a.by_module_and_operator().items() if v}
    check_counts_meta(name, **knobs)


@pytest.mark.parametrize("name", MODELS)
def test_graph_totals_every_level(name):
    a = archlib.analyze(name)
    g = op_graph(a)
    import networkx as nx

    assert nx.is_directed_acyclic_graph(g)
    totals = a.totals()
    assert graph_totals(g) == totals
    for level in ("unit", "block", "stage"):
        c = collapse(g, level)
        assert nx.is_directed_acyclic_graph(c), level
        assert graph_totals(c) == totals, level
        assert sum(d["ops"] for _, d in c.nodes(data=True)) == len(a.rows)
    # table group sums agree with the graph's collapsed nodes
    blocks = dict(a.by_group("block"))
    c = collapse(g, "block")
    for key, sums in blocks.items():
        assert all(c.nodes[key][k] == sums[k] for k in COUNTS)


@pytest.mark.parametrize("name", MODELS)
def test_analysis_is_consistent(name):
    a = archlib.analyze(name)
    t = a.totals()
    assert t["flops"] == 2 * t["macs"]
    assert sum(r.cost.macs for r in a.rows) == t["macs"]
    assert sum(v["macs"] for v in a.by_operator().values()) == t["macs"]
    assert sum(v["params"] for _, v in a.by_group("stage")) == t["params"]
    names = [r.name for r in a.rows]
    assert len(names) == len(set(names))
    mem = a.memory(batch=2)
    assert mem["inference_total"] >= mem["weights"] > 0
    assert mem["training_total"] > mem["inference_total"]
    assert math.prod(a.output_shape) >= 1


def test_registry_rejects_duplicates_and_unknown():
    entry = registry.get("lenet")
    with pytest.raises(ValueError):
        registry.register(entry.family, "lenet")
    with pytest.raises(archlib.ArchlibError, match="known models"):
        registry.get("no_such_net")


def _knob_strategy(knob):
    from hypothesis import strategies as st

    if knob.kind == "choice":
        return st.sampled_from(knob.choices)
    if knob.kind == "bool":
        return st.booleans()
    if knob.kind == "text":  # stage tables: tests/test_stages.py draws random ones
        return st.just(knob.default)
    hi = knob.hi
    if knob.name == "resolution":
        hi = min(hi, max(knob.lo, 160))  # keep the real work small
    if knob.name == "num_classes":
        hi = min(hi, 2000)
    if knob.kind == "int":
        return st.integers(int(knob.lo), int(hi))
    return st.floats(knob.lo, hi, allow_nan=False).map(lambda v: round(v, 3))


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_random_configs_agree_with_counters(name):
    """Random knob values (hypothesis): either a clear ArchlibError or exact agreement on meta."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    knobs = registry.get(name).knobs
    strat = st.fixed_dictionaries({k.name: _knob_strategy(k) for k in knobs})

    @settings(max_examples=4, deadline=None)
    @given(strat)
    def check(cfg):
        try:
            archlib.analyze(name, **cfg)
        except archlib.ArchlibError as e:
            assert "=" in str(e) or "allowed" in str(e)
            return
        check_counts_meta(name, **cfg)

    check()


def test_levels_group_stems_heads_and_blocks():
    """Block level: a block per `sN.bM`, the whole stem and head, a stage-level op on its own."""
    from archlib.core.analysis import group_key

    assert [group_key("s3.b1.dw.conv", lv) for lv in ("stage", "block", "unit", "op")] == \
        ["s3", "s3.b1", "s3.b1.dw", "s3.b1.dw.conv"]
    assert [group_key("stem.conv.bn", lv) for lv in ("stage", "block", "unit")] == ["stem", "stem", "stem.conv"]
    assert group_key("s1.pool", "block") == "s1.pool"
    assert group_key("conv1", "block") == "conv1"
    assert group_key("s3.b1.dw.conv", 2) == "s3.b1"
    with pytest.raises(archlib.ArchlibError, match="level='bogus'"):
        group_key("s1.b1", "bogus")
    names = [k for k, _ in archlib.analyze("mobilenet_v2").by_group("block")]
    assert names[0] == "stem" and names[-1] == "head" and "s2.b2" in names
