"""SqueezeNet: the metaparameters reproduce torchvision's Fire widths; each knob does what section 5 says."""
from __future__ import annotations

import pytest

import archlib

# torchvision's Fire(inplanes, squeeze, expand1x1, expand3x3) arguments, in order
TORCHVISION_FIRES = {
    "squeezenet1_0": [(96, 16, 64, 64), (128, 16, 64, 64), (128, 32, 128, 128), (256, 32, 128, 128),
                      (256, 48, 192, 192), (384, 48, 192, 192), (384, 64, 256, 256), (512, 64, 256, 256)],
    "squeezenet1_1": [(64, 16, 64, 64), (128, 16, 64, 64), (128, 32, 128, 128), (256, 32, 128, 128),
                      (256, 48, 192, 192), (384, 48, 192, 192), (384, 64, 256, 256), (512, 64, 256, 256)],
}
# Fire modules per stage (a max-pool after all but the last) and the first conv's (channels, kernel)
TORCHVISION_LAYOUT = {"squeezenet1_0": ((3, 4, 1), (96, 7)), "squeezenet1_1": ((2, 2, 4), (64, 3))}


def _fires(name: str, **knobs) -> list[tuple[int, int, int, int]]:
    ops = archlib.lower(name, **knobs).by_name()
    blocks = sorted({op.rsplit(".", 2)[0] for op in ops if op.endswith("squeeze.conv")})
    return [(ops[f"{bl}.squeeze.conv"].attrs["in_ch"], ops[f"{bl}.squeeze.conv"].attrs["out_ch"],
             ops[f"{bl}.expand1x1.conv"].attrs["out_ch"], ops[f"{bl}.expand3x3.conv"].attrs["out_ch"])
            for bl in blocks]


@pytest.mark.parametrize("name", sorted(TORCHVISION_FIRES))
def test_defaults_give_torchvision_channels_and_layout(name):
    assert _fires(name) == TORCHVISION_FIRES[name]
    ir = archlib.lower(name)
    stages, (c1, k1) = TORCHVISION_LAYOUT[name]
    counts = [sum(op.name.startswith(f"s{i}.") and op.name.endswith("squeeze.conv") for op in ir.ops)
              for i in (1, 2, 3)]
    assert tuple(counts) == stages
    pools = [op for op in ir.ops if op.kind == "maxpool2d"]
    assert len(pools) == 3 and all(p.attrs["ceil_mode"] and p.attrs["kernel"] == 3 for p in pools)
    conv1 = ir.by_name()["stem.conv1.conv"]
    assert (conv1.attrs["out_ch"], conv1.attrs["kernel"][0], conv1.attrs["stride"]) == (c1, k1, (2, 2))
    assert all(op.attrs["bias"] for op in ir.ops if op.kind == "conv2d")


def test_v11_has_about_2_4x_fewer_macs_and_slightly_fewer_params():
    """The v1.1 release note: 2.4x less computation than v1.0, slightly fewer parameters."""
    v0, v1 = (archlib.analyze(n).totals() for n in ("squeezenet1_0", "squeezenet1_1"))
    assert 2.2 < v0["macs"] / v1["macs"] < 2.5
    assert 0.98 < v1["params"] / v0["params"] < 1.0


def test_squeeze_ratio_scales_squeeze_layers():
    """SR is squeeze filters / expand filters: SR=1 squeezes nothing, SR=0.25 doubles the default."""
    assert [f[1] for f in _fires("squeezenet1_0", sr=1.0)] == [128, 128, 256, 256, 384, 384, 512, 512]
    assert [f[1] for f in _fires("squeezenet1_0", sr=0.25)] == [32, 32, 64, 64, 96, 96, 128, 128]
    p = [archlib.analyze("squeezenet1_0", sr=s).totals()["params"] for s in (0.125, 0.25, 0.5, 0.75, 1.0)]
    assert p == sorted(p) and p[-1] > 4 * p[0]  # the paper's Figure 2(a) sweep: size grows steadily with SR


def test_pct3x3_and_expand_schedule():
    """pct3x3 splits each e_i; e_i = base_e + incr_e * floor(i / freq)."""
    assert [(f[2], f[3]) for f in _fires("squeezenet1_1", pct3x3=0.25)][:2] == [(96, 32), (96, 32)]
    assert [f[2] + f[3] for f in _fires("squeezenet1_0", freq=1, incr_e=64)] == [128 + 64 * i for i in range(8)]
    flat = _fires("squeezenet1_0", incr_e=0, base_e=256)
    assert {f[2] + f[3] for f in flat} == {256} and {f[1] for f in flat} == {32}
    extreme = _fires("squeezenet1_0", base_e=8, incr_e=0, pct3x3=0.99, sr=0.125)
    assert all(f[1] >= 1 and f[2] >= 1 and f[3] >= 1 for f in extreme)  # rounding never empties a branch
