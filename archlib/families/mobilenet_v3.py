"""MobileNetV3 Large and Small (Howard et al. 2019), as torchvision builds them.

Rows are the paper's Tables 1 (Large) and 2 (Small): kernel, expansion size, output
channels, squeeze-and-excite, nonlinearity and stride of each bneck. Every channel count
is scaled by `width` and made divisible by 8; the SE squeeze is make_divisible(exp / 4, 8)
with a ReLU and a hard-sigmoid gate; BN uses eps 0.001 (momentum 0.01). The head is a 1x1
conv to 6x the last bneck's channels, global pooling, then Linear -> hard-swish ->
Dropout -> Linear, whose hidden width (1280 Large, 1024 Small) also scales with `width`.
Stages group the bnecks by output resolution (a new stage starts at each stride 2).

`scaling` chooses how `width` applies. "torchvision" (the default, exact against
torchvision's builders) scales every table entry, the classifier's hidden width included.
"tf" is the authors' rule (TF-slim's released checkpoints, which timm ports): each
expansion is the table's ratio (exp / input channels) times the scaled input channels,
the classifier's hidden width stays 1280 / 1024, and below 0.75 the stem stays at 16.
At width 1 the two agree; at 0.75 they differ by about 15% in parameters.

`stages` is the table, one row per bneck as in the paper's tables: k kernel, e expansion
channels, c output channels, se 0/1, hs 0/1 (hard-swish, else ReLU), s stride; by default
the variant's. The stem (16), the head conv (6x the last row's channels) and the
classifier stay the family's and scale as above; the first row's input is the stem.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core.blocks import TF_BN, inverted_residual
from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, num_classes, resolution, stages, width
from archlib.core.registry import Family, register
from archlib.core.scaling import make_divisible
from archlib.core.stages import Field, Grammar, StageTable, check_resolution

BN = {"eps": TF_BN.eps, "momentum": TF_BN.momentum}  # eps 0.001, momentum 0.01
STEM_CH = 16


@dataclass(frozen=True)
class Row:
    """One bneck of the paper's tables (the `stages` keys)."""

    k: int  # depthwise kernel
    e: int  # expansion (hidden) channels
    c: int  # output channels
    se: bool  # squeeze-and-excite after the depthwise conv
    hs: bool  # hard-swish (else ReLU)
    s: int  # stride


RE, HS = False, True
# Table 1 of the paper (MobileNetV3-Large)
LARGE = (Row(3, 16, 16, False, RE, 1),
         Row(3, 64, 24, False, RE, 2), Row(3, 72, 24, False, RE, 1),
         Row(5, 72, 40, True, RE, 2), Row(5, 120, 40, True, RE, 1), Row(5, 120, 40, True, RE, 1),
         Row(3, 240, 80, False, HS, 2), Row(3, 200, 80, False, HS, 1), Row(3, 184, 80, False, HS, 1),
         Row(3, 184, 80, False, HS, 1), Row(3, 480, 112, True, HS, 1), Row(3, 672, 112, True, HS, 1),
         Row(5, 672, 160, True, HS, 2), Row(5, 960, 160, True, HS, 1), Row(5, 960, 160, True, HS, 1))
# Table 2 of the paper (MobileNetV3-Small)
SMALL = (Row(3, 16, 16, True, RE, 2),
         Row(3, 72, 24, False, RE, 2), Row(3, 88, 24, False, RE, 1),
         Row(5, 96, 40, True, HS, 2), Row(5, 240, 40, True, HS, 1), Row(5, 240, 40, True, HS, 1),
         Row(5, 120, 48, True, HS, 1), Row(5, 144, 48, True, HS, 1),
         Row(5, 288, 96, True, HS, 2), Row(5, 576, 96, True, HS, 1), Row(5, 576, 96, True, HS, 1))
VARIANTS = {"large": (LARGE, 1280), "small": (SMALL, 1024)}  # rows, classifier hidden width
GRAMMAR = Grammar((Field("k", "depthwise kernel", 1, 11, odd=True), Field("e", "expansion channels", 1, 4096),
                   Field("c", "output channels", 1, 4096), Field("se", "1: squeeze-and-excite", 0, 1, flag=True),
                   Field("hs", "1: hard-swish, 0: ReLU", 0, 1, flag=True), Field("s", "stride", 1, 2)), Row)


def groups(rows: tuple[Row, ...]) -> list[str]:
    """Each row's block: a new stage `sN` starts at the first row and at every stride 2."""
    out, stage, block = [], 0, 0
    for row in rows:
        stage, block = (stage + 1, 1) if row.s == 2 or stage == 0 else (stage, block + 1)
        out.append(f"s{stage}.b{block}")
    return out


STAGES = StageTable(GRAMMAR, lambda cfg: VARIANTS[cfg["variant"]][0], groups)


def bneck(b: IRBuilder, x: str, row: Row, exp: int, out_ch: int) -> str:
    """The shared inverted residual with the row's numbers: expand to exp (none when exp equals the
    input), kxk depthwise, SE squeezing to make_divisible(exp / 4, 8) with a hard-sigmoid gate."""
    return inverted_residual(b, x, out_ch, hidden=exp, kernel=row.k, stride=row.s, act="hardswish" if row.hs
                             else "relu", se_ch=make_divisible(exp // 4, 8) if row.se else 0,
                             se_gate="hardsigmoid", norm=TF_BN)


def lower(cfg: Mapping[str, Any]) -> IR:
    """MobileNetV3 `variant` (or a custom table) at width multiplier `width` and input side `resolution`."""
    rows, hidden = STAGES.rows(cfg), VARIANTS[cfg["variant"]][1]
    check_resolution(cfg["resolution"], [(i, "s", r.s) for i, r in enumerate(rows, 1)])
    w, tf = cfg["width"], cfg["scaling"] == "tf"
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    stem = STEM_CH if tf and w < 0.75 else make_divisible(STEM_CH * w)
    x = b.conv_bn_act("stem", b.input, stem, 3, stride=2, act="hardswish", **BN)
    row_in = STEM_CH  # the table's input channels of the current row, at width 1
    for row, name in zip(rows, groups(rows)):
        exp = make_divisible(b.shape(x)[0] * row.e / row_in) if tf else make_divisible(row.e * w)
        with b.scope(*name.split(".")):
            x = bneck(b, x, row, exp, make_divisible(row.c * w))
        row_in = row.c
    with b.scope("head"):
        x = b.conv_bn_act("conv", x, 6 * b.shape(x)[0], 1, act="hardswish", **BN)
        x = b.flatten("flatten", b.adaptive_avgpool("pool", x, 1))
        x = b.act("act", b.linear("fc1", x, hidden if tf else make_divisible(hidden * w)), "hardswish")
        x = b.dropout("dropout", x, 0.2)
        b.linear("fc", x, cfg["num_classes"])
    return b.finish()


KNOBS = (
    Knob("variant", "choice", "large", "Large (Table 1) or Small (Table 2) network", choices=tuple(VARIANTS)),
    width(1.0, 0.1, 2.0),
    Knob("scaling", "choice", "torchvision", "how width applies: torchvision's rule, or the authors' "
         "TF-slim/timm rule (expansion ratios, fixed classifier width)", choices=("torchvision", "tf")),
    resolution(224, 32, 1024),
    num_classes(),
    stages(GRAMMAR, "width scales its channels (one row per layer)"),
)
FAMILY = Family("MobileNetV3", KNOBS, lower, paper="Howard et al. 2019, arXiv:1905.02244", stages=STAGES,
                description="Inverted residuals with SE (hard-sigmoid) and hard-swish; NAS-found.")
register(FAMILY, "mobilenet_v3_large", variant="large")
register(FAMILY, "mobilenet_v3_small", variant="small")
