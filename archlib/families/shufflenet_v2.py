"""ShuffleNet V2 (Ma et al. 2018), as torchvision builds it.

Table 5 of the paper: a 3x3 stride-2 conv (24 channels) and a 3x3 stride-2 max-pool, three
stages of 4, 8 and 4 units (the paper's Stage2-4, here s1-s3), a 1x1 conv and a classifier.
A stride-1 unit splits the channels in two halves, keeps one and runs the other through
1x1 conv -> BN -> ReLU -> 3x3 depthwise -> BN -> 1x1 conv -> BN -> ReLU, concatenates and
shuffles with 2 groups. A stride-2 unit feeds the whole input to that branch and to a
second one (3x3 depthwise stride 2 -> BN -> 1x1 conv -> BN -> ReLU) that replaces the
identity half. The paper defines only the four widths of Table 5, so `width` is a choice.

`stages` is the table of stages: n units and c output channels (even: the units split
and concatenate halves), each stage starting with a stride-2 unit; by default Table 5's
at `width`. Stem (24 channels and the pool) and head (1024, 2048 at 2.0x) stay the
family's; a custom table takes precedence over the stage widths `width` picks.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, num_classes, resolution, stages
from archlib.core.registry import Family, register
from archlib.core.stages import Field, Grammar, StageTable, check_resolution, stage_groups


@dataclass(frozen=True)
class Widths:
    stem: int  # Conv1
    stages: tuple[int, int, int]  # output channels of Stage2, Stage3, Stage4
    head: int  # Conv5


@dataclass(frozen=True)
class Stage:
    """One stage: the `stages` keys."""

    n: int  # units
    c: int  # output channels


REPEATS = (4, 8, 4)
# Table 5 of the paper: output channels per complexity (0.5x, 1x, 1.5x, 2x)
TABLE = {0.5: Widths(24, (48, 96, 192), 1024), 1.0: Widths(24, (116, 232, 464), 1024),
         1.5: Widths(24, (176, 352, 704), 1024), 2.0: Widths(24, (244, 488, 976), 2048)}
GRAMMAR = Grammar((Field("n", "units", 1, 32), Field("c", "output channels", 2, 4096, even=True)), Stage)
STAGES = StageTable(GRAMMAR, lambda cfg: tuple(Stage(n, c) for n, c in zip(REPEATS, TABLE[cfg["width"]].stages)),
                    stage_groups)


def branch(b: IRBuilder, name: str, x: str, out_ch: int, stride: int) -> str:
    """1x1 conv -> BN -> ReLU -> 3x3 depthwise (stride) -> BN -> 1x1 conv -> BN -> ReLU."""
    with b.scope(name):
        y = b.conv_bn_act("pw1", x, out_ch, 1)
        y = b.conv_bn_act("dw", y, out_ch, 3, stride=stride, groups=out_ch, act=None)
        return b.conv_bn_act("pw2", y, out_ch, 1)


def unit(b: IRBuilder, x: str, out_ch: int, stride: int) -> str:
    """One ShuffleNet V2 unit: split (stride 1) or two branches (stride 2), concat, shuffle."""
    in_ch, half = b.shape(x)[0], out_ch // 2
    if stride == 1:
        keep = b.channel_slice("keep", x, 0, in_ch // 2)
        right = branch(b, "main", b.channel_slice("split", x, in_ch // 2, in_ch), half, 1)
    else:
        with b.scope("proj"):
            keep = b.conv_bn_act("dw", x, in_ch, 3, stride=stride, groups=in_ch, act=None)
            keep = b.conv_bn_act("pw", keep, half, 1)
        right = branch(b, "main", x, half, stride)
    return b.channel_shuffle("shuffle", b.concat("concat", [keep, right]), 2)


def lower(cfg: Mapping[str, Any]) -> IR:
    """ShuffleNet V2 at one of Table 5's widths and input side `resolution`."""
    widths, rows = TABLE[cfg["width"]], STAGES.rows(cfg)
    check_resolution(cfg["resolution"], [(i, "", 2) for i in range(1, len(rows) + 1)], before=2)
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    x = b.conv_bn_act("stem", b.input, widths.stem, 3, stride=2)
    with b.scope("stem"):
        x = b.maxpool("pool", x, 3, stride=2, padding=1)
    for i, st in enumerate(rows, 1):
        for j in range(st.n):
            with b.scope(f"s{i}", f"b{j + 1}"):
                x = unit(b, x, st.c, 2 if j == 0 else 1)
    with b.scope("head"):
        x = b.conv_bn_act("conv", x, widths.head, 1)
        x = b.flatten("flatten", b.adaptive_avgpool("pool", x, 1))
        b.linear("fc", x, cfg["num_classes"])
    return b.finish()


KNOBS = (
    Knob("width", "choice", 1.0, "channel multiplier: one of Table 5's widths", choices=tuple(TABLE)),
    resolution(224, 32, 1024),
    num_classes(),
    stages(GRAMMAR, "one row per stage, each starting with a stride-2 unit"),
)
FAMILY = Family("ShuffleNetV2", KNOBS, lower, paper="Ma et al. 2018, arXiv:1807.11164", stages=STAGES,
                description="Channel split, depthwise branch, concat and channel shuffle.")
for _w, _tag in ((0.5, "x0_5"), (1.0, "x1_0"), (1.5, "x1_5"), (2.0, "x2_0")):
    register(FAMILY, f"shufflenet_v2_{_tag}", width=_w)
