"""MobileNetV2 (Sandler et al. 2018): inverted residuals with linear bottlenecks.

Rows are the paper's Table 2 (t, c, n, s); width rounding as torchvision/TF (divisible by 8).
`stages` is the table in the MBConv grammar (t, k, s, c, n; optional se, none by default:
a ratio of the block input with ReLU and a sigmoid gate). By default it is Table 2 with k3
and the `expansion` knob's t; a custom table takes precedence over `expansion`. Stem (32)
and head (1280, never thinner) stay the family's and scale with width.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from archlib.core.blocks import inverted_residual
from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, num_classes, resolution, stages, width
from archlib.core.registry import Family, register
from archlib.core.scaling import make_divisible, ratio_channels
from archlib.core.stages import MBRow, StageTable, check_resolution, mbconv_grammar, stage_groups

# Table 2 of the paper (t, c, n, s), with its 3x3 depthwise kernels
TABLE = tuple(MBRow(t, 3, s, c, n) for t, c, n, s in (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)))
GRAMMAR = mbconv_grammar(se=0.0, fused=False)


def block(b: IRBuilder, x: str, out_ch: int, row: MBRow, stride: int) -> str:
    """The shared inverted residual: 1x1 expand by t (none when t = 1), kxk depthwise, [SE], linear 1x1, ReLU6."""
    in_ch = b.shape(x)[0]
    se_ch = ratio_channels(in_ch, row.se) if row.se else 0
    return inverted_residual(b, x, out_ch, hidden=in_ch * row.t, kernel=row.k, stride=stride, act="relu6",
                             se_ch=se_ch)


def own_table(cfg: Mapping[str, Any]) -> tuple[MBRow, ...]:
    """Table 2 with the `expansion` knob's t where the paper's t is not 1."""
    return tuple(row if row.t == 1 else replace(row, t=cfg["expansion"]) for row in TABLE)


STAGES = StageTable(GRAMMAR, own_table, stage_groups, overrides=("expansion",))


def lower(cfg: Mapping[str, Any]) -> IR:
    w, rows = cfg["width"], STAGES.rows(cfg)
    check_resolution(cfg["resolution"], [(i, "s", r.s) for i, r in enumerate(rows, 1)])
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    x = b.conv_bn_act("stem", b.input, make_divisible(32 * w), 3, stride=2, act="relu6")
    for i, row in enumerate(rows, 1):
        out_ch = make_divisible(row.c * w)
        for j in range(row.n):
            with b.scope(f"s{i}", f"b{j + 1}"):
                x = block(b, x, out_ch, row, row.s if j == 0 else 1)
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
    stages(GRAMMAR, "width scales its channels (depth is the table's n)"),
)
FAMILY = Family("MobileNetV2", KNOBS, lower, paper="Sandler et al. 2018, arXiv:1801.04381", stages=STAGES,
                description="Inverted residuals with linear bottlenecks; ReLU6.")
register(FAMILY, "mobilenet_v2")
