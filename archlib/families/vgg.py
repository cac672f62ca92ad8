"""VGG (Simonyan & Zisserman 2015) without batch norm, as torchvision builds it.

Five stages of 3x3 conv + ReLU layers (biased), each closed by a 2x2 max-pool; an
adaptive average pool to 7x7; then Linear-ReLU-Dropout twice and the classifier.
`variant` picks the paper's configuration A/B/D/E by its weight-layer count 11/13/16/19.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, num_classes, resolution
from archlib.core.registry import Family, register
from archlib.families.alexnet import conv_relu


@dataclass(frozen=True)
class Stage:
    c: int  # output channels of every conv in the stage
    convs: dict[int, int]  # variant (weight layers) -> conv layers in this stage


# Table 1 of the paper: configurations A (11), B (13), D (16) and E (19) weight layers
STAGES = (
    Stage(64, {11: 1, 13: 2, 16: 2, 19: 2}),
    Stage(128, {11: 1, 13: 2, 16: 2, 19: 2}),
    Stage(256, {11: 2, 13: 2, 16: 3, 19: 4}),
    Stage(512, {11: 2, 13: 2, 16: 3, 19: 4}),
    Stage(512, {11: 2, 13: 2, 16: 3, 19: 4}),
)
HIDDEN = 4096  # width of the two hidden fully connected layers
POOLED = 7  # side of the adaptive average pool before the classifier


def lower(cfg: Mapping[str, Any]) -> IR:
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    x = b.input
    for i, stage in enumerate(STAGES, 1):
        with b.scope(f"s{i}"):
            for j in range(stage.convs[cfg["variant"]]):
                x = conv_relu(b, f"b{j + 1}", x, stage.c, 3)
            x = b.maxpool("pool", x, 2, stride=2)
    with b.scope("head"):
        x = b.flatten("flatten", b.adaptive_avgpool("pool", x, POOLED))
        x = b.dropout("dropout1", b.act("act1", b.linear("fc1", x, HIDDEN), "relu"), 0.5)
        x = b.dropout("dropout2", b.act("act2", b.linear("fc2", x, HIDDEN), "relu"), 0.5)
        b.linear("fc3", x, cfg["num_classes"])
    return b.finish()


KNOBS = (
    resolution(224, lo=32),
    Knob("variant", "choice", 16, "weight layers: 11 (config A), 13 (B), 16 (D) or 19 (E)",
         choices=(11, 13, 16, 19)),
    num_classes(),
)
FAMILY = Family("VGG", KNOBS, lower, paper="Simonyan & Zisserman 2015, ICLR, arXiv:1409.1556",
                description="Plain stacks of 3x3 conv + ReLU with max-pooling; three fully connected layers.")
for _variant in (11, 13, 16, 19):
    register(FAMILY, f"vgg{_variant}", variant=_variant)
