"""EfficientNetV2: official numbers, Fused-MBConv/MBConv structure, knobs, bad input, random knobs."""
from __future__ import annotations

import csv
import re
from importlib import resources

import pytest

import archlib


def _blocks_per_stage(name: str, **knobs) -> list[int]:
    names = [op.name.split(".") for op in archlib.lower(name, **knobs).ops]
    blocks = {(n[0], n[1]) for n in names if re.fullmatch(r"s\d+", n[0])}
    stages = sorted({s for s, _ in blocks}, key=lambda s: int(s[1:]))
    return [sum(1 for s, _ in blocks if s == st_) for st_ in stages]


@pytest.mark.parametrize("v", ["S", "M", "L"])
def test_within_2pct_of_official_readme(v):
    """google/automl README: S 21.5M/8.4B, M 54.1M/24.7B, L 119.5M/56.3B (MACs)."""
    with resources.files("archlib.data").joinpath("paper_results.csv").open() as f:
        row = next(r for r in csv.DictReader(f) if r["family"] == "EfficientNetV2"
                   and r["source_type"] == "official_repo" and r["variant"] == v)
    t = archlib.analyze(f"efficientnet_v2_{v.lower()}", resolution=int(row["input_res"])).totals()
    assert t["params"] == pytest.approx(float(row["params_M"]) * 1e6, rel=0.02)
    assert t["macs"] == pytest.approx(float(row["macs_M"]) * 1e6, rel=0.02)


def test_block_structure():
    ops = archlib.lower("efficientnet_v2_s").by_name()
    assert ops["stem.conv"].attrs["out_ch"] == 24 and ops["stem.bn"].attrs["eps"] == 1e-3
    assert ops["s1.b1.conv.conv"].attrs["kernel"] == (3, 3) and "s1.b1.expand.conv" not in ops  # t = 1
    assert ops["s1.b2.add"].kind == "add"
    assert ops["s2.b1.expand.conv"].attrs["stride"] == (2, 2) and ops["s2.b1.expand.conv"].attrs["out_ch"] == 96
    assert not any(n.startswith(("s1.", "s2.", "s3.")) and ".se." in n for n in ops)  # fused: no SE
    assert ops["s4.b1.dw.conv"].attrs["groups"] == 256
    assert ops["s4.b1.se.fc1"].attrs["out_ch"] == 16  # max(1, 64 // 4)
    assert ops["head.conv.conv"].attrs["out_ch"] == 1280
    assert _blocks_per_stage("efficientnet_v2_s") == [2, 4, 4, 6, 9, 15]
    assert _blocks_per_stage("efficientnet_v2_m") == [3, 5, 5, 7, 14, 18, 5]
    assert _blocks_per_stage("efficientnet_v2_l") == [4, 7, 7, 10, 19, 25, 7]


def test_knob_effects():
    base = archlib.analyze("efficientnet_v2_s", resolution=128).totals()
    half = archlib.analyze("efficientnet_v2_s", resolution=128, width=0.5).totals()
    assert 0.2 < half["macs"] / base["macs"] < 0.35  # ~ width^2
    assert _blocks_per_stage("efficientnet_v2_s", depth=0.5) == [1, 2, 2, 3, 5, 8]
    assert archlib.lower("efficientnet_v2_s", variant="l", dropout=0.4).ops == archlib.lower("efficientnet_v2_l", resolution=384).ops
