"""VGG: the paper's configurations A/B/D/E, their sizes, the resolution knob, bad input."""
from __future__ import annotations

import pytest

import archlib

# torchvision's published num_params and GFLOPS (= GMACs) of vgg11/13/19 (vgg16 is in the bundled CSV),
# and the paper's Table 2 parameter counts in millions
TORCHVISION = {11: (132_863_336, 7.609), 13: (133_047_848, 11.308), 19: (143_667_240, 19.632)}
PAPER_TABLE2_M = {11: 133, 13: 133, 16: 138, 19: 144}
# the paper's Table 1: conv layers per stage of configurations A, B, D, E
TABLE1 = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}


@pytest.mark.parametrize("variant", sorted(TABLE1))
def test_table1_layers_and_table2_params(variant):
    ir = archlib.lower(f"vgg{variant}")
    per_stage = tuple(sum(op.kind == "conv2d" and op.name.startswith(f"s{i}.") for op in ir.ops) for i in range(1, 6))
    assert per_stage == TABLE1[variant]
    assert sum(per_stage) + sum(op.kind == "linear" for op in ir.ops) == variant
    assert all(op.attrs["kernel"] == (3, 3) and op.attrs["bias"] for op in ir.ops if op.kind == "conv2d")
    params = archlib.analyze(f"vgg{variant}").totals()["params"]
    assert abs(params / 1e6 - PAPER_TABLE2_M[variant]) < 0.5  # the paper rounds to millions


@pytest.mark.parametrize("variant", sorted(TORCHVISION))
def test_other_variants_match_torchvision(variant):
    t = archlib.analyze(f"vgg{variant}").totals()
    assert (t["params"], round(t["macs"] / 1e9, 3)) == TORCHVISION[variant]
    assert archlib.analyze("vgg16", variant=variant).totals() == t  # the knob and the preset agree


def test_resolution_scales_convs_not_classifier():
    """MACs of the convs grow as resolution^2; the 7x7 adaptive pool keeps the classifier fixed."""
    lo, hi = (archlib.analyze("vgg16", resolution=r) for r in (112, 224))
    conv = [sum(r.cost.macs for r in a.rows if r.op == "conv2d") for a in (lo, hi)]
    assert conv[1] == 4 * conv[0]
    assert lo.totals()["params"] == hi.totals()["params"] == 138_357_544
    assert archlib.lower("vgg16", resolution=32).by_name()["s5.pool"].out_shape == (512, 1, 1)


def test_mobilenet_v1_citation_within_2_percent():
    """MobileNetV1's Table 8 cites VGG 16 at 138M parameters and 15,300M Mult-Adds."""
    t = archlib.analyze("vgg16").totals()
    assert abs(t["macs"] / 15_300e6 - 1) < 0.02 and abs(t["params"] / 138e6 - 1) < 0.01
