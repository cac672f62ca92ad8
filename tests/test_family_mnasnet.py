"""MnasNet: torchvision's B1 scaling details, MnasNet-A1 against the paper, knobs, bad input."""
from __future__ import annotations

import csv
from importlib import resources

import pytest

import archlib

ROWS = [r for r in csv.DictReader(resources.files("archlib.data").joinpath("paper_results.csv").open())
        if r["family"] == "MnasNet"]


def _a1(row: dict[str, str]) -> dict[str, int]:
    return archlib.analyze("mnasnet_a1", width=float(row["width_mult"] or 1), resolution=int(row["input_res"])).totals()


@pytest.mark.parametrize("model", ["MnasNet-A1", "MnasNet-A1 (as cited in MobileNetV3)"])
def test_a1_paper_params_and_macs_within_2pct(model):
    """Paper Table 1 (312M MACs, 3.9M params) and MobileNetV3's Table 3 (315M)."""
    (row,) = [r for r in ROWS if r["model"] == model]
    t = _a1(row)
    assert t["params"] / 1e6 == pytest.approx(float(row["params_M"]), rel=0.02)
    assert t["macs"] / 1e6 == pytest.approx(float(row["macs_M"]), rel=0.02)


def test_a1_official_scaling_grid():
    """The authors' dm x resolution table and the paper's 0.35x row.

    Params within 2% (or the 0.1M printed precision). Their MACs run 1-2.7% above our
    conv/linear MACs at every size, relatively more for thin models (an additive
    elementwise term): at dm 1.0 the same table says 315.2M where the paper says 312M.
    """
    grid = [r for r in ROWS if r["model"].startswith("mnasnet-a1 dm=") or r["model"] == "MnasNet-A1 (0.35x)"]
    assert len(grid) == 26
    for row in grid:
        t = _a1(row)
        assert abs(t["params"] / 1e6 - float(row["params_M"])) <= max(0.02 * float(row["params_M"]), 0.05), row
        assert -0.03 < t["macs"] / 1e6 / float(row["macs_M"]) - 1 < 0.0, row


def test_a1_matches_timm_semnasnet_params():
    for model, params_m in (("semnasnet_100", 3.89), ("semnasnet_075", 2.91)):
        (row,) = [r for r in ROWS if r["model"].startswith(model)]
        assert float(row["params_M"]) == params_m
        assert _a1(row)["params"] / 1e6 == pytest.approx(params_m, abs=0.005)


def test_a1_structure_se_where_figure7_says():
    ops = archlib.analyze("mnasnet_a1").ir.by_name()
    se_blocks = {n.rsplit(".", 2)[0] for n in ops if n.endswith(".se.fc1")}
    assert {b.split(".")[0] for b in se_blocks} == {"s3", "s5", "s6"} and len(se_blocks) == 8
    assert ops["s3.b1.se.fc1"].attrs["out_ch"] == 24 // 4 and ops["s3.b2.se.fc1"].attrs["out_ch"] == 40 // 4
    assert sum(op.kind == "add" for op in ops.values()) == 1 + 2 + 3 + 1 + 2
    assert "s1.b1.expand.conv" not in ops and "s1.b1.add" not in ops  # SepConv, no skip


def test_b1_torchvision_scaling():
    """Stem and SepConv scale with alpha (torchvision v2), the 1280 head does not; BN momentum."""
    ops = archlib.analyze("mnasnet0_5").ir.by_name()
    assert ops["stem.conv"].attrs["out_ch"] == 16 and ops["s1.b1.project.conv"].attrs["out_ch"] == 8
    assert ops["s7.b1.project.conv"].attrs["out_ch"] == 160 and ops["head.conv.conv"].attrs["out_ch"] == 1280
    assert not any(".se." in n for n in ops)
    assert {op.attrs["momentum"] for op in ops.values() if op.kind == "bn2d"} == {1 - 0.9997}
    # _round_to_multiple_of(24 * 1.3) = 32 (31.2 rounds up), 40 * 1.3 = 52 -> 56
    ops13 = archlib.analyze("mnasnet1_3").ir.by_name()
    assert ops13["s2.b1.project.conv"].attrs["out_ch"] == 32 and ops13["s3.b1.project.conv"].attrs["out_ch"] == 56


def test_width_knob_scales_macs():
    base = archlib.analyze("mnasnet1_0").totals()["macs"]
    assert 0.3 < archlib.analyze("mnasnet1_0", width=0.5).totals()["macs"] / base < 0.36  # 104M / 314M
    assert archlib.analyze("mnasnet0_5").totals() == archlib.analyze("mnasnet1_0", width=0.5).totals()
