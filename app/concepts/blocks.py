"""The building blocks of the Concepts page, each built as a tiny IR and costed by archlib.

The blocks are the families' own builders (MobileNetV2's inverted residual, EfficientNet's
MBConv, EfficientNetV2's Fused-MBConv, SqueezeNet's Fire, ShuffleNet's unit), called with
the page's numbers, so the block taught is the block the library builds, rounding rules
included. The plain and separable convolutions are bare convolutions: the cost comparison
of the MobileNet paper. Names follow the papers (M input and N output channels, D_K kernel,
D_F feature map side).
"""
from __future__ import annotations

from collections.abc import Callable

from archlib.core.analysis import Analysis
from archlib.core.ir import IRBuilder
from archlib.core.stages import MBRow
from archlib.families import efficientnet, mobilenet_v2, shufflenet_v1, squeezenet


def _block(name: str, channels: int, size: int, build: Callable[[IRBuilder, str], str]) -> Analysis:
    b = IRBuilder((channels, size, size))
    build(b, b.input)
    return Analysis.of(name, {}, b.finish())


def standard_conv(m: int, n: int, k: int, size: int) -> Analysis:
    """One D_K x D_K convolution from M to N channels (no BN: the cost comparison of MobileNet)."""
    return _block("standard", m, size, lambda b, x: b.conv("conv", x, n, k))


def separable_conv(m: int, n: int, k: int, size: int) -> Analysis:
    """Depthwise D_K x D_K on each of the M channels, then a 1x1 pointwise conv to N."""
    return _block("separable", m, size, lambda b, x: b.conv("pointwise", b.conv("depthwise", x, m, k, groups=m), n, 1))


def fire(m: int, squeeze: int, e1: int, e3: int, size: int) -> Analysis:
    """SqueezeNet's Fire (the family's builder): 1x1 squeeze, then 1x1 and 3x3 expands, concatenated."""
    return _block("fire", m, size, lambda b, x: squeezenet.fire(b, x, squeezenet.FireWidths(squeeze, e1, e3)))


def plain3x3(m: int, n: int, size: int) -> Analysis:
    """The 3x3 convolution a Fire module replaces (same input and output channels)."""
    return _block("plain", m, size, lambda b, x: b.act("relu", b.conv("conv", x, n, 3, bias=True), "relu"))


def inverted_residual(m: int, n: int, t: int, size: int) -> Analysis:
    """MobileNetV2's block (the family's builder): 1x1 expand by t, 3x3 depthwise, linear 1x1, ReLU6."""
    return _block("inverted_residual", m, size, lambda b, x: mobilenet_v2.block(b, x, n, MBRow(t, 3, 1, n, 1), 1))


def mbconv(m: int, n: int, t: int, k: int, size: int, se: float) -> Analysis:
    """EfficientNet's MBConv (the family's builder): expand to make_divisible(M t), kxk depthwise,
    SE squeezing to max(1, int(M se)) (M // 4 at EfficientNet's 0.25; 0: none), linear 1x1, SiLU."""
    return _block("mbconv", m, size, lambda b, x: efficientnet.mbconv(b, x, n, MBRow(t, k, 1, n, 1, se=se), 1))


def fused_mbconv(m: int, n: int, t: int, k: int, size: int) -> Analysis:
    """EfficientNetV2's Fused-MBConv (the family's builder): one kxk conv to make_divisible(M t), linear 1x1."""
    return _block("fused_mbconv", m, size, lambda b, x: efficientnet.fused_mbconv(b, x, n, MBRow(t, k, 1, n, 1, f=True), 1))


def shuffle_unit(c: int, groups: int, size: int) -> Analysis:
    """ShuffleNet's unit (the family's builder, stride 1): 1x1 group conv, channel shuffle, 3x3
    depthwise, 1x1 group conv, residual add, ReLU."""
    return _block("shuffle_unit", c, size, lambda b, x: shufflenet_v1.unit(b, x, c, 1, groups, first_group=groups))
