"""ShuffleNet V1 (Zhang et al. 2018): pointwise group convolutions and channel shuffle.

Table 1 of the paper: a 3x3 stride-2 conv (24 channels) and a 3x3 stride-2 max-pool,
three stages of 1 + 3, 1 + 7 and 1 + 3 units whose output channels depend on the number
of groups g (the paper's Stage2-4, here s1-s3), global pooling and a classifier. A unit
(Figure 2) is 1x1 group conv -> BN -> ReLU -> channel shuffle -> 3x3 depthwise -> BN ->
1x1 group conv -> BN, the bottleneck a quarter of the unit's output channels; stride-1
units add the identity, stride-2 units concatenate a 3x3 stride-2 average pool of the
input. ReLU follows the add or concat. The first 1x1 conv of the network's first unit is
not grouped (its input has only 24 channels).

"ShuffleNet s x" scales the stages' channels by s (`width`), rounded to a multiple of 4g so
the bottleneck divides into g groups. The stem scales in octaves, by the largest power of
two not above s, as in the authors' release (12 channels at 0.5x, 24 at 1x and 1.5x, 48 at
2x; the paper's 292 MFLOPs at 1.5x needs 24), rounded to a multiple of g so a stride-2
unit's residual branch divides into g groups too.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, num_classes, resolution, width
from archlib.core.registry import Family, register

STEM_CH = 24
REPEATS = (4, 8, 4)  # units per stage: one stride-2 unit, then stride-1 units


@dataclass(frozen=True)
class Row:
    g: int  # groups of the 1x1 convs
    c: int  # output channels of Stage2 (doubled in Stage3 and again in Stage4)


# Table 1 of the paper: output channels of Stage2 for each number of groups
TABLE = {row.g: row for row in (Row(1, 144), Row(2, 200), Row(3, 240), Row(4, 272), Row(8, 384))}


def round_to(v: float, divisor: int) -> int:
    """`v` rounded half up to a multiple of `divisor`, at least `divisor`."""
    return max(divisor, int(math.floor(v / divisor + 0.5)) * divisor)


def unit(b: IRBuilder, x: str, out_ch: int, stride: int, g: int, *, first_group: int) -> str:
    """A ShuffleNet unit (Figure 2b/c): GConv -> shuffle -> DWConv -> GConv, add or concat, ReLU."""
    in_ch = b.shape(x)[0]
    branch_ch = out_ch - in_ch if stride == 2 else out_ch
    mid = out_ch // 4
    y = b.conv_bn_act("gconv1", x, mid, 1, groups=first_group)
    if g > 1:
        y = b.channel_shuffle("shuffle", y, g)
    y = b.conv_bn_act("dw", y, mid, 3, stride=stride, groups=mid, act=None)
    y = b.conv_bn_act("gconv2", y, branch_ch, 1, groups=g, act=None)
    if stride == 2:
        y = b.concat("concat", [b.avgpool("shortcut", x, 3, stride=2, padding=1), y])
    else:
        y = b.add("add", x, y)
    return b.act("act", y, "relu")


def lower(cfg: Mapping[str, Any]) -> IR:
    """ShuffleNet V1 with `groups` groups at scale `width` and input side `resolution`."""
    g, s = cfg["groups"], cfg["width"]
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    x = b.conv_bn_act("stem", b.input, round_to(STEM_CH * 2 ** math.floor(math.log2(s)), g), 3, stride=2)
    with b.scope("stem"):
        x = b.maxpool("pool", x, 3, stride=2, padding=1)
    for i, n in enumerate(REPEATS, 1):
        out_ch = round_to(TABLE[g].c * 2 ** (i - 1) * s, 4 * g)
        for j in range(n):
            with b.scope(f"s{i}", f"b{j + 1}"):
                x = unit(b, x, out_ch, 2 if j == 0 else 1, g, first_group=1 if (i, j) == (1, 0) else g)
    with b.scope("head"):
        x = b.flatten("flatten", b.adaptive_avgpool("pool", x, 1))
        b.linear("fc", x, cfg["num_classes"])
    return b.finish()


KNOBS = (
    Knob("groups", "choice", 3, "groups g of the 1x1 convolutions (Table 1)", choices=tuple(TABLE)),
    width(1.0, 0.25, 2.0),
    resolution(224, 32, 1024),
    num_classes(),
)
FAMILY = Family("ShuffleNetV1", KNOBS, lower, paper="Zhang et al. 2018, arXiv:1707.01083",
                description="Pointwise group convolutions, channel shuffle and depthwise 3x3 bottlenecks.")
for _g in TABLE:
    register(FAMILY, f"shufflenet_v1_g{_g}", groups=_g)
