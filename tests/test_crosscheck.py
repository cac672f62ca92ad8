"""archlib.views.crosscheck.CrossCheck: the analysis against FlopCounterMode and fvcore, module
by module, each difference with its reason; the object the Explore page renders."""
from __future__ import annotations

import pytest

import archlib
from archlib.errors import ArchlibError
from archlib.views import crosscheck as cc
from archlib.views.crosscheck import CrossCheck, ModuleCheck

FREE = 8 << 30  # the caller's free memory (the app passes the host's; views never ask the host)


@pytest.mark.parametrize("name,knobs", [("mobilenet_v2", {"width": 0.25, "resolution": 32}),
                                        ("deit_tiny_patch16_224", {"resolution": 32})])
def test_run_agrees_module_by_module_with_reasons(name, knobs):
    a = archlib.analyze(name, **knobs)
    check = CrossCheck.run(a, available=FREE)
    assert check.model == name and not check.flopcounter_mismatches and not check.fvcore_mismatches
    t = a.totals()
    assert (check.total.macs, check.total.flopcounter) == (t["macs"], t["macs"])
    assert (check.total.fvcore_convention, check.total.fvcore) == (t["fvcore"], t["fvcore"])
    for m in check.modules:  # the reason accounts for every op of fvcore's count beyond the MACs
        assert m.fvcore - m.macs == sum(n for _, n in m.extra), m
    why = check.total.reason
    assert ("BN 2/elem" in why and "adaptive pool 1/input elem" in why) if name.startswith("mobilenet") \
        else why.startswith("LayerNorm 5/elem")


def test_modules_are_in_execution_order_and_cut_at_a_level():
    check = CrossCheck.run(archlib.analyze("mobilenet_v2", width=0.25, resolution=32), available=FREE)
    stages = [m.module for m in check.down_to("stage")]
    assert stages == ["", "stem", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "head"]
    assert check.down_to(1) == check.down_to("stage")
    blocks = [m.module for m in check.down_to("block")]
    assert blocks.index("s2") < blocks.index("s2.b1") < blocks.index("s2.b2") < blocks.index("s3")
    assert len(check.down_to("op")) == len(check.modules)
    with pytest.raises(ArchlibError, match="level=\\[1\\]"):
        check.down_to([1])


def test_a_difference_is_reported_in_its_module():
    a = archlib.analyze("lenet")
    macs = {r.name: r.cost.macs for r in a.rows}
    fc = cc.prefix_sums({**macs, "fc1": macs["fc1"] + 10})  # a counter that disagrees in fc1
    check = CrossCheck.of(a, fc, cc.prefix_sums({r.name: r.cost.fvcore for r in a.rows}))
    assert check.flopcounter_mismatches == ["", "fc1"] and not check.fvcore_mismatches
    fc1 = next(m for m in check.modules if m.module == "fc1")
    assert fc1 == ModuleCheck("fc1", macs["fc1"], macs["fc1"] + 10, macs["fc1"], macs["fc1"])
    assert not fc1.macs_agree and fc1.fvcore_agrees and fc1.reason == ""


def test_too_large_is_refused_before_anything_is_built(monkeypatch):
    monkeypatch.setattr(cc, "build_module", lambda *a, **k: pytest.fail("built a refused configuration"))
    big = archlib.analyze("efficientnet_b7", resolution=1024)
    assert "cross-checks run up to 30G MACs" in cc.too_large(big)
    with pytest.raises(ArchlibError, match="cross-checks run up to"):
        CrossCheck.run(big, available=FREE)
    with pytest.raises(ArchlibError, match="MiB available here"):
        CrossCheck.run(archlib.analyze("resnet50"), available=1 << 20)
    assert cc.too_large(archlib.analyze("lenet")) is None
