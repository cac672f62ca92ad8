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
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from archlib.ir import IR, IRBuilder
from archlib.knobs import Knob, num_classes, resolution, width
from archlib.registry import Family, register
from archlib.scaling import make_divisible

BN_EPS, BN_MOMENTUM = 1e-3, 0.01
STEM_CH = 16


@dataclass(frozen=True)
class Row:
    k: int  # depthwise kernel
    exp: int  # expansion (hidden) channels
    c: int  # output channels
    se: bool  # squeeze-and-excite after the depthwise conv
    act: str  # "relu" or "hardswish"
    s: int  # stride


RE, HS = "relu", "hardswish"
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


def conv_bn(b: IRBuilder, name: str, x: str, out_ch: int, k: int, *, stride: int = 1, groups: int = 1,
            act: str | None = None) -> str:
    """conv -> BN(eps 0.001, momentum 0.01) -> optional activation, as name.conv/.bn/.act."""
    with b.scope(name):
        y = b.bn("bn", b.conv("conv", x, out_ch, k, stride=stride, groups=groups), eps=BN_EPS, momentum=BN_MOMENTUM)
        return b.act("act", y, act) if act else y


def bneck(b: IRBuilder, x: str, row: Row, exp: int, out_ch: int) -> str:
    """1x1 expand (unless exp == in) -> kxk depthwise -> SE -> linear 1x1 project (+ residual)."""
    in_ch = b.shape(x)[0]
    y = conv_bn(b, "expand", x, exp, 1, act=row.act) if exp != in_ch else x
    y = conv_bn(b, "dw", y, exp, row.k, stride=row.s, groups=exp, act=row.act)
    if row.se:
        y = b.squeeze_excite("se", y, make_divisible(exp // 4, 8), act="relu", gate="hardsigmoid")
    y = conv_bn(b, "project", y, out_ch, 1)
    return b.add("add", x, y) if row.s == 1 and in_ch == out_ch else y


def lower(cfg: Mapping[str, Any]) -> IR:
    """MobileNetV3 `variant` at width multiplier `width` and input side `resolution`."""
    rows, hidden = VARIANTS[cfg["variant"]]
    w, tf = cfg["width"], cfg["scaling"] == "tf"
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    stem = STEM_CH if tf and w < 0.75 else make_divisible(STEM_CH * w)
    x = conv_bn(b, "stem", b.input, stem, 3, stride=2, act=HS)
    stage = block = 0
    row_in = STEM_CH  # the table's input channels of the current row, at width 1
    for row in rows:
        stage, block = (stage + 1, 1) if row.s == 2 or stage == 0 else (stage, block + 1)
        exp = make_divisible(b.shape(x)[0] * row.exp / row_in) if tf else make_divisible(row.exp * w)
        with b.scope(f"s{stage}", f"b{block}"):
            x = bneck(b, x, row, exp, make_divisible(row.c * w))
        row_in = row.c
    with b.scope("head"):
        x = conv_bn(b, "conv", x, 6 * b.shape(x)[0], 1, act=HS)
        x = b.flatten("flatten", b.adaptive_avgpool("pool", x, 1))
        x = b.act("act", b.linear("fc1", x, hidden if tf else make_divisible(hidden * w)), HS)
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
)
FAMILY = Family("MobileNetV3", KNOBS, lower, paper="Howard et al. 2019, arXiv:1905.02244",
                description="Inverted residuals with SE (hard-sigmoid) and hard-swish; NAS-found.")
register(FAMILY, "mobilenet_v3_large", variant="large")
register(FAMILY, "mobilenet_v3_small", variant="small")
