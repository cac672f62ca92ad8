"""GoogLeNet / Inception v1 (Szegedy et al. 2015) as torchvision builds it, without auxiliary heads.

Every conv is conv (no bias) -> BN (eps 0.001) -> ReLU. An Inception module concatenates
a 1x1 branch, a 1x1 -> 3x3 branch, a 1x1 -> "5x5" branch and a 3x3/1 max-pool -> 1x1
projection branch. torchvision's "5x5" branch uses a 3x3 kernel (a known quirk kept for
its pretrained weights, pytorch/vision#906); we follow it to match its counts. Max-pools
use ceil_mode as in the original Caffe model.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import num_classes, resolution
from archlib.core.registry import Family, register

EPS = 1e-3
KERNEL_5X5 = 3  # torchvision's kernel for the "5x5" branch (the paper's is 5)


@dataclass(frozen=True)
class Inception:
    c1: int  # #1x1
    r3: int  # #3x3 reduce
    c3: int  # #3x3
    r5: int  # #5x5 reduce
    c5: int  # #5x5
    pool_proj: int  # pool proj


# Table 1 of the paper: inception (3a)-(3b), (4a)-(4e), (5a)-(5b); a max-pool (3x3/2, then
# torchvision's 2x2/2) closes each of the first two stages
STAGES = (
    (Inception(64, 96, 128, 16, 32, 32), Inception(128, 128, 192, 32, 96, 64)),
    (Inception(192, 96, 208, 16, 48, 64), Inception(160, 112, 224, 24, 64, 64),
     Inception(128, 128, 256, 24, 64, 64), Inception(112, 144, 288, 32, 64, 64),
     Inception(256, 160, 320, 32, 128, 128)),
    (Inception(256, 160, 320, 32, 128, 128), Inception(384, 192, 384, 48, 128, 128)),
)
STAGE_POOL = (3, 2)  # kernel of the max-pool after stage 1 and stage 2 (stride 2)


def inception(b: IRBuilder, x: str, row: Inception) -> str:
    """The four branches of one Inception module, concatenated along channels."""
    with b.scope("branch1"):
        y1 = b.conv_bn_act("conv", x, row.c1, 1, eps=EPS)
    with b.scope("branch2"):
        y2 = b.conv_bn_act("reduce", x, row.r3, 1, eps=EPS)
        y2 = b.conv_bn_act("conv", y2, row.c3, 3, eps=EPS)
    with b.scope("branch3"):
        y3 = b.conv_bn_act("reduce", x, row.r5, 1, eps=EPS)
        y3 = b.conv_bn_act("conv", y3, row.c5, KERNEL_5X5, eps=EPS)
    with b.scope("branch4"):
        y4 = b.maxpool("pool", x, 3, stride=1, padding=1, ceil_mode=True)
        y4 = b.conv_bn_act("proj", y4, row.pool_proj, 1, eps=EPS)
    return b.concat("concat", [y1, y2, y3, y4])


def stem(b: IRBuilder, x: str) -> str:
    """7x7/2 conv, 3x3/2 max-pool, 1x1 conv, 3x3 conv, 3x3/2 max-pool."""
    with b.scope("stem"):
        x = b.conv_bn_act("conv1", x, 64, 7, stride=2, eps=EPS)
        x = b.maxpool("pool1", x, 3, stride=2, ceil_mode=True)
        x = b.conv_bn_act("conv2", x, 64, 1, eps=EPS)
        x = b.conv_bn_act("conv3", x, 192, 3, eps=EPS)
        return b.maxpool("pool2", x, 3, stride=2, ceil_mode=True)


def lower(cfg: Mapping[str, Any]) -> IR:
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    x = stem(b, b.input)
    for i, rows in enumerate(STAGES, 1):
        with b.scope(f"s{i}"):
            for j, row in enumerate(rows, 1):
                with b.scope(f"b{j}"):
                    x = inception(b, x, row)
            if i <= len(STAGE_POOL):
                x = b.maxpool("pool", x, STAGE_POOL[i - 1], stride=2, ceil_mode=True)
    with b.scope("head"):
        x = b.flatten("flatten", b.adaptive_avgpool("pool", x, 1))
        b.linear("fc", b.dropout("dropout", x, 0.2), cfg["num_classes"])
    return b.finish()


KNOBS = (
    resolution(224, lo=32),
    num_classes(),
)
FAMILY = Family("GoogLeNet", KNOBS, lower, paper="Szegedy et al. 2015, CVPR, arXiv:1409.4842",
                description="Inception modules (1x1, 3x3, 5x5 and pool branches) with BN; no auxiliary heads.")
register(FAMILY, "googlenet")
