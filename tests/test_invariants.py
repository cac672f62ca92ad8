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
from checks import assert_agrees_with_torch, compare
from conftest import HUGE_PARAMS, MODELS, small_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import graph_totals

import archlib
from archlib.core import registry
from archlib.core.analysis import COUNTS
from archlib.views.blockgraph import collapse, op_graph
from archlib.views.crosscheck import fvcore_counts, prefix_sums


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


#: the ranges random draws keep to, where the schema's own would make a test slow (small inputs and
#: heads) or mostly draw combinations a family refuses (those refusals are tested in test_knobs.py):
#: (lo, hi) narrows a range (None keeps the schema's bound), a list is sampled, a function of the
#: values drawn so far gives the strategy (drawn last)
SMALL: dict[str, object] = {"resolution": (None, 96), "num_classes": (1, 100), "width": (None, 1.5),
                            "depth": (None, 1.0), "dropout": (0.0, 0.5)}
NARROW: dict[str, dict[str, object]] = {
    "EfficientNet": {"phi": (0.0, 2.0), "alpha": (1.0, 1.4), "beta": (1.0, 1.4), "gamma": (1.0, 1.3),
                     "resolution": (32, 64)},
    "EfficientNetV2": {"width": (0.25, 1.2), "depth": (0.1, 0.6), "resolution": (32, 64)},
    "RegNetX": {"w0": (8, 128), "wa": (0.0, 64.0), "wm": (1.5, 3.0), "blocks": (1, 16), "group_width": (1, 64),
                "bottleneck_ratio": [0.25, 0.5, 1.0, 2.0, 3.0, 4.0], "resolution": (32, 64)},
    "ViT": {"heads": (1, 4), "blocks": (1, 3), "patch": [4, 8, 16], "resolution": (16, 96),
            "mlp_ratio": [0.5, 1.0, 2.5, 4.0], "features": (0, 40),
            "embed_dim": lambda cfg: st.integers(-(-8 // cfg["heads"]), 12).map(lambda k: k * cfg["heads"])},
    "SqueezeNet": {"base_e": (8, 256), "incr_e": (0, 256)},
}
NARROW["RegNetY"] = NARROW["RegNetX"] | {"se_ratio": (0.0, 0.5)}
#: one model per family: every knob is drawn, so a family's presets add nothing
FAMILIES = {e.family.name: e.name for e in reversed(registry.entries())}


def _strategy(knob, spec, cfg):
    if callable(spec):
        return spec(cfg)
    if isinstance(spec, list):
        return st.sampled_from(spec)
    if knob.kind == "choice":
        return st.sampled_from(knob.choices)
    if knob.kind == "bool":
        return st.booleans()
    if knob.kind == "text":  # stage tables: tests/test_stages.py draws random ones
        return st.just(knob.default)
    lo, hi = spec if spec else (None, None)
    lo, hi = knob.lo if lo is None else max(lo, knob.lo), knob.hi if hi is None else min(hi, knob.hi)
    if knob.kind == "int":
        step = int(knob.step or 1)
        return st.integers(0, int(hi - lo) // step).map(lambda i: int(lo) + i * step)
    return st.floats(lo, hi, allow_nan=False).map(lambda v: min(hi, max(lo, round(v, 3))))


def _draw_config(data, family: str) -> dict:
    """Random knob values of `family`'s model, from its schema (and the narrowing above)."""
    narrow = NARROW.get(family, {})
    knobs = registry.get(FAMILIES[family]).knobs
    cfg: dict = {}
    for knob in sorted(knobs, key=lambda k: callable(narrow.get(k.name))):
        spec = narrow.get(knob.name, SMALL.get(knob.name))
        cfg[knob.name] = data.draw(_strategy(knob, spec, cfg), label=knob.name)
    return cfg


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_random_configs_agree_with_counters(family):
    """Random knob values of every registered family (hypothesis): params, buffers and per-module MACs
    equal the module built on meta; a small one also runs forward to the analysed shape. A draw may be
    refused with a clear ArchlibError, but most must be compared: the test counts them."""
    name, compared, refused = FAMILIES[family], [], []

    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        cfg = _draw_config(data, family)
        try:
            a = archlib.analyze(name, **cfg)
        except archlib.ArchlibError as e:
            assert "=" in str(e) or "allowed" in str(e), str(e)
            refused.append(str(e))
            return
        assert_agrees_with_torch(a)
        t = a.totals()
        if t["macs"] < 50_000_000 and t["params"] < 5_000_000:
            with torch.no_grad():
                y = archlib.build(name, **cfg).eval()(torch.randn(1, *a.input_shape))
            assert tuple(y.shape) == (1, *a.output_shape) and torch.isfinite(y).all()
        compared.append(cfg)

    check()
    assert len(compared) >= 6 and len(compared) >= 3 * len(refused), (family, len(compared), refused[:3])


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
