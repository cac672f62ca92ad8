"""EfficientNetV2 (Tan & Le 2021): Fused-MBConv early stages, MBConv + SE later ones.

Rows are the paper's Table 4 (V2-S); M and L use the stage tables of the official code as
torchvision builds them. Fused-MBConv: kxk conv -> BN -> SiLU expanding (then a linear 1x1
projection), or a single kxk conv when the expansion is 1; no SE. MBConv is EfficientNet's
(SE squeeze = max(1, block input channels // 4)). BN eps 1e-3, head conv to 1280 channels.
`width` and `depth` scale the table like EfficientNet (make_divisible by 8, ceil of depth).

`stages` is the table in EfficientNet's grammar (f1 marks a Fused-MBConv row); by default
the variant's. The stem is as wide as the first row's channels (the registered builders'
rule, torchvision's too: the stem feeds the first row's input); the head stays 1280.
A custom table takes precedence over `variant`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, depth, num_classes, resolution, stages, width
from archlib.core.registry import Family, register
from archlib.core.scaling import make_divisible
from archlib.core.stages import MBRow, StageTable, check_resolution, stage_groups
from archlib.families.efficientnet import BN_EPS, GRAMMAR, SE, build_stages, classifier, dropout, strides


def _rows(*rows: tuple) -> tuple[MBRow, ...]:
    """(fused, t, k, s, c, n) -> typed rows: Fused-MBConv without SE, MBConv with SE 0.25."""
    return tuple(MBRow(t, k, s, c, n, 0.0 if fused else SE, fused) for fused, t, k, s, c, n in rows)


# Table 4 of the paper (EfficientNetV2-S); stem 3x3 conv to 24 channels, head 1x1 conv to 1280
S = _rows((True, 1, 3, 1, 24, 2), (True, 4, 3, 2, 48, 4), (True, 4, 3, 2, 64, 4),
          (False, 4, 3, 2, 128, 6), (False, 6, 3, 1, 160, 9), (False, 6, 3, 2, 256, 15))
# V2-M and V2-L: the official code's stage tables (not printed in the paper)
M = _rows((True, 1, 3, 1, 24, 3), (True, 4, 3, 2, 48, 5), (True, 4, 3, 2, 80, 5),
          (False, 4, 3, 2, 160, 7), (False, 6, 3, 1, 176, 14), (False, 6, 3, 2, 304, 18),
          (False, 6, 3, 1, 512, 5))
L = _rows((True, 1, 3, 1, 32, 4), (True, 4, 3, 2, 64, 7), (True, 4, 3, 2, 96, 7),
          (False, 4, 3, 2, 192, 10), (False, 6, 3, 1, 224, 19), (False, 6, 3, 2, 384, 25),
          (False, 6, 3, 1, 640, 7))
TABLES = {"s": S, "m": M, "l": L}
HEAD = 1280
STAGES = StageTable(GRAMMAR, lambda cfg: TABLES[cfg["variant"]], stage_groups, overrides=("variant",))


def lower(cfg: Mapping[str, Any]) -> IR:
    w, d, rows = cfg["width"], cfg["depth"], STAGES.rows(cfg)
    check_resolution(cfg["resolution"], strides(rows))
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    x = b.conv_bn_act("stem", b.input, make_divisible(rows[0].c * w), 3, stride=2, act="silu", eps=BN_EPS)
    x = build_stages(b, x, rows, w, d)
    classifier(b, x, make_divisible(HEAD * w), cfg["dropout"], cfg["num_classes"])
    return b.finish()


KNOBS = (
    Knob("variant", "choice", "s", "stage table: s (paper Table 4), m or l (official code)", choices=("s", "m", "l")),
    width(1.0, 0.1, 4.0),
    depth(1.0, 0.1, 4.0),
    resolution(384, 32, 1024),
    dropout(0.2),
    num_classes(),
    stages(GRAMMAR, "width and depth scale it as they scale the variant's table"),
)
FAMILY = Family("EfficientNetV2", KNOBS, lower, paper="Tan & Le 2021, arXiv:2104.00298", stages=STAGES,
                description="Fused-MBConv early stages, MBConv + SE later; SiLU; trained with progressive resizing.")
register(FAMILY, "efficientnet_v2_s", variant="s", resolution=384, dropout=0.2)
register(FAMILY, "efficientnet_v2_m", variant="m", resolution=480, dropout=0.3)
register(FAMILY, "efficientnet_v2_l", variant="l", resolution=480, dropout=0.4)
