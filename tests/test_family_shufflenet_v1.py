"""ShuffleNet V1: the paper's and the authors' release counts, the groups and width knobs, bad input."""
from __future__ import annotations

import csv
import re
from importlib import resources

import pytest

import archlib

ROWS = [r for r in csv.DictReader(resources.files("archlib.data").joinpath("paper_results.csv").open())
        if r["family"] == "ShuffleNetV1"]
# other architectures than Table 1's (26-layer shallow, SE) and Table 2's 0.25x, whose "13 MFLOPs"
# labels a complexity level shared by every g (the counts here are 11.0-12.4M), not a count
NOT_COUNTS = ("shallow", "with SE", "0.25x")
COUNTED = [r for r in ROWS if not any(s in r["model"] for s in NOT_COUNTS)]


def _close(ours: float, printed: str) -> bool:
    """Within 2%, or within half a unit of the printed value's last digit (0.7 means 0.65-0.75)."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return abs(ours - float(printed)) <= max(0.02 * float(printed), 0.5 * 10 ** -decimals)


def _groups(row: dict[str, str]) -> int:
    return int(re.search(r"g(?:roups?)?=(\d)", row["variant"] + row["model"]).group(1))


@pytest.mark.parametrize("row", COUNTED, ids=[r["model"] for r in COUNTED])
def test_paper_and_release_counts(row):
    """Tables 5 and 8 (MFLOPs = MACs), MobileNetV2's citations and the authors' release."""
    t = archlib.analyze(f"shufflenet_v1_g{_groups(row)}", width=float(row["width_mult"])).totals()
    assert _close(t["macs"] / 1e6, row["macs_M"]), t["macs"]
    if row["params_M"]:
        assert _close(t["params"] / 1e6, row["params_M"]), t["params"]


def test_table1_complexity_per_group_count():
    """Table 1's complexity row at 1x: 143, 140, 137, 133 and 137 MFLOPs for g = 1, 2, 3, 4, 8."""
    assert len(COUNTED) == len(ROWS) - 3
    for g, mflops in zip((1, 2, 3, 4, 8), (143, 140, 137, 133, 137)):
        assert archlib.analyze(f"shufflenet_v1_g{g}").totals()["macs"] / 1e6 == pytest.approx(mflops, rel=0.02)


def test_groups_knob_changes_group_convs_and_shuffles():
    for g, stage2 in ((1, 144), (2, 200), (3, 240), (4, 272), (8, 384)):
        ops = archlib.analyze("shufflenet_v1_g3", groups=g).ir.by_name()
        assert ops["s1.b4.act"].out_shape == (stage2, 28, 28) and ops["s3.b4.act"].out_shape[0] == 4 * stage2
        assert ops["s1.b1.gconv1.conv"].attrs["groups"] == 1  # Stage2's first pointwise conv
        assert ops["s1.b2.gconv1.conv"].attrs["groups"] == ops["s3.b1.gconv2.conv"].attrs["groups"] == g
        assert sum(op.kind == "channel_shuffle" for op in ops.values()) == (0 if g == 1 else 16)
    ops = archlib.analyze("shufflenet_v1_g3").ir.by_name()
    assert ops["s2.b1.gconv1.conv"].attrs["out_ch"] == 480 // 4  # bottleneck = output / 4
    assert ops["s2.b1.gconv2.conv"].attrs["out_ch"] == 480 - 240  # concat with the pooled input
    assert ops["s2.b1.shortcut"].attrs["kernel"] == 3 and ops["s2.b1.shortcut"].out_shape == (240, 14, 14)


def test_width_knob_scales_macs_and_stem_octaves():
    base = archlib.analyze("shufflenet_v1_g3").totals()["macs"]
    assert 3.6 < archlib.analyze("shufflenet_v1_g3", width=2.0).totals()["macs"] / base < 4.0  # 524 / 140
    stems = [archlib.analyze("shufflenet_v1_g8", width=w).ir.by_name()["stem.conv"].attrs["out_ch"]
             for w in (0.5, 1.0, 1.5, 2.0)]
    assert stems == [16, 24, 24, 48]  # the authors' release
