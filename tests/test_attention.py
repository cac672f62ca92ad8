"""Attention ops: exact costs against the counters, the crossover, and FAVOR+'s estimator."""
from __future__ import annotations

import math

import pytest
import torch
from oracles import kernel_estimate

from archlib import performer
from archlib.core import attention as att
from archlib.core.cost import op_cost
from archlib.core.ir import IRBuilder
from archlib.errors import ArchlibError
from archlib.views.attention_torch import FavorAttention, gaussian_features
from archlib.views.crosscheck import flopcounter_macs, fvcore_counts


def _attention_ir(kind: str, tokens: int, dim: int, heads: int, features: int):
    b = IRBuilder((tokens, 3 * dim))
    if kind == "softmax":
        att.softmax_attention(b, "attn", b.input, heads)
    else:
        att.favor_attention(b, "attn", b.input, heads, features)
    return b.finish()


@pytest.mark.parametrize("kind", att.ATTENTIONS)
@pytest.mark.parametrize("tokens, dim, heads, features", [(1, 8, 1, 1), (17, 64, 4, 16), (50, 96, 3, 110),
                                                          (197, 192, 3, 266), (64, 32, 1, 300)])
def test_cost_equals_flopcounter_and_fvcore(kind, tokens, dim, heads, features):
    """MACs == FlopCounterMode / 2 (meta) and == fvcore (real tensor), exactly."""
    ir = _attention_ir(kind, tokens, dim, heads, features)
    c = op_cost(ir.ops[0])
    assert flopcounter_macs(ir)["attn"] == c.macs
    assert fvcore_counts(ir)[0]["attn"] == c.fvcore == c.macs
    dh = dim // heads
    favor_macs = heads * (4 * tokens * features * dh + tokens * features)
    expected = 2 * tokens * tokens * dim if kind == "softmax" else favor_macs
    assert c.macs == expected


def test_issue_crossover_numbers():
    """dh = 32, m = 110: FAVOR+ costs more at 196 tokens and about 14x less at 3,136."""
    small = {p.attention: p.macs for p in att.cost_curve([196], dim=32, heads=1, features=110)}
    assert small == {"softmax": 2_458_624, "performer": 2_781_240}
    large = {p.attention: p.macs for p in att.cost_curve([3136], dim=32, heads=1, features=110)}
    assert large == {"softmax": 629_407_744, "performer": 44_499_840}
    assert round(large["softmax"] / large["performer"], 1) == 14.1
    n = att.crossover_tokens(32, 110)
    assert n == 222
    before, after = (att.cost_curve([t], dim=32, heads=1, features=110) for t in (n - 1, n))
    assert before[0].macs <= before[1].macs and after[0].macs > after[1].macs
    assert att.default_features(32) == 110 and att.default_features(64) == 266


def test_memory_crossover_is_where_favor_holds_less():
    n = att.memory_crossover_tokens(dim=64, heads=2, features=110)
    below, above = (att.cost_curve([t], dim=64, heads=2, features=110) for t in (n - 1, n))
    assert below[0].memory_bytes() <= below[1].memory_bytes()
    assert above[0].memory_bytes() > above[1].memory_bytes()


@pytest.mark.parametrize("kind", att.FEATURE_KINDS)
def test_softmax_kernel_estimator_is_unbiased(kind):
    """E_w[phi(x) . phi(y)] = exp(x . y). Tolerance: for 5 pairs (x, y) in R^16 (entries
    N(0, 0.25^2)), the mean of 400 seeded estimates (m = 64 each) lies within 4 standard
    errors and 5% of the exact kernel, the standard error being under 3% of it."""
    g = torch.Generator().manual_seed(7)
    xs, ys = torch.randn(2, 5, 16, generator=g, dtype=torch.float64) * 0.25
    est = torch.stack([kernel_estimate(xs, ys, gaussian_features(
        64, 16, kind, generator=torch.Generator().manual_seed(s), dtype=torch.float64)) for s in range(400)])
    exact = torch.exp((xs * ys).sum(-1))
    se = est.std(dim=0) / math.sqrt(len(est))
    assert (se / exact < 0.03).all()
    assert ((est.mean(0) - exact).abs() < 4 * se).all()
    assert ((est.mean(0) / exact - 1).abs() < 0.05).all()


def test_orthogonal_features_are_orthogonal_with_gaussian_norms():
    w = gaussian_features(40, 16, "orthogonal", generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    block = w[:16] / w[:16].norm(dim=1, keepdim=True)
    assert torch.allclose(block @ block.T, torch.eye(16, dtype=torch.float64), atol=1e-12)
    assert w.shape == (40, 16)
    norms = gaussian_features(4096, 16, "orthogonal", generator=torch.Generator().manual_seed(1)).norm(dim=1) ** 2
    assert abs(float(norms.mean()) / 16 - 1) < 0.05  # chi^2(16) has mean 16


def test_error_falls_as_features_grow_and_orthogonal_beats_iid():
    """Fixed seeds (8 per point), random q, k (std 0.5), 64 tokens, head dim 16."""
    q, k, v = performer.random_qkv(64, 16, scale=0.5, seed=0)
    curve = performer.error_curve(q, k, v, features=(8, 32, 128, 512), seeds=range(8))
    by = {(s.feature_kind, s.features): s.mean for s in curve}
    for kind in att.FEATURE_KINDS:
        means = [by[(kind, m)] for m in (8, 32, 128, 512)]
        assert means == sorted(means, reverse=True), (kind, means)
        assert means[-1] < 0.5 * means[0]
    ortho = sum(by[("orthogonal", m)] for m in (8, 32, 128, 512))
    iid = sum(by[("iid", m)] for m in (8, 32, 128, 512))
    assert ortho <= iid
    assert all(s.std >= 0 and len(s.errors) == 8 for s in curve)


def test_favor_module_redraws_only_when_asked():
    torch.manual_seed(0)
    mod = FavorAttention(32, 2, 24, "iid", redraw=True)
    x = torch.randn(1, 10, 96)
    w0 = mod.projection.clone()
    mod.eval()(x)
    assert torch.equal(mod.projection, w0)
    mod.train()(x)
    assert not torch.equal(mod.projection, w0)
    mod.redraw_features(torch.Generator().manual_seed(3))
    w1 = mod.projection.clone()
    mod.redraw_features(torch.Generator().manual_seed(3))
    assert torch.equal(mod.projection, w1)


def test_favor_module_approximates_softmax_module():
    from archlib.views.attention_torch import SoftmaxAttention

    torch.manual_seed(0)
    x = torch.randn(2, 50, 3 * 32) * 0.5
    exact = SoftmaxAttention(32, 2)(x)
    approx = FavorAttention(32, 2, 512)(x)
    assert ((approx - exact).norm() / exact.norm()) < 0.3


def test_vit_qkv_shapes_and_bounds():
    q, k, v = performer.vit_qkv("deit_tiny_patch16_224", block=2, resolution=64)
    assert q.shape == k.shape == v.shape == (3, 17, 64)
    with pytest.raises(ArchlibError, match=r"block=13 .*\[1, 12\]"):
        performer.vit_qkv("deit_tiny_patch16_224", block=13)
    with pytest.raises(ArchlibError, match="tokens=9000"):
        performer.measure_latency("softmax", 9000, dim=64, heads=2, features=16)
    for bad, needle in ((dict(features="16"), "features='16' is not allowed (a str where the Python API takes an int"),
                        (dict(heads=True), "heads=True is not allowed (a bool"),
                        (dict(features=5000), "features=5000 is not allowed (out of range)"),
                        (dict(threads=True), "threads=True")):
        with pytest.raises(ArchlibError) as e:
            performer.measure_latency("softmax", 64, **({"dim": 64, "heads": 2, "features": 16} | bad))
        assert needle in str(e.value)


def test_latency_measures_both():
    for kind in att.ATTENTIONS:
        lat = performer.measure_latency(kind, 64, dim=32, heads=1, features=16, min_run_time=0.01)
        assert lat.median_ms > 0 and lat.threads >= 1
