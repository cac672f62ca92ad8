"""AlexNet (Krizhevsky et al. 2012) as torchvision builds it (the "one weird trick" variant).

Five conv layers (64/192/384/256/256 channels, Krizhevsky 2014's single-tower widths
rather than the paper's 96/256/384/384/256), max-pools after conv 1, 2 and 5, an adaptive
average pool to 6x6, and the 4096-4096-classes classifier with dropout before each of
the first two fully connected layers. Every conv and linear has a bias.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import num_classes, resolution, width
from archlib.core.registry import Family, register
from archlib.core.scaling import make_divisible


@dataclass(frozen=True)
class ConvRow:
    c: int  # output channels
    k: int  # kernel size
    s: int  # stride
    p: int  # padding
    pool: bool  # 3x3 stride-2 max-pool after the ReLU


# torchvision's AlexNet features (the paper's Figure 2 layers, single-tower widths)
FEATURES = (ConvRow(64, 11, 4, 2, True), ConvRow(192, 5, 1, 2, True), ConvRow(384, 3, 1, 1, False),
            ConvRow(256, 3, 1, 1, False), ConvRow(256, 3, 1, 1, True))
HIDDEN = 4096  # width of the two hidden fully connected layers
POOLED = 6  # side of the adaptive average pool before the classifier


def conv_relu(b: IRBuilder, name: str, x: str, out_ch: int, k: int, *, stride: int = 1,
              padding: int | None = None) -> str:
    """A biased conv followed by ReLU, named name.conv / name.act (the pre-BN building block)."""
    with b.scope(name):
        y = b.conv("conv", x, out_ch, k, stride=stride, padding=padding, bias=True)
        return b.act("act", y, "relu")


def lower(cfg: Mapping[str, Any]) -> IR:
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    x = b.input
    for i, row in enumerate(FEATURES, 1):
        with b.scope(f"s{i}"):
            x = conv_relu(b, "b1", x, make_divisible(row.c * cfg["width"]), row.k, stride=row.s, padding=row.p)
            if row.pool:
                x = b.maxpool("pool", x, 3, stride=2)
    with b.scope("head"):
        x = b.flatten("flatten", b.adaptive_avgpool("pool", x, POOLED))
        x = b.linear("fc1", b.dropout("dropout1", x, 0.5), HIDDEN)
        x = b.act("act1", x, "relu")
        x = b.linear("fc2", b.dropout("dropout2", x, 0.5), HIDDEN)
        x = b.act("act2", x, "relu")
        b.linear("fc3", x, cfg["num_classes"])
    return b.finish()


KNOBS = (
    resolution(224, lo=63),
    width(1.0, 0.25, 4.0),
    num_classes(),
)
FAMILY = Family("AlexNet", KNOBS, lower,
                paper="Krizhevsky et al. 2012, NeurIPS; torchvision variant from Krizhevsky 2014, arXiv:1404.5997",
                description="Five conv layers with ReLU and max-pooling, then three fully connected layers; "
                            "width scales the conv channels only.")
register(FAMILY, "alexnet")
