"""MnasNet (Tan et al. 2019): mobile inverted bottlenecks found by platform-aware NAS.

Two variants, both scaled by the depth multiplier alpha (`width`), every channel count
rounded to a multiple of 8 and never more than 10% down (torchvision's
_round_to_multiple_of with bias 0.9, the same rule as make_divisible):
- "b1": torchvision's MNASNet (mnasnet0_5 ... mnasnet1_3), the paper's search space
  without SE: its stem and separable conv are scaled like every other layer (torchvision
  "version 2"), the 1280-channel head is not; BN momentum 0.0003 (TF's 0.9997).
- "a1": the paper's MnasNet-A1 (Figure 7) with squeeze-and-excite in three stages, the SE
  squeezing to a quarter of the block's input channels (ReLU, sigmoid gate) as in the
  authors' TF code; BN eps 0.001, momentum 0.01.

`stages` is the table in the MBConv grammar (t, k, s, c, n; se a ratio of the block input,
none unless given): by default the variant's, where A1's SE rows say se0.25. As in both
variants, the first row is the depthwise-separable stack without identity shortcuts (the
paper's SepConv, timm's `ds ... noskip`). Stem and head stay the family's; width scales
every row and the stem, not the 1280-channel head.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archlib.core.blocks import Norm, inverted_residual
from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, num_classes, resolution, stages, width
from archlib.core.registry import Family, register
from archlib.core.scaling import make_divisible, ratio_channels
from archlib.core.stages import MBRow, StageTable, check_resolution, mbconv_grammar, stage_groups

STEM_CH, HEAD_CH = 32, 1280
GRAMMAR = mbconv_grammar(se=0.0, fused=False)


def _rows(*rows: tuple) -> tuple[MBRow, ...]:
    """(k, e, c, n, s, se) as the papers list them -> typed rows (t = e)."""
    return tuple(MBRow(e, k, s, c, n, se) for k, e, c, n, s, se in rows)


# torchvision's MNASNet (the paper's B1 search space, no SE): SepConv then six MBConv stacks
B1 = _rows((3, 1, 16, 1, 1, 0), (3, 3, 24, 3, 2, 0), (5, 3, 40, 3, 2, 0), (5, 6, 80, 3, 2, 0),
           (3, 6, 96, 2, 1, 0), (5, 6, 192, 4, 2, 0), (3, 6, 320, 1, 1, 0))
# Figure 7 of the paper (MnasNet-A1); SE squeezes to a quarter of the block input
A1 = _rows((3, 1, 16, 1, 1, 0), (3, 6, 24, 2, 2, 0), (5, 3, 40, 3, 2, 0.25), (3, 6, 80, 4, 2, 0),
           (3, 6, 112, 2, 1, 0.25), (5, 6, 160, 3, 2, 0.25), (3, 6, 320, 1, 1, 0))
#: variant -> (rows, BN settings)
VARIANTS = {"b1": (B1, Norm(1e-5, 1 - 0.9997)), "a1": (A1, Norm(1e-3, 0.01))}
STAGES = StageTable(GRAMMAR, lambda cfg: VARIANTS[cfg["variant"]][0], stage_groups)


def mbconv(b: IRBuilder, x: str, row: MBRow, out_ch: int, stride: int, norm: Norm, *, skip: bool = True) -> str:
    """The shared inverted residual with MnasNet's numbers: expand by t (none when t = 1), kxk
    depthwise, SE squeezing to max(1, in x se) where the row has it (A1), ReLU."""
    in_ch = b.shape(x)[0]
    return inverted_residual(b, x, out_ch, hidden=in_ch * row.t, kernel=row.k, stride=stride, act="relu",
                             se_ch=ratio_channels(in_ch, row.se) if row.se else 0, norm=norm, skip=skip)


def lower(cfg: Mapping[str, Any]) -> IR:
    """MnasNet `variant` (or a custom table) at depth multiplier `width` and input side `resolution`."""
    rows, norm = STAGES.rows(cfg), VARIANTS[cfg["variant"]][1]
    check_resolution(cfg["resolution"], [(i, "s", r.s) for i, r in enumerate(rows, 1)])
    bn = {"eps": norm.eps, "momentum": norm.momentum}
    w = cfg["width"]
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    x = b.conv_bn_act("stem", b.input, make_divisible(STEM_CH * w), 3, stride=2, **bn)
    for i, row in enumerate(rows, 1):
        out_ch = make_divisible(row.c * w)
        for j in range(row.n):
            with b.scope(f"s{i}", f"b{j + 1}"):
                x = mbconv(b, x, row, out_ch, row.s if j == 0 else 1, norm, skip=i > 1)
    with b.scope("head"):
        x = b.conv_bn_act("conv", x, HEAD_CH, 1, **bn)
        x = b.flatten("flatten", b.adaptive_avgpool("pool", x, 1))
        x = b.dropout("dropout", x, 0.2)
        b.linear("fc", x, cfg["num_classes"])
    return b.finish()


KNOBS = (
    Knob("variant", "choice", "b1", "b1: torchvision's MNASNet (no SE); a1: the paper's MnasNet-A1 (SE)",
         choices=tuple(VARIANTS)),
    width(1.0, 0.25, 2.0),
    resolution(224, 32, 1024),
    num_classes(),
    stages(GRAMMAR, "width scales its channels"),
)
FAMILY = Family("MnasNet", KNOBS, lower, paper="Tan et al. 2019, arXiv:1807.11626", stages=STAGES,
                description="Platform-aware NAS mobile inverted bottlenecks; A1 adds squeeze-and-excite.")
for _name, _alpha in (("mnasnet0_5", 0.5), ("mnasnet0_75", 0.75), ("mnasnet1_0", 1.0), ("mnasnet1_3", 1.3)):
    register(FAMILY, _name, variant="b1", width=_alpha)
register(FAMILY, "mnasnet_a1", variant="a1")
