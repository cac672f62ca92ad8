"""SqueezeNet (Iandola et al. 2016): Fire modules, as torchvision builds v1.0 and v1.1.

A Fire module squeezes with s 1x1 filters, then expands with e1 1x1 and e3 3x3 filters
whose outputs are concatenated; every conv is biased and followed by ReLU. The paper's
design-space metaparameters (section 5) give every Fire module's widths:
e_i = base_e + incr_e * floor(i / freq), s_i = sr * e_i, e_i,3x3 = pct3x3 * e_i
(i = 0..7). Their defaults (128, 128, 2, 0.125, 0.5) give torchvision's channels.
v1.0 and v1.1 differ in the first conv and where the max-pools fall between the Fires.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, num_classes, resolution
from archlib.core.registry import Family, register
from archlib.families.alexnet import conv_relu


@dataclass(frozen=True)
class Version:
    conv1_ch: int  # channels of the first conv
    conv1_k: int  # its kernel (stride 2, no padding)
    stages: tuple[int, ...]  # Fire modules per stage; a 3x3/2 max-pool closes every stage but the last


# Table 1 of the paper (v1.0) and the SqueezeNet_v1.1 release notes (v1.1)
VERSIONS = {
    "1.0": Version(96, 7, (3, 4, 1)),
    "1.1": Version(64, 3, (2, 2, 4)),
}


@dataclass(frozen=True)
class FireWidths:
    s: int  # squeeze 1x1 filters
    e1: int  # expand 1x1 filters
    e3: int  # expand 3x3 filters


def _round(v: float) -> int:
    return int(math.floor(v + 0.5))


def fire_widths(i: int, cfg: Mapping[str, Any]) -> FireWidths:
    """Widths of Fire module i (0-based) from the paper's metaparameters (section 5)."""
    e = cfg["base_e"] + cfg["incr_e"] * (i // cfg["freq"])
    e3 = min(e - 1, max(1, _round(cfg["pct3x3"] * e)))
    return FireWidths(max(1, _round(cfg["sr"] * e)), e - e3, e3)


def fire(b: IRBuilder, x: str, w: FireWidths) -> str:
    """Squeeze 1x1 -> ReLU, then 1x1 and 3x3 expand branches (each -> ReLU), concatenated."""
    s = conv_relu(b, "squeeze", x, w.s, 1)
    e1 = conv_relu(b, "expand1x1", s, w.e1, 1)
    e3 = conv_relu(b, "expand3x3", s, w.e3, 3)
    return b.concat("concat", [e1, e3])


def lower(cfg: Mapping[str, Any]) -> IR:
    v = VERSIONS[cfg["version"]]
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    with b.scope("stem"):
        x = conv_relu(b, "conv1", b.input, v.conv1_ch, v.conv1_k, stride=2, padding=0)
        x = b.maxpool("pool", x, 3, stride=2, ceil_mode=True)
    i = 0
    for n_stage, n in enumerate(v.stages, 1):
        with b.scope(f"s{n_stage}"):
            for j in range(n):
                with b.scope(f"b{j + 1}"):
                    x = fire(b, x, fire_widths(i, cfg))
                i += 1
            if n_stage < len(v.stages):
                x = b.maxpool("pool", x, 3, stride=2, ceil_mode=True)
    with b.scope("head"):
        x = conv_relu(b, "conv10", b.dropout("dropout", x, 0.5), cfg["num_classes"], 1)
        b.flatten("flatten", b.adaptive_avgpool("pool", x, 1))
    return b.finish()


KNOBS = (
    resolution(224, lo=32),
    Knob("version", "choice", "1.0", "1.0 (paper, 7x7 conv1) or 1.1 (3x3 conv1, earlier pooling; 2.4x fewer MACs)",
         choices=tuple(VERSIONS)),
    Knob("sr", "float", 0.125, "squeeze ratio SR: squeeze filters / expand filters (paper: 0.125)",
         lo=0.125, hi=1.0, step=0.125),
    Knob("pct3x3", "float", 0.5, "fraction of expand filters that are 3x3 (paper: 0.5)", lo=0.01, hi=0.99, step=0.01),
    Knob("base_e", "int", 128, "expand filters of the first Fire module (paper: 128)", lo=8, hi=1024, step=8),
    Knob("incr_e", "int", 128, "expand filters added every freq Fire modules (paper: 128)", lo=0, hi=1024, step=8),
    Knob("freq", "int", 2, "Fire modules between expand-width increases (paper: 2)", lo=1, hi=8, step=1),
    num_classes(),
)
FAMILY = Family("SqueezeNet", KNOBS, lower, paper="Iandola et al. 2016, arXiv:1602.07360",
                description="Fire modules (1x1 squeeze, 1x1 + 3x3 expand); conv classifier; no fully connected layer.")
register(FAMILY, "squeezenet1_0", version="1.0")
register(FAMILY, "squeezenet1_1", version="1.1")
