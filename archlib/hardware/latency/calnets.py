"""Whole networks a calibration times: random small networks that check it, and catalogue
networks that fit its two network-level factors.

Calibration networks (`nets`): a seeded series of small random networks built from the blocks
the families use (inverted residuals with SE, basic and bottleneck residuals with group
convolutions, ShuffleNet V2 units, transformer blocks with softmax or FAVOR+ attention) at
random widths, depths and resolutions; calibration reports how well the fitted per-op model
predicts them (archlib.hardware.latency.calibrate.validate). They are not fitted on: a correction
learnt from them made the registered models worse here (their convolutions are small enough
for weights and activations to stay in the cache, which a registered model's do not: fitted on
them, the ops' work came out x1.065, where registered networks want x0.95-1.0). None is a
registered model.

Catalogue networks (`catalogue`): registered models at seeded resolutions that neither a
registered model's default nor benchmarks/bench_predict.py's held-out configurations use
(CATALOGUE_SIDES, 8 more than a multiple of 32), up to CATALOGUE_MAX_MACS. A CPU calibration
times them whole and fits two factors on them (calibrate.network_factors): one for the ops'
work and one for their per-call costs, which in a network differ from an op timed alone
(the next op's code and data are not the ones a micro-benchmark's loop keeps warm). Each is
timed twice, minutes apart, and the faster kept (the host's neighbours come and go).
"""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass

import archlib
from archlib.core import attention as att
from archlib.core.analysis import Analysis
from archlib.core.blocks import inverted_residual
from archlib.core.ir import IRBuilder
from archlib.errors import ArchlibError
from archlib.families.vit import Block, encoder_block

NET_VERSION = 1
CATALOGUE_VERSION = 4  # 2: timed as a measurement times a model; 3: up to 3 GMACs; 4: timed twice
CATALOGUE_PREFIX = f"cat{CATALOGUE_VERSION}/"
#: catalogue networks' resolutions: 8 more than a multiple of 32, so no registered default and no held-out
#: configuration of benchmarks/bench_predict.py (multiples of 32) is among them
CATALOGUE_SIDES = (136, 168, 200, 232, 264)
#: a catalogue network does at most this many MACs (at most about 100 ms a pass at one thread here)
CATALOGUE_MAX_MACS = 3e9
ACTS = ("relu", "relu6", "silu", "hardswish")


@dataclass(frozen=True)
class Net:
    """The j-th (`index`) calibration network of `seed`, as an analysis."""

    key: str
    index: int
    seed: int
    analysis: Analysis


def _ch(r: random.Random, c: int) -> int:
    return max(8, int(round(c * r.uniform(0.6, 1.6) / 8)) * 8)


def _mbconv_stage(b: IRBuilder, r: random.Random, x: str, c: int) -> str:
    act, k, t = r.choice(ACTS), r.choice((3, 3, 5)), r.choice((1, 3, 4, 6))
    se = r.random() < 0.5
    for i in range(r.randint(1, 3)):
        with b.scope(f"b{i + 1}"):
            cin = b.shape(x)[0]
            x = inverted_residual(b, x, c, hidden=cin * t, kernel=k, stride=2 if i == 0 and r.random() < 0.6 else 1,
                                  act=act, se_ch=max(8, cin * t // 4) if se else 0,
                                  se_act="silu" if act == "silu" else "relu",
                                  se_gate="hardsigmoid" if act == "hardswish" else "sigmoid")
    return x


def _resnet_stage(b: IRBuilder, r: random.Random, x: str, c: int) -> str:
    group = r.random() < 0.5
    gw = r.choice((8, 16, 32, 64))
    for i in range(r.randint(1, 3)):
        with b.scope(f"b{i + 1}"):
            cin, stride = b.shape(x)[0], 2 if i == 0 and r.random() < 0.6 else 1
            if group:
                mid = max(gw, c // gw * gw)
                y = b.conv_bn_act("conv1", x, mid, 1)
                y = b.conv_bn_act("conv2", y, mid, 3, stride=stride, groups=mid // gw)
                y = b.conv_bn_act("conv3", y, c, 1, act=None)
            else:
                y = b.conv_bn_act("conv1", x, c, 3, stride=stride)
                y = b.conv_bn_act("conv2", y, c, 3, act=None)
            if stride != 1 or cin != c:
                x = b.conv_bn_act("down", x, c, 1, stride=stride, act=None)
            x = b.act("out", b.add("add", x, y), "relu")
    return x


def _shuffle_stage(b: IRBuilder, r: random.Random, x: str, c: int) -> str:
    half = max(8, c // 16 * 8)
    with b.scope("b1"):
        cin = b.shape(x)[0]
        left = b.conv_bn_act("left", x, cin, 3, stride=2, groups=cin, act=None)
        left = b.conv_bn_act("left_pw", left, half, 1)
        y = b.conv_bn_act("pw1", x, half, 1)
        y = b.conv_bn_act("dw", y, half, 3, stride=2, groups=half, act=None)
        y = b.conv_bn_act("pw2", y, half, 1)
        x = b.channel_shuffle("shuffle", b.concat("cat", [left, y]), 2)
    for i in range(r.randint(0, 2)):
        with b.scope(f"b{i + 2}"):
            keep = b.channel_slice("keep", x, 0, half)
            y = b.channel_slice("branch", x, half, 2 * half)
            y = b.conv_bn_act("pw1", y, half, 1)
            y = b.conv_bn_act("dw", y, half, 3, groups=half, act=None)
            y = b.conv_bn_act("pw2", y, half, 1)
            x = b.channel_shuffle("shuffle", b.concat("cat", [keep, y]), 2)
    return x


def _cnn(r: random.Random, b: IRBuilder) -> str:
    with b.scope("stem"):
        x = b.conv_bn_act("conv", b.input, _ch(r, 24), 3, stride=2, act=r.choice(ACTS))
    if r.random() < 0.3:
        x = b.maxpool("pool", x, 3, stride=2, padding=1)
    stage = r.choice((_mbconv_stage, _resnet_stage, _shuffle_stage))
    c = b.shape(x)[0]
    for s in range(r.randint(2, 4)):
        c = _ch(r, c * 1.6)
        with b.scope(f"s{s + 1}"):
            x = stage(b, r, x, c)
    with b.scope("head"):
        x = b.flatten("flat", b.adaptive_avgpool("pool", x))
        return b.linear("fc", x, r.choice((10, 100, 1000)))


def _vit(r: random.Random, b: IRBuilder) -> str:
    heads, dh = r.choice((2, 3, 4, 6)), r.choice((32, 64))
    dim = heads * dh
    patch = r.choice((8, 16, 16))
    with b.scope("stem"):
        x = att.to_tokens(b, "tokens", b.conv("patch", b.input, dim, patch, stride=patch, padding=0, bias=True))
        x = att.pos_embed(b, "pos", att.cls_token(b, "cls", x))
    softmax = r.random() < 0.6
    blk = Block(dim, heads, dim * r.choice((2, 4)), "softmax" if softmax else "performer",
                att.default_features(dh), "orthogonal", False)
    for i in range(r.randint(1, 3)):
        with b.scope("s1", f"b{i + 1}"):
            x = encoder_block(b, x, blk)
    with b.scope("head"):
        x = att.take_token(b, "cls", b.layernorm("ln", x))
        return b.linear("fc", x, 1000)


def net(j: int, *, seed: int = 0) -> Net:
    """The j-th random network of `seed` (a CNN, or one ViT in five), the same every time."""
    r = random.Random(f"{seed}/net/{j}")
    vit = r.random() < 0.2
    side = r.choice((64, 96, 128, 160, 192, 224)) if not vit else r.choice((64, 96, 128, 160))
    b = IRBuilder((3, side, side))
    (_vit if vit else _cnn)(r, b)
    return Net(f"net{NET_VERSION}/{seed}/{j}", j, seed, Analysis.of(f"calibration net {j}", {"side": side},
                                                                     b.finish()))


def nets(n: int, *, seed: int = 0, fits: Callable[[Analysis], bool] = lambda a: True) -> list[Net]:
    """`n` seeded random networks, each accepted by `fits` (a size bound)."""
    out: list[Net] = []
    j = 0
    while len(out) < n and j < 20 * n:
        candidate = net(j, seed=seed)
        j += 1
        if fits(candidate.analysis):
            out.append(candidate)
    return out


@dataclass(frozen=True)
class CatalogueNet:
    """A registered model at a resolution of CATALOGUE_SIDES, as an analysis; `timing` 1 or 2 (each is
    timed twice, minutes apart, and the faster timing kept: one disturbed by another process is slower)."""

    name: str
    resolution: int
    analysis: Analysis
    timing: int = 1

    @property
    def key(self) -> str:
        """The stored sample's key (CATALOGUE_PREFIX: a version timed otherwise is not read)."""
        return f"{CATALOGUE_PREFIX}{self.name}/{self.resolution}/{self.timing}"


def catalogue_net(name: str, resolution: int) -> CatalogueNet:
    """Registered model `name` at `resolution` (ArchlibError if it cannot be built there)."""
    return CatalogueNet(name, resolution, archlib.analyze(name, resolution=resolution))


def again(c: CatalogueNet) -> CatalogueNet:
    """The second timing of catalogue network `c`."""
    return dataclasses.replace(c, timing=2)


def catalogue(n: int, *, seed: int = 0, max_macs: float = CATALOGUE_MAX_MACS) -> list[CatalogueNet]:
    """`n` seeded catalogue networks: distinct registered models taken a family at a time (in a seeded
    order of families, each family's next model in a seeded order that fits), each at a seeded side of
    CATALOGUE_SIDES, of at most `max_macs`."""
    r = random.Random(f"{seed}/catalogue")
    by_family: dict[str, list[str]] = {}
    for m in sorted(archlib.list_models()):
        entry = archlib.get_model(m)
        if any(k.name == "resolution" for k in entry.knobs):
            by_family.setdefault(entry.family.name, []).append(m)
    for names in by_family.values():
        r.shuffle(names)
    families = sorted(by_family)
    r.shuffle(families)
    out: list[CatalogueNet] = []
    while len(out) < n and any(by_family.values()):
        for f in families:
            while by_family[f] and len(out) < n:
                try:
                    c = catalogue_net(by_family[f].pop(0), r.choice(CATALOGUE_SIDES))
                except ArchlibError:
                    continue
                if c.analysis.totals()["macs"] <= max_macs:
                    out.append(c)
                    break
    return out
