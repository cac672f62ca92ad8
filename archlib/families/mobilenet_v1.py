"""MobileNetV1 (Howard et al. 2017): depthwise separable convolutions.

Rows are the body of the paper's Table 1: a 3x3 stride-2 stem, then 13 depthwise
separable layers (3x3 depthwise -> BN -> ReLU, 1x1 pointwise -> BN -> ReLU), global
average pooling and a fully connected classifier. The width multiplier alpha scales every
layer's channels (rounded to a multiple of 8, which keeps the paper's 0.25/0.5/0.75/1.0
widths exact); the classifier reads 1024 * alpha features, as in the paper's counts.
Table 1 prints stride 2 for the last depthwise layer but its input and output are both
7x7: the reference implementation (TF-slim) uses stride 1 there, and so do we.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import num_classes, resolution, width
from archlib.core.registry import Family, register
from archlib.core.scaling import make_divisible


@dataclass(frozen=True)
class Row:
    c: int  # output channels of the pointwise conv
    n: int  # depthwise separable layers
    s: int  # stride of the first depthwise conv


STEM_CH = 32
# Table 1 of the paper, grouped into stages by output resolution (112, 56, 28, 14, 7 at 224)
TABLE = (Row(64, 1, 1), Row(128, 2, 2), Row(256, 2, 2), Row(512, 6, 2), Row(1024, 2, 2))


def separable(b: IRBuilder, x: str, out_ch: int, stride: int) -> str:
    """3x3 depthwise conv -> BN -> ReLU, then 1x1 pointwise conv -> BN -> ReLU."""
    c = b.shape(x)[0]
    y = b.conv_bn_act("dw", x, c, 3, stride=stride, groups=c)
    return b.conv_bn_act("pw", y, out_ch, 1)


def lower(cfg: Mapping[str, Any]) -> IR:
    """MobileNetV1 at width multiplier `width` and input side `resolution`."""
    w = cfg["width"]
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    x = b.conv_bn_act("stem", b.input, make_divisible(STEM_CH * w), 3, stride=2)
    for i, row in enumerate(TABLE, 1):
        out_ch = make_divisible(row.c * w)
        for j in range(row.n):
            with b.scope(f"s{i}", f"b{j + 1}"):
                x = separable(b, x, out_ch, row.s if j == 0 else 1)
    with b.scope("head"):
        x = b.flatten("flatten", b.adaptive_avgpool("pool", x, 1))
        b.linear("fc", x, cfg["num_classes"])
    return b.finish()


KNOBS = (
    width(1.0, 0.25, 2.0),
    resolution(224, 32, 1024),
    num_classes(),
)
FAMILY = Family("MobileNetV1", KNOBS, lower, paper="Howard et al. 2017, arXiv:1704.04861",
                description="Depthwise separable convolutions; BN + ReLU after every conv.")
register(FAMILY, "mobilenet_v1")
