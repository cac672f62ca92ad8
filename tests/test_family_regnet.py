"""RegNet: pycls model-zoo complexity exactly, the width rule, the two roundings, knobs, random knobs."""
from __future__ import annotations

import json
import re
from importlib import resources

import pytest

import archlib
from archlib.families.regnet import Stage, block_widths, stages

ZOO = {"002": "200MF", "004": "400MF", "006": "600MF", "008": "800MF", "016": "1.6GF", "032": "3.2GF",
       "040": "4.0GF", "064": "6.4GF", "080": "8.0GF", "120": "12GF", "160": "16GF", "320": "32GF"}


def _pycls(name: str) -> list[int]:
    with resources.files("archlib.data").joinpath("pycls_model_zoo.json").open() as f:
        return json.load(f)["complexity"][name]


def _pycls_flops(a) -> int:
    """pycls 'flops': MACs plus one add per output channel of each biased conv/linear."""
    bias = sum(op.attrs["out_ch"] if op.kind == "conv2d" else op.attrs["out_f"]
               for op in a.ir.ops if op.kind in ("conv2d", "linear") and op.attrs["bias"])
    return a.totals()["macs"] + bias


@pytest.mark.parametrize("x", ["x", "y"])
@pytest.mark.parametrize("tag", list(ZOO))
def test_pycls_zoo_acts_flops_params_exact(x, tag):
    """pycls dev/model_complexity.json [acts, flops, params] at 224, to the unit."""
    acts, flops, params = _pycls(f"RegNet{x.upper()}-{ZOO[tag]}")
    a = archlib.analyze(f"regnet{x}_{tag}")
    assert (a.totals()["params"], _pycls_flops(a), a.totals()["activations"]) == (params, flops, acts)


@pytest.mark.parametrize("tv, pycls", [("regnet_x_400mf", "RegNetX-400MF"), ("regnet_y_800mf", "RegNetY-800MF"),
                                       ("regnet_y_8gf", "RegNetY-8.0GF")])
def test_torchvision_differs_from_pycls_only_by_rounding(tv, pycls):
    """Same six parameters; torchvision's snap of bottleneck width to group width makes the difference."""
    acts, flops, params = _pycls(pycls)
    assert archlib.analyze(tv).totals()["params"] != params
    assert archlib.analyze(tv, rounding="pycls").totals()["params"] == params


def test_quantized_linear_width_rule():
    """RegNetX-200MF: widths 24, 56, 152, 368 with depths 1, 1, 4, 7 (paper Fig. / pycls)."""
    assert stages(archlib.config("regnetx_002")) == [Stage(d=1, w=24, g=8), Stage(d=1, w=56, g=8),
                                                     Stage(d=4, w=152, g=8), Stage(d=7, w=368, g=8)]
    assert [(s.w, s.d) for s in stages(archlib.config("regnety_032"))] == [(72, 2), (216, 5), (576, 13), (1512, 1)]
    assert all(w % 8 == 0 for w in block_widths(48, 27.89, 2.09, 16))
    assert stages(archlib.config("regnetx_002", wa=0)) == [Stage(d=13, w=24, g=8)]  # no slope: one stage


def test_knob_effects():
    ops = archlib.lower("regnety_002").by_name()
    assert ops["s3.b1.se.fc1"].attrs["out_ch"] == 14  # round(0.25 * 56): from the block input width
    assert ops["s3.b2.se.fc1"].attrs["out_ch"] == 38  # round(0.25 * 152)
    assert ops["s3.b1.b.conv"].attrs["groups"] == 152 // 8
    assert "s3.b1.proj.conv" in ops and "s3.b2.proj.conv" not in ops
    assert not any(".se." in n for n in archlib.lower("regnetx_002").by_name())
    assert not any(".se." in n for n in archlib.lower("regnety_002", se_ratio=0).by_name())
    names = [op.name.split(".") for op in archlib.lower("regnetx_002", blocks=20).ops]
    assert len({(n[0], n[1]) for n in names if re.fullmatch(r"s\d+", n[0])}) == 20
    convs = [op for op in archlib.lower("regnetx_002", group_width=16).ops if op.name.endswith(".b.conv")]
    assert all(op.attrs["out_ch"] // op.attrs["groups"] == 16 for op in convs)  # widths snapped to 16s
    base = archlib.analyze("regnetx_002").totals()["macs"]
    assert archlib.analyze("regnetx_002", bottleneck_ratio=2).totals()["macs"] > 1.5 * base
