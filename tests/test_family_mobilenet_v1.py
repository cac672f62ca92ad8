"""MobileNetV1: the paper's parameter and MAC counts, the width/resolution knobs, bad input."""
from __future__ import annotations

import csv
from importlib import resources

import pytest

import archlib

MODEL = "mobilenet_v1"


def _rows(kind: str) -> list[dict[str, str]]:
    with resources.files("archlib.data").joinpath("paper_results.csv").open() as f:
        return [r for r in csv.DictReader(f) if r["family"] == "MobileNetV1" and r["source_type"] == kind]


def _close(ours: float, printed: str) -> bool:
    """Within 2%, or within half a unit of the printed value's last digit (0.5 means 0.45-0.55)."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return abs(ours - float(printed)) <= max(0.02 * float(printed), 0.5 * 10 ** -decimals)


PAPER = _rows("paper_table")


@pytest.mark.parametrize("row", PAPER, ids=[r["model"] for r in PAPER])
def test_paper_params_and_macs(row):
    """Every paper row (alpha x resolution): params (FC included) and Mult-Adds within 2%."""
    t = archlib.analyze(MODEL, width=float(row["width_mult"]), resolution=int(row["input_res"])).totals()
    if row["params_M"]:
        assert _close(t["params"] / 1e6, row["params_M"]), (t["params"], row["params_M"])
    assert _close(t["macs"] / 1e6, row["macs_M"]), (t["macs"], row["macs_M"])


def test_official_checkpoint_params():
    """TF-slim's checkpoint table: every width's parameter count within 2%."""
    rows = _rows("official_repo")
    assert len(rows) == 16
    for row in rows:
        t = archlib.analyze(MODEL, width=float(row["width_mult"]), resolution=int(row["input_res"])).totals()
        assert _close(t["params"] / 1e6, row["params_M"]), (row["model"], t["params"])


def test_table1_structure():
    """13 depthwise separable layers, 28 conv layers in all, strides give a 7x7 map at 224."""
    a = archlib.analyze(MODEL)
    convs = [op for op in a.ir.ops if op.kind == "conv2d"]
    assert len(convs) == 27 and sum(op.kind == "linear" for op in a.ir.ops) == 1
    assert sum(op.attrs["groups"] > 1 for op in convs) == 13
    assert a.ir.by_name()["s5.b2.pw.conv"].out_shape == (1024, 7, 7)
    assert a.ir.by_name()["head.fc"].attrs["in_f"] == 1024


def test_width_scales_macs_quadratically_and_resolution_scales_macs():
    base = archlib.analyze(MODEL).totals()["macs"]
    half = archlib.analyze(MODEL, width=0.5).totals()["macs"]
    assert 0.24 < half / base < 0.28  # paper: 569M -> 149M
    small = archlib.analyze(MODEL, resolution=128).totals()["macs"]
    assert 0.32 < small / base < 0.335  # MACs ~ resolution^2 = 0.327 (paper: 569M -> 186M)
    assert archlib.analyze(MODEL, resolution=128).totals()["params"] == archlib.analyze(MODEL).totals()["params"]
