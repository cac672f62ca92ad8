"""Bytes moved, arithmetic intensity and the roofline's maths, against hand-computed cases."""
from __future__ import annotations

import math

import pytest

import archlib
from archlib.core import roofline
from archlib.core.analysis import Analysis
from archlib.core.ir import IRBuilder
from archlib.errors import ArchlibError


def _analysis(build) -> Analysis:
    b = IRBuilder((16, 8, 8))
    build(b)
    return Analysis.of("hand", {}, b.finish())


def test_pointwise_conv_moves_shufflenet_v2s_memory_access_cost():
    # ShuffleNetV2 (Ma et al. 2018), G1: a 1x1 conv's MAC = hw(c1 + c2) + c1 c2
    a = _analysis(lambda b: b.conv("pw", b.input, 32, 1))
    (t,) = roofline.traffic(a)
    h = w = 8
    assert t.bytes == 4 * (h * w * (16 + 32) + 16 * 32) == 14336
    assert (t.bytes_in, t.bytes_weights, t.bytes_out) == (4 * 1024, 4 * 512, 4 * 2048)
    assert t.flops == 2 * 16 * 32 * 64 == 65536 and t.ops == t.flops
    assert t.intensity == 65536 / 14336


def test_weights_are_read_once_per_batch_and_dtype_scales_bytes():
    a = _analysis(lambda b: b.conv("pw", b.input, 32, 1))
    (t4,) = roofline.traffic(a, batch=4)
    assert t4.bytes == 4 * (4 * 64 * (16 + 32) + 16 * 32) and t4.flops == 4 * 65536
    (h,) = roofline.traffic(a, batch=4, dtype="bfloat16")
    assert h.bytes == t4.bytes // 2


def test_elementwise_ops_count_their_operations_and_both_inputs():
    def build(b):
        y = b.bn("bn", b.input)
        b.add("add", y, b.input)

    bn, add = roofline.traffic(_analysis(build))
    n = 16 * 8 * 8
    assert bn.flops == 0 and bn.ops == n and bn.bytes == 4 * (2 * n + 2 * 16 + 2 * 16 + 1)
    assert add.bytes == 4 * 3 * n and add.ops == n and add.intensity == pytest.approx(1 / 12)


def test_a_view_moves_nothing_and_is_bound_by_overhead():
    (t,) = roofline.traffic(_analysis(lambda b: b.flatten("flat", b.input)))
    assert t.bytes == 0 and math.isnan(t.intensity)
    assert roofline.bound(t.intensity, 1e11, 1e10) == "overhead"


def test_ridge_attainable_and_bound_by_hand():
    peak, bw = 100e9, 10e9  # 100 GFLOP/s, 10 GB/s: the ridge at 10 FLOP/byte
    assert roofline.ridge(peak, bw) == 10
    assert roofline.attainable(5, peak, bw) == 50e9
    assert roofline.attainable(20, peak, bw) == peak
    assert roofline.attainable(0, peak, bw) == 0
    assert roofline.bound(10, peak, bw) == "compute" and roofline.bound(9.99, peak, bw) == "memory"


@pytest.mark.parametrize("kwargs, words", [
    ({"peak_ops": 0, "bandwidth": 1e9}, ["peak_ops=0", "positive"]),
    ({"peak_ops": 1e9, "bandwidth": -1.0}, ["bandwidth=-1.0", "positive"]),
    ({"peak_ops": 1e9, "bandwidth": math.inf}, ["bandwidth=inf"]),
])
def test_bad_peaks_are_named(kwargs, words):
    with pytest.raises(ArchlibError) as e:
        roofline.ridge(**kwargs)
    assert all(w in str(e.value) for w in words)


def test_bad_batch_and_dtype_are_named():
    a = archlib.analyze("lenet")
    with pytest.raises(ArchlibError, match=r"batch=0 .*\[1, 65536\]"):
        roofline.traffic(a, batch=0)
    with pytest.raises(ArchlibError, match="dtype='int4'"):
        roofline.traffic(a, dtype="int4")
    with pytest.raises(ArchlibError, match="intensity"):
        roofline.attainable(-1, 1e9, 1e9)


def test_every_registered_model_traffic_adds_up(model_name):
    a = archlib.analyze(model_name)
    layers = roofline.traffic(a)
    tot = roofline.totals(layers)
    t = a.totals()
    assert tot["flops"] == 2 * t["macs"] and tot["ops"] == 2 * t["macs"] + t["elementwise"]
    assert tot["bytes"] == sum(x.bytes for x in layers) > 0
    assert tot["intensity"] == tot["ops"] / tot["bytes"]
    assert [x.name for x in layers] == [r.name for r in a.rows]
    for x, r in zip(layers, a.rows):
        assert x.bytes >= 0 and (x.bytes == 0) == (r.activation_bytes == 0)  # views, and only views, move nothing
