"""ShuffleNet V2: the paper's complexities, the unit structure, the width choice, bad input."""
from __future__ import annotations

import csv
from importlib import resources

import pytest

import archlib

ROWS = [r for r in csv.DictReader(resources.files("archlib.data").joinpath("paper_results.csv").open())
        if r["family"] == "ShuffleNetV2" and r["source_type"] in ("paper_table", "official_repo")]


def _close(ours: float, printed: str) -> bool:
    """Within 2%, or within half a unit of the printed value's last digit (1.4 means 1.35-1.45)."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return abs(ours - float(printed)) <= max(0.02 * float(printed), 0.5 * 10 ** -decimals)


NAMES = {0.5: "shufflenet_v2_x0_5", 1.0: "shufflenet_v2_x1_0", 1.5: "shufflenet_v2_x1_5", 2.0: "shufflenet_v2_x2_0"}


@pytest.mark.parametrize("row", ROWS, ids=[r["model"] for r in ROWS])
def test_paper_and_release_counts(row):
    """Table 8's 41/146/299/591 MFLOPs and the authors' release (params 1.4/2.3/3.5/7.4M)."""
    t = archlib.analyze(NAMES[float(row["width_mult"])]).totals()
    assert _close(t["macs"] / 1e6, row["macs_M"]), t["macs"]
    if row["params_M"]:
        assert _close(t["params"] / 1e6, row["params_M"]), t["params"]


def test_unit_structure():
    a = archlib.analyze("shufflenet_v2_x1_0")
    ops = a.ir.by_name()
    blocks = [g for g, _ in a.by_group("block") if g[0] == "s" and g[1].isdigit()]
    assert len(blocks) == 4 + 8 + 4
    assert sum(op.kind == "channel_shuffle" and op.attrs["groups"] == 2 for op in a.ir.ops) == 16
    assert ops["s1.b2.keep"].out_shape == ops["s1.b2.split"].out_shape == (58, 28, 28)
    assert ops["s1.b1.proj.pw.conv"].attrs["in_ch"] == 24 and "s1.b2.proj.dw.conv" not in ops
    assert ops["s3.b4.shuffle"].out_shape == (464, 7, 7) and ops["head.conv.conv"].attrs["out_ch"] == 1024
    assert archlib.analyze("shufflenet_v2_x2_0").ir.by_name()["head.conv.conv"].attrs["out_ch"] == 2048


def test_width_choice_scales_macs():
    macs = {w: archlib.analyze(name).totals()["macs"] for w, name in NAMES.items()}
    assert macs[0.5] < macs[1.0] < macs[1.5] < macs[2.0]
    assert 3.8 < macs[2.0] / macs[1.0] < 4.2  # ~ width^2
    assert archlib.analyze("shufflenet_v2_x1_0", width=0.5).totals() == archlib.analyze(NAMES[0.5]).totals()
