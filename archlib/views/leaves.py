"""The torch leaf module of every op kind, one factory per kind taking the op's attrs.

archlib.core.cost's kind table names these factories ("archlib.views.leaves:conv2d"), so
the core stays torch-free and archlib.views.torchmodel builds any registered kind alike.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from archlib.views import attention_torch as att

A = Mapping[str, Any]

_ACT = {
    "relu": lambda: nn.ReLU(inplace=False),
    "relu6": lambda: nn.ReLU6(inplace=False),
    "hardswish": nn.Hardswish,
    "hardsigmoid": nn.Hardsigmoid,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
}


class Add(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


class Mul(nn.Module):
    def forward(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return x * scale


class Matmul(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


class Softmax(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.softmax(dim=self.dim)


class Concat(nn.Module):
    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim)


class ChannelShuffle(nn.Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class ChannelSlice(nn.Module):
    def __init__(self, start: int, stop: int) -> None:
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start:self.stop]

    def extra_repr(self) -> str:
        return f"channels [{self.start}, {self.stop})"


# -- the built-in kinds (archlib.core.cost) -------------------------------------
def conv2d(a: A) -> nn.Module:
    return nn.Conv2d(a["in_ch"], a["out_ch"], a["kernel"], a["stride"], a["padding"], a["dilation"], a["groups"],
                     a["bias"])


def linear(a: A) -> nn.Module:
    return nn.Linear(a["in_f"], a["out_f"], a["bias"])


def matmul(a: A) -> nn.Module:
    return Matmul()


def bn2d(a: A) -> nn.Module:
    return nn.BatchNorm2d(a["channels"], eps=a["eps"], momentum=a["momentum"])


def layernorm(a: A) -> nn.Module:
    # families: over the last `dim`; imported graphs: over the trailing `shape`, maybe without scale/shift
    return nn.LayerNorm(a.get("shape", a.get("dim")), eps=a["eps"], elementwise_affine=a.get("affine", True),
                        bias=a.get("bias", True))


def act(a: A) -> nn.Module:
    return _ACT[a["fn"]]()


def softmax(a: A) -> nn.Module:
    return Softmax(a.get("dim", -1))


def maxpool2d(a: A) -> nn.Module:
    return nn.MaxPool2d(a["kernel"], a["stride"], a["padding"], a.get("dilation", 1), ceil_mode=a["ceil_mode"])


def avgpool2d(a: A) -> nn.Module:
    return nn.AvgPool2d(a["kernel"], a["stride"], a["padding"], ceil_mode=a["ceil_mode"],
                        count_include_pad=a.get("count_include_pad", True))


def adaptive_avgpool2d(a: A) -> nn.Module:
    return nn.AdaptiveAvgPool2d(a["out"])


def flatten(a: A) -> nn.Module:
    return nn.Flatten(1)


def dropout(a: A) -> nn.Module:
    return nn.Dropout(a["p"])


def add(a: A) -> nn.Module:
    return Add()


def mul(a: A) -> nn.Module:
    return Mul()


def concat(a: A) -> nn.Module:
    return Concat(a.get("dim", 1))


def channel_shuffle(a: A) -> nn.Module:
    return ChannelShuffle(a["groups"])


def slice(a: A) -> nn.Module:  # named after its op kind, like every factory here
    return ChannelSlice(a["start"], a["stop"])


# -- attention kinds (archlib.core.attention) -------------------------------------
def to_tokens(a: A) -> nn.Module:
    return att.ToTokens()


def cls_token(a: A) -> nn.Module:
    return att.ClsToken(a["dim"])


def pos_embed(a: A) -> nn.Module:
    return att.PosEmbed(a["tokens"], a["dim"])


def take_token(a: A) -> nn.Module:
    return att.TakeToken(a["index"])


def attention(a: A) -> nn.Module:
    return att.SoftmaxAttention(a["dim"], a["heads"])


def favor(a: A) -> nn.Module:
    return att.FavorAttention(a["dim"], a["heads"], a["features"], a["feature_kind"], a["redraw"])
