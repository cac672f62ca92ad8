"""EfficientNetV2 (Tan & Le 2021): Fused-MBConv early stages, MBConv + SE later ones.

Rows are the paper's Table 4 (V2-S); M and L use the stage tables of the official code as
torchvision builds them. Fused-MBConv: kxk conv -> BN -> SiLU expanding (then a linear 1x1
projection), or a single kxk conv when the expansion is 1; no SE. MBConv is EfficientNet's
(SE squeeze = max(1, block input channels // 4)). BN eps 1e-3, head conv to 1280 channels.
`width` and `depth` scale the table like EfficientNet (make_divisible by 8, ceil of depth).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core.blocks import fused_inverted_residual
from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, depth, num_classes, resolution, width
from archlib.core.registry import Family, register
from archlib.core.scaling import make_divisible, round_repeats
from archlib.families.efficientnet import BN_EPS, NORM, classifier, dropout, mbconv


@dataclass(frozen=True)
class Row:
    fused: bool  # Fused-MBConv (True) or MBConv with SE (False)
    t: int  # expansion ratio
    k: int  # kernel size
    s: int  # stride of the first layer
    c: int  # output channels
    n: int  # layers


# Table 4 of the paper (EfficientNetV2-S); stem 3x3 conv to 24 channels, head 1x1 conv to 1280
S = (Row(True, 1, 3, 1, 24, 2), Row(True, 4, 3, 2, 48, 4), Row(True, 4, 3, 2, 64, 4),
     Row(False, 4, 3, 2, 128, 6), Row(False, 6, 3, 1, 160, 9), Row(False, 6, 3, 2, 256, 15))
# V2-M and V2-L: the official code's stage tables (not printed in the paper)
M = (Row(True, 1, 3, 1, 24, 3), Row(True, 4, 3, 2, 48, 5), Row(True, 4, 3, 2, 80, 5),
     Row(False, 4, 3, 2, 160, 7), Row(False, 6, 3, 1, 176, 14), Row(False, 6, 3, 2, 304, 18),
     Row(False, 6, 3, 1, 512, 5))
L = (Row(True, 1, 3, 1, 32, 4), Row(True, 4, 3, 2, 64, 7), Row(True, 4, 3, 2, 96, 7),
     Row(False, 4, 3, 2, 192, 10), Row(False, 6, 3, 1, 224, 19), Row(False, 6, 3, 2, 384, 25),
     Row(False, 6, 3, 1, 640, 7))
TABLES = {"s": S, "m": M, "l": L}
HEAD = 1280


def fused_mbconv(b: IRBuilder, x: str, out_ch: int, t: int, k: int, stride: int) -> str:
    """The shared Fused-MBConv: kxk expand conv to make_divisible(in x t) -> linear 1x1 projection
    (one kxk conv when that is the input width), SiLU, no SE."""
    hidden = make_divisible(b.shape(x)[0] * t)
    return fused_inverted_residual(b, x, out_ch, hidden=hidden, kernel=k, stride=stride, act="silu", norm=NORM)


def lower(cfg: Mapping[str, Any]) -> IR:
    w, d, table = cfg["width"], cfg["depth"], TABLES[cfg["variant"]]
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    x = b.conv_bn_act("stem", b.input, make_divisible(table[0].c * w), 3, stride=2, act="silu", eps=BN_EPS)
    for i, row in enumerate(table, 1):
        out_ch = make_divisible(row.c * w)
        block = fused_mbconv if row.fused else mbconv
        for j in range(round_repeats(row.n, d)):
            with b.scope(f"s{i}", f"b{j + 1}"):
                x = block(b, x, out_ch, row.t, row.k, row.s if j == 0 else 1)
    classifier(b, x, make_divisible(HEAD * w), cfg["dropout"], cfg["num_classes"])
    return b.finish()


KNOBS = (
    Knob("variant", "choice", "s", "stage table: s (paper Table 4), m or l (official code)", choices=("s", "m", "l")),
    width(1.0, 0.1, 4.0),
    depth(1.0, 0.1, 4.0),
    resolution(384, 32, 1024),
    dropout(0.2),
    num_classes(),
)
FAMILY = Family("EfficientNetV2", KNOBS, lower, paper="Tan & Le 2021, arXiv:2104.00298",
                description="Fused-MBConv early stages, MBConv + SE later; SiLU; trained with progressive resizing.")
register(FAMILY, "efficientnet_v2_s", variant="s", resolution=384, dropout=0.2)
register(FAMILY, "efficientnet_v2_m", variant="m", resolution=480, dropout=0.3)
register(FAMILY, "efficientnet_v2_l", variant="l", resolution=480, dropout=0.4)
