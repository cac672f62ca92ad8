"""The blocks several families share, written once (torchvision's one MBConv, timm's shared blocks).

A family passes its own numbers (hidden width, kernel, activation, SE squeeze width, BN
settings) and gets the same op names everywhere: `expand`, `dw`, `se`, `project`, `add`
(`conv` for a Fused-MBConv without expansion). The Concepts page calls these too, so the
block it teaches is the block the library builds.
"""
from __future__ import annotations

from dataclasses import dataclass

from archlib.core.ir import IRBuilder


@dataclass(frozen=True)
class Norm:
    """BatchNorm settings of a family (PyTorch's momentum: 1 - TF's decay)."""

    eps: float = 1e-5
    momentum: float = 0.1


TORCH_BN = Norm()
TF_BN = Norm(1e-3, 0.01)  # TF's defaults for the Google families: eps 0.001, decay 0.99


def inverted_residual(b: IRBuilder, x: str, out_ch: int, *, hidden: int, kernel: int, stride: int, act: str,
                      se_ch: int = 0, se_act: str = "relu", se_gate: str = "sigmoid", norm: Norm = TORCH_BN,
                      skip: bool = True) -> str:
    """MBConv: 1x1 expand to `hidden` (only when it differs from the input width) -> kxk depthwise
    -> squeeze-and-excite to `se_ch` (0: none) -> linear 1x1 projection, + identity when the
    shape is kept and `skip` allows it."""
    in_ch = b.shape(x)[0]
    bn = {"eps": norm.eps, "momentum": norm.momentum}
    y = b.conv_bn_act("expand", x, hidden, 1, act=act, **bn) if hidden != in_ch else x
    y = b.conv_bn_act("dw", y, hidden, kernel, stride=stride, groups=hidden, act=act, **bn)
    if se_ch:
        y = b.squeeze_excite("se", y, se_ch, act=se_act, gate=se_gate)
    y = b.conv_bn_act("project", y, out_ch, 1, act=None, **bn)
    return b.add("add", x, y) if skip and stride == 1 and in_ch == out_ch else y


def fused_inverted_residual(b: IRBuilder, x: str, out_ch: int, *, hidden: int, kernel: int, stride: int,
                            act: str, se_ch: int = 0, se_act: str = "silu", norm: Norm = TORCH_BN) -> str:
    """Fused-MBConv (EfficientNetV2): one kxk conv expanding to `hidden` -> [SE] -> linear 1x1
    projection; when `hidden` equals the input width, a single kxk conv straight to `out_ch`
    (torchvision's rule). + identity when the shape is kept."""
    in_ch = b.shape(x)[0]
    bn = {"eps": norm.eps, "momentum": norm.momentum}
    if hidden != in_ch:
        y = b.conv_bn_act("expand", x, hidden, kernel, stride=stride, act=act, **bn)
        if se_ch:
            y = b.squeeze_excite("se", y, se_ch, act=se_act)
        y = b.conv_bn_act("project", y, out_ch, 1, act=None, **bn)
    else:
        y = b.conv_bn_act("conv", x, out_ch, kernel, stride=stride, act=act, **bn)
        if se_ch:
            y = b.squeeze_excite("se", y, se_ch, act=se_act)
    return b.add("add", x, y) if stride == 1 and in_ch == out_ch else y
