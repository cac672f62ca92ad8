"""ResNet (He et al. 2016) as torchvision builds it: ResNet v1.5, stride on the 3x3 conv.

A 7x7/2 conv stem with a 3x3/2 max-pool, four stages of residual blocks (basic 3x3-3x3
blocks for 18/34 layers, 1x1-3x3-1x1 bottlenecks with expansion 4 for 50/101/152), a
1x1 conv + BN projection shortcut wherever the shape changes, global average pooling and
a linear classifier. Every conv is bias-free and followed by BN (eps 1e-5).

`stride_on` places a bottleneck's stride: on the 3x3 conv (v1.5, torchvision's and the
default) or on the first 1x1 conv (v1, the paper's original: 3.86 GMACs for ResNet-50
against v1.5's 4.09, the paper's "3.8 x 10^9 FLOPs"). Parameters are the same.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, num_classes, resolution, width
from archlib.core.registry import Family, register
from archlib.core.scaling import make_divisible

STAGE_WIDTHS = (64, 128, 256, 512)  # the paper's Table 1: base channels of conv2_x .. conv5_x
STEM_WIDTH = 64


@dataclass(frozen=True)
class Depth:
    bottleneck: bool  # 1x1-3x3-1x1 bottleneck (expansion 4) or basic 3x3-3x3 block (expansion 1)
    blocks: tuple[int, int, int, int]  # blocks in conv2_x .. conv5_x


# Table 1 of the paper: 18-, 34-, 50-, 101- and 152-layer columns
DEPTHS = {
    18: Depth(False, (2, 2, 2, 2)),
    34: Depth(False, (3, 4, 6, 3)),
    50: Depth(True, (3, 4, 6, 3)),
    101: Depth(True, (3, 4, 23, 3)),
    152: Depth(True, (3, 8, 36, 3)),
}


def basic_block(b: IRBuilder, x: str, planes: int, stride: int) -> str:
    """3x3 conv (stride here) -> 3x3 conv, plus the (projected) shortcut, then ReLU."""
    y = b.conv_bn_act("conv1", x, planes, 3, stride=stride)
    y = b.conv_bn_act("conv2", y, planes, 3, act=None)
    return _merge(b, x, y, stride)


def bottleneck(b: IRBuilder, x: str, planes: int, stride: int, *, v1: bool = False) -> str:
    """1x1 reduce -> 3x3 conv -> 1x1 expand x4, plus shortcut, then ReLU; the stride on the
    3x3 (v1.5) or on the first 1x1 (`v1`)."""
    y = b.conv_bn_act("conv1", x, planes, 1, stride=stride if v1 else 1)
    y = b.conv_bn_act("conv2", y, planes, 3, stride=1 if v1 else stride)
    y = b.conv_bn_act("conv3", y, 4 * planes, 1, act=None)
    return _merge(b, x, y, stride)


def _merge(b: IRBuilder, x: str, y: str, stride: int) -> str:
    if stride != 1 or b.shape(x)[0] != b.shape(y)[0]:
        x = b.conv_bn_act("downsample", x, b.shape(y)[0], 1, stride=stride, act=None)
    return b.act("act", b.add("add", y, x), "relu")


def lower(cfg: Mapping[str, Any]) -> IR:
    depth, w = DEPTHS[cfg["layers"]], cfg["width"]
    v1 = cfg["stride_on"] == "1x1"
    block = (lambda *a: bottleneck(*a, v1=v1)) if depth.bottleneck else basic_block
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    with b.scope("stem"):
        x = b.conv_bn_act("conv", b.input, make_divisible(STEM_WIDTH * w), 7, stride=2)
        x = b.maxpool("pool", x, 3, stride=2, padding=1)
    for i, (planes, n) in enumerate(zip(STAGE_WIDTHS, depth.blocks), 1):
        for j in range(n):
            with b.scope(f"s{i}", f"b{j + 1}"):
                x = block(b, x, make_divisible(planes * w), 2 if i > 1 and j == 0 else 1)
    with b.scope("head"):
        x = b.flatten("flatten", b.adaptive_avgpool("pool", x, 1))
        b.linear("fc", x, cfg["num_classes"])
    return b.finish()


KNOBS = (
    resolution(224, lo=32),
    Knob("layers", "choice", 50, "weight layers: 18 or 34 (basic blocks), 50, 101 or 152 (bottlenecks)",
         choices=tuple(DEPTHS)),
    width(1.0, 0.25, 4.0),
    Knob("stride_on", "choice", "3x3", "where a bottleneck downsamples: 3x3 (v1.5, torchvision) or 1x1 "
         "(v1, the paper's original)", choices=("3x3", "1x1")),
    num_classes(),
)
FAMILY = Family("ResNet", KNOBS, lower, paper="He et al. 2016, CVPR, arXiv:1512.03385",
                description="Residual networks (v1.5: stride on the 3x3 conv of the bottleneck); "
                            "width scales every conv's channels (rounded to multiples of 8).")
for _layers in DEPTHS:
    register(FAMILY, f"resnet{_layers}", layers=_layers)
