"""LeNet of PyTorch's classic "Neural Networks" tutorial: the seed's fvcore example.

conv1 3x3 1->6, conv2 3x3 6->16 (each followed by ReLU and 2x2 max-pool), fc1 576->120,
fc2 120->84, fc3 84->10, on a 1x32x32 input.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import num_classes
from archlib.core.registry import Family, register


def lower(cfg: Mapping[str, Any]) -> IR:
    b = IRBuilder((1, 32, 32))
    x = b.conv("conv1", b.input, 6, 3, padding=0, bias=True)
    x = b.maxpool("pool1", b.act("relu1", x, "relu"), 2)
    x = b.conv("conv2", x, 16, 3, padding=0, bias=True)
    x = b.maxpool("pool2", b.act("relu2", x, "relu"), 2)
    x = b.flatten("flatten", x)
    x = b.act("relu3", b.linear("fc1", x, 120), "relu")
    x = b.act("relu4", b.linear("fc2", x, 84), "relu")
    b.linear("fc3", x, cfg["num_classes"])
    return b.finish()


FAMILY = Family("LeNet", (num_classes(10),), lower,
                paper="PyTorch tutorial 'Neural Networks' (LeCun et al. 1998 style)",
                description="The seed's fvcore example: a 5-layer LeNet on 1x32x32 inputs.")
register(FAMILY, "lenet")
