"""AlexNet: torchvision's layer table, the paper's size, the width and resolution knobs, bad input."""
from __future__ import annotations

import csv
from importlib import resources

import pytest

import archlib

MODEL = "alexnet"
# torchvision's AlexNet features: (out channels, kernel, stride, padding) of conv1..conv5
TORCHVISION_CONVS = [(64, 11, 4, 2), (192, 5, 1, 2), (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1)]


def _paper_rows() -> list[dict[str, str]]:
    with resources.files("archlib.data").joinpath("paper_results.csv").open() as f:
        return [r for r in csv.DictReader(f) if r["family"] == "AlexNet" and r["kind"] == "paper"]


def test_torchvision_layer_table():
    ir = archlib.lower(MODEL)
    convs = [op for op in ir.ops if op.kind == "conv2d"]
    assert [(op.attrs["out_ch"], op.attrs["kernel"][0], op.attrs["stride"][0], op.attrs["padding"][0])
            for op in convs] == TORCHVISION_CONVS
    assert [op.attrs["out_f"] for op in ir.ops if op.kind == "linear"] == [4096, 4096, 1000]
    assert ir.by_name()["head.fc1"].attrs["in_f"] == 256 * 6 * 6
    assert [op.name for op in ir.ops if op.kind == "maxpool2d"] == ["s1.pool", "s2.pool", "s5.pool"]
    assert sum(op.kind == "dropout" for op in ir.ops) == 2


@pytest.mark.parametrize("row", _paper_rows(), ids=lambda r: r["model"])
def test_paper_size_within_2_percent(row):
    """'60 million parameters' and the 720M Mult-Adds other papers cite, within 2%."""
    t = archlib.analyze(MODEL).totals()
    if row["params_M"]:
        assert abs(t["params"] / 1e6 / float(row["params_M"]) - 1) < 0.02
    if row["macs_M"]:
        assert abs(t["macs"] / 1e6 / float(row["macs_M"]) - 1) < 0.02


def test_adaptive_pool_makes_params_independent_of_resolution():
    """The 6x6 adaptive pool feeds the classifier 9216 features at any input from 63 px up."""
    p = {r: archlib.analyze(MODEL, resolution=r).totals()["params"] for r in (63, 128, 224, 320)}
    assert set(p.values()) == {61_100_840}
    assert archlib.lower(MODEL, resolution=63).by_name()["s5.pool"].out_shape == (256, 1, 1)


def test_width_scales_conv_channels_only():
    base, half = (archlib.analyze(MODEL, width=w) for w in (1.0, 0.5))
    conv = {n: sum(r.cost.macs for r in a.rows if r.op == "conv2d") for n, a in (("base", base), ("half", half))}
    assert 0.25 < conv["half"] / conv["base"] < 0.3  # ~w^2, conv1 (3 input channels) only ~w
    assert half.ir.by_name()["head.fc1"].attrs["in_f"] == 128 * 36
    assert half.ir.by_name()["head.fc2"].attrs["in_f"] == 4096
