"""ResNet: Table 1 depths, v1.5 strides, pycls's ResNet-50, the width knob, bad input."""
from __future__ import annotations

import json
from importlib import resources

import pytest

import archlib

# torchvision's published num_params and GFLOPS (= GMACs) of the presets besides resnet50 (in the bundled CSV)
TORCHVISION = {18: (11_689_512, 1.814), 34: (21_797_672, 3.664), 101: (44_549_160, 7.801),
               152: (60_192_808, 11.514)}
# the paper's Table 1: blocks in conv2_x .. conv5_x
TABLE1 = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _blocks(ir) -> tuple[int, ...]:
    names = {".".join(op.name.split(".")[:2]) for op in ir.ops if op.name.startswith("s")}
    return tuple(sum(n.startswith(f"s{i}.") for n in names) for i in range(1, 5))


@pytest.mark.parametrize("layers", sorted(TABLE1))
def test_table1_blocks_and_weight_layers(layers):
    ir = archlib.lower(f"resnet{layers}")
    assert _blocks(ir) == TABLE1[layers]
    main = [op for op in ir.ops if op.kind in ("conv2d", "linear") and "downsample" not in op.name]
    assert len(main) == layers
    assert ir.by_name()["head.fc"].attrs["in_f"] == (2048 if layers >= 50 else 512)


@pytest.mark.parametrize("layers", sorted(TORCHVISION))
def test_other_presets_match_torchvision(layers):
    t = archlib.analyze(f"resnet{layers}").totals()
    assert (t["params"], round(t["macs"] / 1e9, 3)) == TORCHVISION[layers]


def test_v15_stride_on_3x3_and_projection_shortcuts():
    ops = archlib.lower("resnet50").by_name()
    for i in (2, 3, 4):
        assert ops[f"s{i}.b1.conv1.conv"].attrs["stride"] == (1, 1)
        assert ops[f"s{i}.b1.conv2.conv"].attrs["stride"] == (2, 2)
        assert ops[f"s{i}.b1.downsample.conv"].attrs["stride"] == (2, 2)
    assert "s1.b1.downsample.conv" in ops and "s1.b2.downsample.conv" not in ops  # 64 -> 256 channels
    assert "s1.b1.downsample.conv" not in archlib.lower("resnet18").by_name()


def test_resnet50_matches_pycls():
    """pycls's R-50: same params; its flops add the fc bias (num_classes) to our MACs."""
    with resources.files("archlib.data").joinpath("pycls_model_zoo.json").open() as f:
        _acts, flops, params = json.load(f)["complexity"]["ResNet-50"]
    t = archlib.analyze("resnet50").totals()
    assert t["params"] == params and flops == t["macs"] + 1000


def test_width_scales_macs_quadratically():
    base, half = (archlib.analyze("resnet50", width=w).totals() for w in (1.0, 0.5))
    assert 0.25 < half["macs"] / base["macs"] < 0.28  # w^2, the stem's 3-channel conv only w
    assert 0.26 < half["params"] / base["params"] < 0.28  # w^2, the fc's 2.05M only w
    ops = archlib.lower("resnet50", width=0.3).by_name()
    assert ops["stem.conv.conv"].attrs["out_ch"] == 24  # 64 * 0.3 = 19.2 -> 24 (multiples of 8)
    assert ops["s4.b3.conv3.conv"].attrs["out_ch"] == 4 * 152  # 512 * 0.3 = 153.6 -> 152


def test_v1_stride_on_1x1_is_the_papers_resnet50():
    """He et al. report 3.8 x 10^9 FLOPs (multiply-adds) for ResNet-50: the v1 network; v1.5 costs 4.09 G."""
    v1 = archlib.analyze("resnet50", stride_on="1x1").totals()
    v15 = archlib.analyze("resnet50").totals()
    assert v1["params"] == v15["params"] == 25_557_032
    assert v1["macs"] == 3_857_973_248 and v15["macs"] == 4_089_184_256
    assert v1["macs"] / 1e9 == pytest.approx(3.8, rel=0.02)
