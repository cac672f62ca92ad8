"""GoogLeNet: the paper's Table 1 widths, torchvision's quirks, the resolution knob, bad input."""
from __future__ import annotations

import archlib

MODEL = "googlenet"
# the paper's Table 1: output channels and side (224 input) of inception 3a-3b, 4a-4e, 5a-5b
TABLE1_OUT = {"s1.b1": (256, 28), "s1.b2": (480, 28), "s2.b1": (512, 14), "s2.b2": (512, 14),
              "s2.b3": (512, 14), "s2.b4": (528, 14), "s2.b5": (832, 14), "s3.b1": (832, 7), "s3.b2": (1024, 7)}


def test_inception_outputs_follow_table1():
    ops = archlib.lower(MODEL).by_name()
    for block, (c, side) in TABLE1_OUT.items():
        assert ops[f"{block}.concat"].out_shape == (c, side, side), block
    assert ops["stem.pool2"].out_shape == (192, 28, 28)
    assert ops["head.fc"].attrs["in_f"] == 1024


def test_torchvision_quirks():
    """3x3 kernels in the '5x5' branch, BN eps 0.001, bias-free convs, ceil-mode pools, no aux heads."""
    ir = archlib.lower(MODEL)
    assert {op.attrs["kernel"] for op in ir.ops if op.name.endswith("branch3.conv.conv")} == {(3, 3)}
    assert {op.attrs["eps"] for op in ir.ops if op.kind == "bn2d"} == {1e-3}
    assert not any(op.attrs["bias"] for op in ir.ops if op.kind == "conv2d")
    assert all(op.attrs["ceil_mode"] for op in ir.ops if op.kind == "maxpool2d")
    assert sum(op.kind == "linear" for op in ir.ops) == 1
    assert sum(op.kind == "conv2d" for op in ir.ops) == 3 + 9 * 6


def test_paper_budget_within_2_percent():
    """The paper's 'computational budget of 1.5 billion multiply-adds'."""
    assert abs(archlib.analyze(MODEL).totals()["macs"] / 1.5e9 - 1) < 0.02


def test_resolution_and_num_classes():
    base = archlib.analyze(MODEL).totals()
    big = archlib.analyze(MODEL, resolution=448).totals()
    assert 3.9 < big["macs"] / base["macs"] < 4.1 and big["params"] == base["params"]
    ten = archlib.analyze(MODEL, num_classes=10).totals()
    assert base["params"] - ten["params"] == 1024 * 990 + 990
    assert archlib.lower(MODEL, resolution=32).by_name()["s3.b2.concat"].out_shape == (1024, 1, 1)
