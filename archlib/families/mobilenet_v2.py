"""MobileNetV2 (Sandler et al. 2018): inverted residuals with linear bottlenecks.

Rows are the paper's Table 2 (t, c, n, s); width rounding as torchvision/TF (divisible by 8).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core.blocks import inverted_residual
from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, num_classes, resolution, width
from archlib.core.registry import Family, register
from archlib.core.scaling import make_divisible


@dataclass(frozen=True)
class Row:
    t: int  # expansion factor
    c: int  # output channels
    n: int  # repeats
    s: int  # stride of the first repeat


# Table 2 of the paper
TABLE = (Row(1, 16, 1, 1), Row(6, 24, 2, 2), Row(6, 32, 3, 2), Row(6, 64, 4, 2),
         Row(6, 96, 3, 1), Row(6, 160, 3, 2), Row(6, 320, 1, 1))


def block(b: IRBuilder, x: str, out_ch: int, t: int, stride: int) -> str:
    """The shared inverted residual: 1x1 expand by t (none when t = 1), 3x3 depthwise, linear 1x1, ReLU6."""
    return inverted_residual(b, x, out_ch, hidden=b.shape(x)[0] * t, kernel=3, stride=stride, act="relu6")


def lower(cfg: Mapping[str, Any]) -> IR:
    w, t_knob = cfg["width"], cfg["expansion"]
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    x = b.conv_bn_act("stem", b.input, make_divisible(32 * w), 3, stride=2, act="relu6")
    for i, row in enumerate(TABLE, 1):
        out_ch = make_divisible(row.c * w)
        t = t_knob if row.t != 1 else 1
        for j in range(row.n):
            with b.scope(f"s{i}", f"b{j + 1}"):
                x = block(b, x, out_ch, t, row.s if j == 0 else 1)
    with b.scope("head"):
        x = b.conv_bn_act("conv", x, make_divisible(1280 * max(1.0, w)), 1, act="relu6")
        x = b.flatten("flatten", b.adaptive_avgpool("pool", x, 1))
        x = b.dropout("dropout", x, 0.2)
        b.linear("fc", x, cfg["num_classes"])
    return b.finish()


KNOBS = (
    width(1.0, 0.1, 3.0),
    resolution(224),
    Knob("expansion", "int", 6, "expansion factor t of the inverted residuals (paper: 6)", lo=1, hi=12, step=1),
    num_classes(),
)
FAMILY = Family("MobileNetV2", KNOBS, lower, paper="Sandler et al. 2018, arXiv:1801.04381",
                description="Inverted residuals with linear bottlenecks; ReLU6.")
register(FAMILY, "mobilenet_v2")
