"""ViT: torchvision's vit_b_16 exactly, DeiT within its published rounding, Performer variants."""
from __future__ import annotations

import pytest

import archlib
from archlib.core.attention import default_features


@pytest.mark.parametrize("res, params, gmacs", [(224, 86_567_656, 17.564), (384, 86_859_496, 55.484)])
def test_vit_b_16_matches_torchvision_exactly(res, params, gmacs):
    """ViT_B_16_Weights IMAGENET1K_V1 (224) and SWAG_E2E_V1 (384): num_params and _ops (GMACs)."""
    t = archlib.analyze("vit_b_16", resolution=res).totals()
    assert t["params"] == params
    assert round(t["macs"] / 1e9, 3) == gmacs
    if res == 224:
        assert t["macs"] == 17_563_828_224


@pytest.mark.parametrize("name, paper_m, card_m, gmacs", [("deit_tiny_patch16_224", 5, 5.7, 1.3),
                                                         ("deit_small_patch16_224", 22, 22.1, 4.6)])
def test_deit_within_published_rounding(name, paper_m, card_m, gmacs):
    """DeiT Table 1 / model zoo: 5M and 22M (truncated); commonly cited 5.7M/1.3G and 22.1M/4.6G."""
    t = archlib.analyze(name).totals()
    assert int(t["params"] / 1e6) == paper_m
    assert round(t["params"] / 1e6, 1) == card_m
    assert round(t["macs"] / 1e9, 1) == gmacs


def test_torchvision_layer_names_and_shapes():
    ir = archlib.lower("vit_b_16")
    ops = ir.by_name()
    assert ops["stem.patch"].attrs["kernel"] == (16, 16) and ops["stem.patch"].attrs["bias"]
    assert ops["stem.pos"].out_shape == (197, 768)
    units = [op.name.split(".")[-1] for op in ir.ops if op.name.startswith("s1.b1.")]
    assert units == ["ln1", "qkv", "attn", "proj", "add1", "ln2", "fc1", "act", "fc2", "add2"]
    assert ops["s1.b12.fc1"].attrs["out_f"] == 3072 and ops["s1.b1.ln1"].attrs["eps"] == 1e-6
    assert [op.name for op in ir.ops[-3:]] == ["head.ln", "head.token", "head.fc"]
    assert ir.output.out_shape == (1000,)


def test_performer_swaps_only_the_attention():
    soft, perf = archlib.analyze("vit_b_16"), archlib.analyze("vit_b_16_performer")
    assert perf.totals()["params"] == soft.totals()["params"]
    attn = perf.ir.by_name()["s1.b1.attn"]
    assert attn.kind == "favor" and attn.attrs["features"] == default_features(64) == 266
    assert perf.totals()["buffers"] == 12 * 266 * 64
    # at 197 tokens and m = 266 FAVOR+ costs more; at 1,025 tokens (512 px) it costs less
    big = {n: archlib.analyze(n, resolution=512) for n in ("vit_b_16", "vit_b_16_performer")}
    assert perf.totals()["macs"] > soft.totals()["macs"]
    assert big["vit_b_16_performer"].totals()["macs"] < big["vit_b_16"].totals()["macs"]


def test_analysis_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, archlib; archlib.analyze('vit_b_16_performer', resolution=384); "
            "archlib.graph('vit_b_16'); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
