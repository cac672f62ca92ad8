"""torchvision's own classes built from an archlib stage table, where they can express it.

The rule (README, "Stage tables"): a table built both ways gives the same parameters and
MACs. Each builder maps archlib's typed rows to torchvision's custom-table API and uses
torchvision's own channel/depth adjustments; it returns None for what torchvision's
classes cannot build (an SE ratio other than the family's, MobileNetV2 kernels other than
3, MnasNet, the TF-slim width rule, ShuffleNetV2 tables that are not three rows).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archlib.core import registry

try:
    import torchvision
    from torchvision import models as tvm

    AVAILABLE, VERSION = True, torchvision.__version__
except ImportError:  # the check then compares with the built module only
    AVAILABLE, VERSION = False, "not installed"


def reference(name: str, cfg: Mapping[str, Any]):
    """torchvision's module for model `name` at configuration `cfg`, or None."""
    if not AVAILABLE:
        return None
    family = registry.get(name).family
    rows = family.stages.grammar.parse(cfg["stages"])
    build = {"EfficientNet": _efficientnet, "EfficientNetV2": _efficientnet, "MobileNetV2": _mobilenet_v2,
             "MobileNetV3": _mobilenet_v3, "RegNetX": _regnet, "RegNetY": _regnet,
             "ShuffleNetV2": _shufflenet_v2}.get(family.name)
    return build(family.name, rows, cfg) if build else None


def _efficientnet(family: str, rows, cfg):
    from torchvision.models.efficientnet import EfficientNet, FusedMBConvConfig, MBConvConfig

    if any(r.se != (0.0 if r.f else 0.25) for r in rows):  # torchvision: SE 0.25 in MBConv, none when fused
        return None
    if family == "EfficientNet":
        from archlib.families.efficientnet import effective

        w, d, _ = effective(cfg)
        stem = 32
    else:
        w, d, stem = cfg["width"], cfg["depth"], rows[0].c
    adjust, depth = MBConvConfig.adjust_channels, MBConvConfig.adjust_depth
    setting, prev = [], stem
    for r in rows:
        if r.f:  # FusedMBConvConfig takes channels and layers already scaled
            setting.append(FusedMBConvConfig(r.t, r.k, r.s, adjust(prev, w), adjust(r.c, w), depth(r.n, d)))
        else:
            setting.append(MBConvConfig(r.t, r.k, r.s, prev, r.c, r.n, width_mult=w, depth_mult=d))
        prev = r.c
    return EfficientNet(setting, cfg["dropout"], last_channel=adjust(1280, w), num_classes=cfg["num_classes"])


def _mobilenet_v2(family: str, rows, cfg):
    if any(r.k != 3 or r.se for r in rows):
        return None
    return tvm.MobileNetV2(num_classes=cfg["num_classes"], width_mult=cfg["width"],
                           inverted_residual_setting=[[r.t, r.c, r.n, r.s] for r in rows])


def _mobilenet_v3(family: str, rows, cfg):
    from torchvision.models.mobilenetv3 import InvertedResidualConfig, MobileNetV3

    if cfg["scaling"] != "torchvision":
        return None
    w, prev, setting = cfg["width"], 16, []
    for r in rows:
        setting.append(InvertedResidualConfig(prev, r.k, r.e, r.c, r.se, "HS" if r.hs else "RE", r.s, 1, w))
        prev = r.c
    hidden = 1280 if cfg["variant"] == "large" else 1024
    return MobileNetV3(setting, InvertedResidualConfig.adjust_channels(hidden, w), num_classes=cfg["num_classes"])


def _regnet(family: str, rows, cfg):
    from torchvision.models.regnet import BlockParams, RegNet

    params = BlockParams(depths=[r.d for r in rows], widths=[r.w for r in rows], group_widths=[r.g for r in rows],
                         bottleneck_multipliers=[1 / r.b for r in rows], strides=[2] * len(rows),
                         se_ratio=cfg["se_ratio"] or None)
    return RegNet(params, num_classes=cfg["num_classes"])


def _shufflenet_v2(family: str, rows, cfg):
    if len(rows) != 3:
        return None
    head = 2048 if cfg["width"] == 2.0 else 1024
    return tvm.ShuffleNetV2([r.n for r in rows], [24, *(r.c for r in rows), head], num_classes=cfg["num_classes"])
