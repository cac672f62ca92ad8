"""The families' rounding rules for width and depth multipliers, in one place."""
from __future__ import annotations

import math
from fractions import Fraction


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channels `v` to a multiple of `divisor`, never more than 10% below `v`.

    The MobileNet/EfficientNet rule (TF reference code, torchvision `_make_divisible`).
    """
    floor = divisor if min_value is None else min_value
    new_v = max(floor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def round_repeats(n: int, depth: float) -> int:
    """Layers in a stage under depth multiplier `depth`: ceil(n * depth) (EfficientNet)."""
    return int(math.ceil(n * depth))


def compound(phi: float, alpha: float, beta: float, gamma: float) -> tuple[float, float, float]:
    """EfficientNet compound scaling: (depth, width, resolution) multipliers = alpha^phi, beta^phi, gamma^phi."""
    return alpha ** phi, beta ** phi, gamma ** phi


def ratio_channels(channels: int, ratio: float) -> int:
    """max(1, floor(channels x ratio)) in exact decimal arithmetic: SE squeeze widths (0.25 -> in // 4)."""
    return max(1, math.floor(channels * Fraction(f"{ratio:.12g}")))
