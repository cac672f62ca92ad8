"""EfficientNet (Tan & Le 2019): MBConv with squeeze-and-excitation, scaled by one compound coefficient.

Rows are the paper's Table 1 (EfficientNet-B0). Blocks: 1x1 expand (skipped when t = 1),
kxk depthwise, SE (squeeze = max(1, block input channels // 4), SiLU, sigmoid gate),
linear 1x1 projection, residual when shape is kept; SiLU everywhere, BN eps 1e-3 (the TF
reference's; torchvision uses 1e-5 for B0-B4, which changes no count).

`stages` is the stage table (rows t, k, s, c, n, optional se and f; see archlib.core.stages):
B0's Table 1 by default, any table of MBConv and Fused-MBConv rows otherwise. The stem (32)
and head (1280) stay the family's and scale with width; width, depth and phi multiply a
custom table exactly as they multiply Table 1.

Knob semantics (one rule, no sentinels): `width`, `depth` and `resolution` are the
network at phi = 0, and phi scales all three at once by the paper's compound rule:

    effective depth      = depth * alpha^phi      (layers per stage: ceil(n * depth))
    effective width      = width * beta^phi       (channels: make_divisible(c * width, 8))
    effective resolution = round(resolution * gamma^phi)

So with the defaults (width 1, depth 1, resolution 224) phi alone is the paper's compound
scaling of B0. The official B1-B7 coefficients are not exactly the formula, so the presets
fix phi = 0 and set width/depth/resolution/dropout to the official values; turning phi on a
preset scales that preset further.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from archlib.core.blocks import Norm, fused_inverted_residual, inverted_residual
from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, depth, num_classes, resolution, stages, width
from archlib.core.registry import Family, register
from archlib.core.scaling import compound, make_divisible, ratio_channels, round_repeats
from archlib.core.stages import MBRow, StageTable, check_resolution, mbconv_grammar, stage_groups
from archlib.errors import ArchlibError

BN_EPS = 1e-3
NORM = Norm(BN_EPS, 0.1)  # torchvision: BatchNorm2d(eps=1e-3) with PyTorch's default momentum
#: effective multipliers past these are refused (phi can compound a knob far out of range)
MAX_WIDTH, MAX_DEPTH, MAX_RESOLUTION = 8.0, 8.0, 2048


SE = 0.25  # squeeze width = max(1, block input channels // 4)
#: the `stages` grammar of both EfficientNet families: MBConv rows with SE 0.25, Fused-MBConv rows (f1) without
GRAMMAR = mbconv_grammar(se=SE, fused=True)

# Table 1 of the paper (EfficientNet-B0 baseline); stage 1 (stem) and stage 9 (head) are below
STEM = 32
TABLE = tuple(MBRow(t, k, s, c, n, SE) for t, k, s, c, n in (
    (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1)))
HEAD = 1280


def mbconv(b: IRBuilder, x: str, out_ch: int, row: MBRow, stride: int) -> str:
    """The shared inverted residual with EfficientNet's numbers: expand to make_divisible(in x t)
    (none when that is the input width), kxk depthwise, SE squeezing to max(1, in x se), SiLU."""
    in_ch = b.shape(x)[0]
    se_ch = ratio_channels(in_ch, row.se) if row.se else 0
    return inverted_residual(b, x, out_ch, hidden=make_divisible(in_ch * row.t), kernel=row.k, stride=stride,
                             act="silu", se_ch=se_ch, se_act="silu", norm=NORM)


def fused_mbconv(b: IRBuilder, x: str, out_ch: int, row: MBRow, stride: int) -> str:
    """The shared Fused-MBConv: kxk expand conv to make_divisible(in x t) -> linear 1x1 projection
    (one kxk conv when that is the input width), SiLU; SE only where the row asks for it."""
    in_ch = b.shape(x)[0]
    se_ch = ratio_channels(in_ch, row.se) if row.se else 0
    return fused_inverted_residual(b, x, out_ch, hidden=make_divisible(in_ch * row.t), kernel=row.k,
                                   stride=stride, act="silu", se_ch=se_ch, norm=NORM)


def build_stages(b: IRBuilder, x: str, rows: tuple[MBRow, ...], w: float, d: float) -> str:
    """The table's stages s1..sN: channels make_divisible(c x w), ceil(n x d) layers, MBConv or fused."""
    for i, row in enumerate(rows, 1):
        out_ch = make_divisible(row.c * w)
        block = fused_mbconv if row.f else mbconv
        for j in range(round_repeats(row.n, d)):
            with b.scope(f"s{i}", f"b{j + 1}"):
                x = block(b, x, out_ch, row, row.s if j == 0 else 1)
    return x


def strides(rows: tuple[MBRow, ...]) -> list[tuple[int, str, int]]:
    """(row, field, stride) of each row, for the resolution check."""
    return [(i, "s", r.s) for i, r in enumerate(rows, 1)]


def classifier(b: IRBuilder, x: str, head_ch: int, dropout: float, classes: int, *, eps: float = BN_EPS) -> str:
    """The head: 1x1 conv -> BN -> SiLU, global pool, dropout, fully connected."""
    with b.scope("head"):
        x = b.conv_bn_act("conv", x, head_ch, 1, act="silu", eps=eps)
        x = b.flatten("flatten", b.adaptive_avgpool("pool", x, 1))
        x = b.dropout("dropout", x, dropout)
        return b.linear("fc", x, classes)


def effective(cfg: Mapping[str, Any]) -> tuple[float, float, int]:
    """(width, depth, resolution) after compound scaling by phi; out-of-range results raise."""
    d_mul, w_mul, r_mul = compound(cfg["phi"], cfg["alpha"], cfg["beta"], cfg["gamma"])
    w, d = cfg["width"] * w_mul, cfg["depth"] * d_mul
    r = math.floor(cfg["resolution"] * r_mul + 0.5)
    for name, coef, base, value, hi in (("width", "beta", cfg["width"], w, MAX_WIDTH),
                                        ("depth", "alpha", cfg["depth"], d, MAX_DEPTH),
                                        ("resolution", "gamma", cfg["resolution"], r, MAX_RESOLUTION)):
        if value > hi:
            raise ArchlibError(
                f"phi={cfg['phi']:g} with {coef}={cfg[coef]:g} gives an effective {name} of {value:.4g} "
                f"(= {base:g} x {coef}^phi); the effective {name} must be at most {hi:g}.")
    return w, d, r


def lower(cfg: Mapping[str, Any]) -> IR:
    w, d, res = effective(cfg)
    rows = STAGES.rows(cfg)
    check_resolution(res, strides(rows))
    b = IRBuilder((3, res, res))
    x = b.conv_bn_act("stem", b.input, make_divisible(STEM * w), 3, stride=2, act="silu", eps=BN_EPS)
    x = build_stages(b, x, rows, w, d)
    classifier(b, x, make_divisible(HEAD * w), cfg["dropout"], cfg["num_classes"])
    return b.finish()


def dropout(default: float = 0.2) -> Knob:
    """The classifier's dropout probability knob."""
    return Knob("dropout", "float", default, "dropout probability before the classifier", lo=0.0, hi=0.9, step=0.05)


KNOBS = (
    Knob("phi", "float", 0.0, "compound coefficient: scales depth by alpha^phi, width by beta^phi, "
         "resolution by gamma^phi", lo=0.0, hi=8.0, step=0.1),
    Knob("alpha", "float", 1.2, "depth base of compound scaling (paper: 1.2)", lo=1.0, hi=2.0, step=0.01),
    Knob("beta", "float", 1.1, "width base of compound scaling (paper: 1.1)", lo=1.0, hi=2.0, step=0.01),
    Knob("gamma", "float", 1.15, "resolution base of compound scaling (paper: 1.15)", lo=1.0, hi=2.0, step=0.01),
    width(1.0, 0.1, 4.0),
    depth(1.0, 0.1, 6.0),
    resolution(224, 32, 1024),
    dropout(0.2),
    num_classes(),
)
STAGES = StageTable(GRAMMAR, lambda cfg: TABLE, stage_groups)
KNOBS += (stages(GRAMMAR, "width, depth and phi scale it as they scale Table 1"),)
FAMILY = Family("EfficientNet", KNOBS, lower, paper="Tan & Le 2019, arXiv:1905.11946", stages=STAGES,
                description="MBConv + SE with SiLU; compound scaling of depth, width and resolution by phi. "
                            "width/depth/resolution are the phi = 0 network; phi scales them by "
                            "beta^phi, alpha^phi, gamma^phi.")

# official (width, depth, resolution, dropout) of B0-B7 (TF reference / torchvision builders)
PRESETS = ((1.0, 1.0, 224, 0.2), (1.0, 1.1, 240, 0.2), (1.1, 1.2, 260, 0.3), (1.2, 1.4, 300, 0.3),
           (1.4, 1.8, 380, 0.4), (1.6, 2.2, 456, 0.4), (1.8, 2.6, 528, 0.5), (2.0, 3.1, 600, 0.5))
for _i, (_w, _d, _r, _p) in enumerate(PRESETS):
    register(FAMILY, f"efficientnet_b{_i}", width=_w, depth=_d, resolution=_r, dropout=_p)
