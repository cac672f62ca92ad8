"""The building blocks of the Concepts page, each as a tiny IR costed by archlib.

One function per block, taking the page's numbers; names follow the papers (M input and
N output channels, D_K kernel, D_F feature map side).
"""
from __future__ import annotations

from archlib.core.analysis import Analysis
from archlib.core.ir import IRBuilder


def _analysis(name: str, b: IRBuilder) -> Analysis:
    return Analysis.of(name, {}, b.finish())


def standard_conv(m: int, n: int, k: int, size: int) -> Analysis:
    """One D_K x D_K convolution from M to N channels (no BN: the cost comparison of MobileNet)."""
    b = IRBuilder((m, size, size))
    b.conv("conv", b.input, n, k)
    return _analysis("standard", b)


def separable_conv(m: int, n: int, k: int, size: int) -> Analysis:
    """Depthwise D_K x D_K on each of the M channels, then a 1x1 pointwise conv to N."""
    b = IRBuilder((m, size, size))
    x = b.conv("depthwise", b.input, m, k, groups=m)
    b.conv("pointwise", x, n, 1)
    return _analysis("separable", b)


def fire(m: int, squeeze: int, e1: int, e3: int, size: int) -> Analysis:
    """SqueezeNet's Fire: 1x1 squeeze to s1x1, then 1x1 (e1x1) and 3x3 (e3x3) expands, concatenated."""
    b = IRBuilder((m, size, size))
    s = b.act("squeeze.relu", b.conv("squeeze.conv", b.input, squeeze, 1, bias=True), "relu")
    x1 = b.act("expand1x1.relu", b.conv("expand1x1.conv", s, e1, 1, bias=True), "relu")
    x3 = b.act("expand3x3.relu", b.conv("expand3x3.conv", s, e3, 3, bias=True), "relu")
    b.concat("concat", [x1, x3])
    return _analysis("fire", b)


def plain3x3(m: int, n: int, size: int) -> Analysis:
    """The 3x3 convolution a Fire module replaces (same input and output channels)."""
    b = IRBuilder((m, size, size))
    b.act("relu", b.conv("conv", b.input, n, 3, bias=True), "relu")
    return _analysis("plain", b)


def inverted_residual(m: int, n: int, t: int, k: int, size: int) -> Analysis:
    """MobileNetV2: 1x1 expand to t*M (ReLU6), kxk depthwise (ReLU6), linear 1x1 projection, residual if M = N."""
    b = IRBuilder((m, size, size))
    y = b.conv_bn_act("expand", b.input, m * t, 1, act="relu6") if t > 1 else b.input
    y = b.conv_bn_act("dw", y, m * t, k, groups=m * t, act="relu6")
    y = b.conv_bn_act("project", y, n, 1, act=None)
    if m == n:
        b.add("add", b.input, y)
    return _analysis("inverted_residual", b)


def mbconv(m: int, n: int, t: int, k: int, size: int, se: float) -> Analysis:
    """EfficientNet's MBConv: 1x1 expand, kxk depthwise, SE, linear 1x1 projection (SiLU)."""
    b = IRBuilder((m, size, size))
    y = b.conv_bn_act("expand", b.input, m * t, 1, act="silu") if t > 1 else b.input
    y = b.conv_bn_act("dw", y, m * t, k, groups=m * t, act="silu")
    if se:
        y = b.squeeze_excite("se", y, max(1, int(m * se)), act="silu")
    y = b.conv_bn_act("project", y, n, 1, act=None)
    if m == n:
        b.add("add", b.input, y)
    return _analysis("mbconv", b)


def fused_mbconv(m: int, n: int, t: int, k: int, size: int, se: float) -> Analysis:
    """EfficientNetV2's Fused-MBConv: one kxk conv does expand + depthwise, then SE and the 1x1 projection."""
    b = IRBuilder((m, size, size))
    # with t = 1 the kxk conv goes straight to N channels and there is no projection (torchvision's rule)
    y = b.conv_bn_act("fused", b.input, m * t if t > 1 else n, k, act="silu")
    if se:
        y = b.squeeze_excite("se", y, max(1, int(m * se)), act="silu")
    if t > 1:
        y = b.conv_bn_act("project", y, n, 1, act=None)
    if m == n:
        b.add("add", b.input, y)
    return _analysis("fused_mbconv", b)


def squeeze_excite(c: int, ratio: float, size: int) -> Analysis:
    """SE on C channels: global pool, 1x1 to ratio*C (ReLU), 1x1 back to C, sigmoid gate, scale."""
    b = IRBuilder((c, size, size))
    b.squeeze_excite("se", b.input, max(1, int(c * ratio)), act="relu")
    return _analysis("se", b)


def shuffle_unit(c: int, groups: int, size: int, *, shuffle: bool = True) -> Analysis:
    """ShuffleNet unit: 1x1 group conv, channel shuffle, 3x3 depthwise, 1x1 group conv, residual."""
    b = IRBuilder((c, size, size))
    mid = c // 4 // groups * groups or groups
    y = b.conv_bn_act("gconv1", b.input, mid, 1, groups=groups)
    if shuffle and groups > 1:
        y = b.channel_shuffle("shuffle", y, groups)
    y = b.conv_bn_act("dw", y, mid, 3, groups=mid, act=None)
    y = b.conv_bn_act("gconv2", y, c, 1, groups=groups, act=None)
    b.act("relu", b.add("add", b.input, y), "relu")
    return _analysis("shuffle_unit", b)

