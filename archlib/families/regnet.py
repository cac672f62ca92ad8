"""RegNetX and RegNetY (Radosavovic et al. 2020): a network from a quantized linear rule.

Six numbers make the network. Block j gets the continuous width u_j = w0 + wa * j; it is
snapped to w0 * wm^round(log(u_j / w0) / log(wm)) and then to a multiple of 8; runs of equal
widths are the stages (each starts with stride 2). Every block is a ResNeXt bottleneck:
1x1 (a) -> 3x3 group conv of `group_width` channels per group (b) -> [SE] -> 1x1 (c), plus
the identity or a 1x1 projection, then ReLU. Bottleneck width = stage width x
`bottleneck_ratio`, snapped to a multiple of the group width. RegNetY adds SE whose
squeeze width is round(se_ratio x block input width). Stem: 3x3 stride-2 conv to 32;
head: global pool and a fully connected layer.

`rounding` chooses how the bottleneck width snaps to the group width: "pycls" (the paper's
code: nearest multiple, ties to even) or "torchvision" (ties up, and never more than 10%
below). Of the presets they part only on X-400MF, Y-800MF, Y-8GF and X/Y-4.0GF: that is why
torchvision's regnet_x_400mf, regnet_y_800mf and regnet_y_8gf differ from pycls's models.

`stages` is the per-stage table the six numbers make, and any other: one row per stage,
d blocks, w width, g group width, b bottleneck ratio in the paper's sense (w divided by the
bottleneck width, so pycls's bot_mul is 1/b); every stage starts with a stride-2 block and
SE follows `se_ratio`. regnet_y_400mf is d1w48g8b1-d3w104g8b1-d6w208g8b1-d6w440g8b1. A
custom table takes precedence over w0, wa, wm, blocks, group_width, bottleneck_ratio and
rounding (the analysis says so in its notes). Widths go up to 8192: RegNetY-128GF's last
stage is 7392 wide.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, num_classes, resolution
from archlib.core.knobs import stages as stages_knob
from archlib.core.registry import Family, register
from archlib.core.scaling import make_divisible
from archlib.core.stages import Field, Grammar, StageTable, check_resolution, stage_groups
from archlib.errors import ArchlibError

QUANT = 8  # every block width is a multiple of 8
STEM = 32


@dataclass(frozen=True)
class Stage:
    """One stage: the `stages` keys."""

    d: int  # blocks
    w: int  # output width of each block
    g: int  # group width, after the compatibility adjustment
    b: float = 1.0  # bottleneck ratio: w / bottleneck width (the paper's b; pycls's bot_mul is 1 / b)

    @property
    def w_b(self) -> int:
        """The bottleneck width w / b."""
        return int(round(self.w / self.b))


def check_row(i: int, st: Stage) -> None:
    """The group conv needs the bottleneck width w / b to be a whole multiple of the group width g."""
    exact = st.w / st.b
    if abs(exact - st.w_b) > 1e-9 * exact or st.w_b % st.g:
        raise ArchlibError(f"stages row {i}, field w: w{st.w} is not allowed; w must be divisible by g x b = "
                           f"{st.g} x {st.b:g} (the bottleneck width w / b must be a whole multiple of the group "
                           f"width g).")


GRAMMAR = Grammar((Field("d", "blocks", 1, 32), Field("w", "width", 1, 8192), Field("g", "group width", 1, 4096),
                   Field("b", "bottleneck ratio: w / bottleneck width", 0.25, 4, integer=False)),
                  Stage, check=check_row)


def block_widths(w0: int, wa: float, wm: float, d: int) -> list[int]:
    """Per-block widths of the quantized linear rule (multiples of 8)."""
    out = []
    for j in range(d):
        s = round(math.log((w0 + wa * j) / w0) / math.log(wm))
        out.append(round(w0 * wm ** s / QUANT) * QUANT)
    return out


def snap(v: int, m: int, rule: str) -> int:
    """`v` rounded to a multiple of `m` by pycls's or torchvision's rule."""
    if rule == "pycls":
        return max(m, int(round(v / m) * m))
    return make_divisible(v, m)


def stages(cfg: Mapping[str, Any]) -> list[Stage]:
    """Stage depths, widths and group widths of w0, wa, wm and blocks, with widths made compatible
    with the groups (the model's own table)."""
    ws = block_widths(cfg["w0"], cfg["wa"], cfg["wm"], cfg["blocks"])
    runs: list[list[int]] = []
    for w in ws:
        if runs and runs[-1][0] == w:
            runs[-1][1] += 1
        else:
            runs.append([w, 1])
    b = cfg["bottleneck_ratio"]
    out = []
    for w, d in runs:
        v = int(max(1, w * b))
        g = min(cfg["group_width"], v)
        m = math.lcm(g, int(b)) if b > 1 else g  # keeps w * b a multiple of g for integer b
        out.append(Stage(d, int(snap(v, m, cfg["rounding"]) / b), g, float(f"{1 / b:.12g}")))
    return out


def res_bottleneck(b: IRBuilder, x: str, w_out: int, stride: int, w_b: int, g: int, se_ch: int) -> str:
    """ReLU(shortcut + c(SE(b(a(x))))): 1x1, 3x3 group conv, [SE], linear 1x1; 1x1 projection if needed."""
    w_in = b.shape(x)[0]
    short = x
    if w_in != w_out or stride != 1:
        short = b.conv_bn_act("proj", x, w_out, 1, stride=stride, act=None)
    y = b.conv_bn_act("a", x, w_b, 1)
    y = b.conv_bn_act("b", y, w_b, 3, stride=stride, groups=w_b // g)
    if se_ch:
        y = b.squeeze_excite("se", y, se_ch, act="relu")
    y = b.conv_bn_act("c", y, w_out, 1, act=None)
    return b.act("act", b.add("add", short, y), "relu")


def check(cfg: Mapping[str, Any]) -> None:
    """Constraints the knob ranges cannot say: w0 a multiple of 8, b an integer or 1/integer."""
    if cfg["w0"] % QUANT:
        raise ArchlibError(f"w0={cfg['w0']} is not allowed: w0 must be a multiple of {QUANT} in [8, 512].")
    b = cfg["bottleneck_ratio"]
    if not (float(b).is_integer() or float(1 / b).is_integer()):
        raise ArchlibError(f"bottleneck_ratio={b:g} is not allowed: bottleneck_ratio must be an integer "
                           f"(1, 2, 3, 4) or one over an integer (0.5, 0.25) in [0.25, 4].")


def own_table(cfg: Mapping[str, Any]) -> tuple[Stage, ...]:
    """The table w0, wa, wm, blocks, group_width, bottleneck_ratio and rounding give."""
    check(cfg)
    return tuple(stages(cfg))


STAGES = StageTable(GRAMMAR, own_table, stage_groups,
                    overrides=("w0", "wa", "wm", "blocks", "group_width", "bottleneck_ratio", "rounding"))


def lower(cfg: Mapping[str, Any]) -> IR:
    rows = STAGES.rows(cfg)
    check_resolution(cfg["resolution"], [(i, "", 2) for i in range(1, len(rows) + 1)])
    b = IRBuilder((3, cfg["resolution"], cfg["resolution"]))
    x = b.conv_bn_act("stem", b.input, STEM, 3, stride=2)
    for i, st in enumerate(rows, 1):
        for j in range(st.d):
            with b.scope(f"s{i}", f"b{j + 1}"):
                se_ch = max(1, int(round(cfg["se_ratio"] * b.shape(x)[0]))) if cfg["se_ratio"] else 0
                x = res_bottleneck(b, x, st.w, 2 if j == 0 else 1, st.w_b, st.g, se_ch)
    with b.scope("head"):
        x = b.flatten("flatten", b.adaptive_avgpool("pool", x, 1))
        b.linear("fc", x, cfg["num_classes"])
    return b.finish()


def knobs(se_ratio: float) -> tuple[Knob, ...]:
    """The RegNet knob schema (RegNet-200MF defaults), with SE off (X) or on (Y)."""
    return (
        Knob("w0", "int", 24, "initial width w0 of the linear width rule (a multiple of 8)", lo=8, hi=512, step=8),
        Knob("wa", "float", 36.44, "slope wa: width added per block before quantization", lo=0.0, hi=256.0, step=0.01),
        Knob("wm", "float", 2.49, "width multiplier wm between stages (log-space quantization step)",
             lo=1.5, hi=3.0, step=0.01),
        Knob("blocks", "int", 13, "depth d: total number of blocks", lo=1, hi=64, step=1),
        Knob("group_width", "int", 8, "channels per group of the 3x3 group conv", lo=1, hi=512, step=1),
        Knob("bottleneck_ratio", "float", 1.0, "bottleneck width / stage width (integer or 1/integer)",
             lo=0.25, hi=4.0, step=0.25),
        Knob("se_ratio", "float", se_ratio, "SE squeeze width / block input width (0: no SE, RegNetX)",
             lo=0.0, hi=0.5, step=0.05),
        Knob("rounding", "choice", "pycls", "bottleneck width to group width: pycls (ties to even) or "
             "torchvision (ties up, at most 10% below)", choices=("pycls", "torchvision")),
        resolution(224, 32, 1024),
        num_classes(),
        stages_knob(GRAMMAR, "one row per stage, each starting with a stride-2 block; it takes precedence over "
                    "w0, wa, wm, blocks, group_width, bottleneck_ratio and rounding"),
    )


PAPER = "Radosavovic et al. 2020, Designing Network Design Spaces, arXiv:2003.13678"
REGNET_X = Family("RegNetX", knobs(0.0), lower, paper=PAPER, stages=STAGES,
                  description="Quantized-linear widths and depths; ResNeXt bottleneck blocks, no SE.")
REGNET_Y = Family("RegNetY", knobs(0.25), lower, paper=PAPER, stages=STAGES,
                  description="RegNetX with squeeze-and-excitation (se_ratio 0.25 of the block input).")


@dataclass(frozen=True)
class Preset:
    mf: str  # model size tag: 200mf ... 32gf
    w0: int
    wa: float
    wm: float
    d: int
    g: int


# pycls model zoo (configs/dds_baselines/regnetx, regnety): RegNetX then RegNetY
PYCLS_X = (Preset("002", 24, 36.44, 2.49, 13, 8), Preset("004", 24, 24.48, 2.54, 22, 16),
           Preset("006", 48, 36.97, 2.24, 16, 24), Preset("008", 56, 35.73, 2.28, 16, 16),
           Preset("016", 80, 34.01, 2.25, 18, 24), Preset("032", 88, 26.31, 2.25, 25, 48),
           Preset("040", 96, 38.65, 2.43, 23, 40), Preset("064", 184, 60.83, 2.07, 17, 56),
           Preset("080", 80, 49.56, 2.88, 23, 120), Preset("120", 168, 73.36, 2.37, 19, 112),
           Preset("160", 216, 55.59, 2.1, 22, 128), Preset("320", 320, 69.86, 2.0, 23, 168))
PYCLS_Y = (Preset("002", 24, 36.44, 2.49, 13, 8), Preset("004", 48, 27.89, 2.09, 16, 8),
           Preset("006", 48, 32.54, 2.32, 15, 16), Preset("008", 56, 38.84, 2.4, 14, 16),
           Preset("016", 48, 20.71, 2.65, 27, 24), Preset("032", 80, 42.63, 2.66, 21, 24),
           Preset("040", 96, 31.41, 2.24, 22, 64), Preset("064", 112, 33.22, 2.27, 25, 72),
           Preset("080", 192, 76.82, 2.19, 17, 56), Preset("120", 168, 73.36, 2.37, 19, 112),
           Preset("160", 200, 106.23, 2.48, 18, 112), Preset("320", 232, 115.89, 2.53, 20, 232))
# torchvision builders: the pycls parameters, plus RegNetY-128GF (SWAG)
TV_X = {"400mf": "004", "800mf": "008", "1_6gf": "016", "3_2gf": "032", "8gf": "080", "16gf": "160", "32gf": "320"}
TV_Y = {**TV_X, "128gf": "1280"}
Y_128GF = Preset("1280", 456, 160.83, 2.52, 27, 264)


def _register(family: Family, name: str, p: Preset, rounding: str, what: str) -> None:
    register(family, name, description=f"{what}; {family.description}", w0=p.w0, wa=p.wa, wm=p.wm,
             blocks=p.d, group_width=p.g, rounding=rounding)


for _fam, _x, _pycls, _tv in ((REGNET_X, "x", PYCLS_X, TV_X), (REGNET_Y, "y", PYCLS_Y, TV_Y)):
    _by_tag = {p.mf: p for p in (*_pycls, Y_128GF)}
    for _p in _pycls:
        _register(_fam, f"regnet{_x}_{_p.mf}", _p, "pycls", f"pycls model zoo RegNet{_x.upper()}")
    for _size, _tag in _tv.items():
        _register(_fam, f"regnet_{_x}_{_size}", _by_tag[_tag], "torchvision", "torchvision builder")
