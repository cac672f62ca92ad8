"""EfficientNet: presets against the paper and pycls, compound-scaling knobs, bad input, random knobs."""
from __future__ import annotations

import csv
import json
import math
import re
from importlib import resources

import pytest

import archlib

PAPER_RES = (224, 240, 260, 300, 380, 456, 528, 600)


def _paper_rows() -> dict[str, dict[str, str]]:
    with resources.files("archlib.data").joinpath("paper_results.csv").open() as f:
        return {r["variant"]: r for r in csv.DictReader(f)
                if r["family"] == "EfficientNet" and r["source_type"] == "paper_table"}


def _blocks_per_stage(name: str, **knobs) -> list[int]:
    names = [op.name.split(".") for op in archlib.lower(name, **knobs).ops]
    blocks = {(n[0], n[1]) for n in names if re.fullmatch(r"s\d+", n[0])}
    stages = sorted({s for s, _ in blocks}, key=lambda s: int(s[1:]))
    return [sum(1 for s, _ in blocks if s == st_) for st_ in stages]


def _pycls_flops(a) -> int:
    """pycls 'flops': MACs plus one add per output channel of each biased conv/linear."""
    bias = sum(op.attrs["out_ch"] if op.kind == "conv2d" else op.attrs["out_f"]
               for op in a.ir.ops if op.kind in ("conv2d", "linear") and op.attrs["bias"])
    return a.totals()["macs"] + bias


@pytest.mark.parametrize("i", range(8))
def test_presets_near_paper_table(i):
    """Table 2 params within 2%; its MACs are printed to 2 digits (B4 4.2B vs 4.39B), so 5%."""
    row = _paper_rows()[f"B{i}"]
    t = archlib.analyze(f"efficientnet_b{i}", resolution=int(row["input_res"])).totals()
    assert int(row["input_res"]) == PAPER_RES[i]
    assert t["params"] == pytest.approx(float(row["params_M"]) * 1e6, rel=0.02)
    assert t["macs"] == pytest.approx(float(row["macs_M"]) * 1e6, rel=0.05)


@pytest.mark.parametrize("i", range(6))
def test_presets_match_pycls_complexity_exactly(i):
    """pycls model zoo [acts, flops, params] of EN-B0..B5 at their training resolution."""
    with resources.files("archlib.data").joinpath("pycls_model_zoo.json").open() as f:
        acts, flops, params = json.load(f)["complexity"][f"EfficientNet-B{i}"]
    a = archlib.analyze(f"efficientnet_b{i}", resolution=PAPER_RES[i])
    assert (a.totals()["params"], _pycls_flops(a), a.totals()["activations"]) == (params, flops, acts)


def test_phi_is_the_compound_formula():
    """phi=1 on B0 is width 1.1, depth 1.2, resolution round(224 * 1.15) = 258."""
    scaled = archlib.lower("efficientnet_b0", phi=1)
    explicit = archlib.lower("efficientnet_b0", width=1.1, depth=1.2, resolution=258)
    assert scaled.input_shape == (3, 258, 258)
    assert scaled.ops == explicit.ops
    # the other bases change only their own dimension
    assert archlib.lower("efficientnet_b0", phi=1, alpha=1.0, beta=1.0).ops == archlib.lower(
        "efficientnet_b0", resolution=258).ops


def test_width_depth_resolution_knobs():
    base = archlib.analyze("efficientnet_b0").totals()["macs"]
    half = archlib.analyze("efficientnet_b0", width=0.5).totals()["macs"]
    assert 0.2 < half / base < 0.4  # conv MACs ~ width^2, channels rounded to multiples of 8
    double_res = archlib.analyze("efficientnet_b0", resolution=448).totals()["macs"]
    assert double_res / base == pytest.approx(4.0, rel=0.02)
    assert _blocks_per_stage("efficientnet_b0") == [1, 2, 2, 3, 3, 4, 1]
    assert _blocks_per_stage("efficientnet_b0", depth=2.0) == [2, 4, 4, 6, 6, 8, 2]
    assert _blocks_per_stage("efficientnet_b7") == [math.ceil(n * 3.1) for n in (1, 2, 2, 3, 3, 4, 1)]


def test_block_structure():
    ops = archlib.lower("efficientnet_b0").by_name()
    assert "s1.b1.expand.conv" not in ops  # t = 1: no expansion
    assert ops["s2.b1.dw.conv"].attrs["groups"] == 96
    assert ops["s2.b1.se.fc1"].attrs["out_ch"] == 4  # max(1, 16 // 4): squeeze from the block input
    assert ops["s3.b1.dw.conv"].attrs["kernel"] == (5, 5)
    assert ops["s2.b2.add"].kind == "add" and "s2.b1.add" not in ops
    assert ops["head.conv.conv"].attrs["out_ch"] == 1280
    assert ops["stem.bn"].attrs["eps"] == 1e-3
    assert archlib.lower("efficientnet_b3").by_name()["head.conv.conv"].attrs["out_ch"] == 1536
