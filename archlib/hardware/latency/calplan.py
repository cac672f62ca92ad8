"""What calibration measures: a fixed, seeded plan of single ops covering every latency class.

Shapes are drawn (log-uniformly, from a seeded generator) across the ranges the model
families use: convolutions across kernel 1-11, stride 1-2, groups from 1 to depthwise,
3 to 2048 channels and 1 to 320 pixels; linear layers from a classifier on a vector to
ViT's token GEMMs and VGG's 25088 x 4096; attention up to 1000 tokens; every activation,
BN, LayerNorm, pools, adds, SE's broadcast scale, concat, shuffle and the views. Each
op's work is drawn first and its spatial size derived from it, so no single call takes
more than a few tens of milliseconds. A share of the elementwise, depthwise and 1x1 samples
is drawn on feature maps around and past the allocator's mmap threshold (32 MiB:
archlib.hardware.allocator), where every pass maps and faults its output afresh, up to
the expanded maps of EfficientNet-B7 at 600 px (192 x 300 x 300): without them the
`big_bytes` weights rested on one or two samples and B7 was predicted 23% fast. No op is taken from a registered model: every
model is held out of the fit. The order interleaves the classes so that any prefix of
the plan (a small budget) still covers all of them.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archlib.core.attention import default_features, favor_attention, softmax_attention
from archlib.core.cost import op_cost
from archlib.core.ir import Attrs, IRBuilder, Op
from archlib.hardware.latency.latmodel import CLASSES, GEMM_MAX_INPUT

PLAN_VERSION = 3


@dataclass(frozen=True)
class Sample:
    """One planned micro-benchmark: an op of `cls` run on `batch` samples."""

    key: str
    cls: str
    op: Op
    batch: int

    def as_json(self) -> dict[str, Any]:
        return op_json(self.op, self.batch)


def op_json(op: Op, batch: int) -> dict[str, Any]:
    """An op as stored with its measurement (enough to rebuild it and its features)."""
    return {"kind": op.kind, "in_shapes": [list(s) for s in op.in_shapes], "out_shape": list(op.out_shape),
            "attrs": {k: list(v) if isinstance(v, tuple) else v for k, v in op.attrs.items()}, "batch": batch}


def op_from_json(d: dict[str, Any]) -> tuple[Op, int]:
    """The (op, batch) `op_json` wrote."""
    attrs = Attrs({k: tuple(v) if isinstance(v, list) else v for k, v in d["attrs"].items()})
    ins = tuple(tuple(s) for s in d["in_shapes"])
    return Op("op", d["kind"], tuple(f"in{i}" for i in range(len(ins))), ins, tuple(d["out_shape"]), attrs), d["batch"]


# -- drawing -----------------------------------------------------------------
def _logu(r: random.Random, lo: float, hi: float) -> float:
    return math.exp(r.uniform(math.log(lo), math.log(hi)))


def _ch(r: random.Random, lo: int, hi: int) -> int:
    """Channels: usually a multiple of 8 (as the families round them), sometimes not (24, 58, 116...)."""
    c = _logu(r, lo, hi)
    return max(lo, int(round(c / 8)) * 8) if r.random() < 0.7 else max(lo, int(round(c)))


def _side(work: float, per_pixel: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, int(round(math.sqrt(work / per_pixel)))))


def _op(kind: str, ins: list[tuple[int, ...]], out_shape: tuple[int, ...], **attrs: Any) -> Op:
    return Op("op", kind, tuple(f"in{i}" for i in range(len(ins))), tuple(ins), tuple(out_shape), Attrs(attrs))


def _conv(cin: int, side: int, cout: int, k: int, *, stride: int = 1, groups: int = 1, bias: bool = False) -> Op:
    b = IRBuilder((cin, side, side))
    b.conv("op", b.input, cout, k, stride=stride, groups=groups, bias=bias)
    return b.finish().ops[-1]


def _conv_dense(r: random.Random) -> Op:
    if r.random() < 0.3:  # a small input: torch's own im2col + GEMM path at batch 1 (latmodel.conv_path)
        side = r.randint(3, 14)
        cin = max(3, min(_ch(r, 8, 1024), GEMM_MAX_INPUT // (side * side)))
        return _conv(cin, side, _ch(r, 8, 1024), 3, stride=2 if r.random() < 0.2 else 1)
    cin = 3 if r.random() < 0.2 else _ch(r, 8, 1024)
    cout = _ch(r, 8, 1024)
    k = r.choice((3, 3, 3, 3, 5, 7) + ((7, 11) if cin == 3 else ()))
    s = 2 if r.random() < 0.35 else 1
    side = _side(_logu(r, 3e5, 1.2e9) * s * s, 2 * cin * cout * k * k, k, 320)
    return _conv(cin, side, cout, k, stride=s)


def _conv_1x1(r: random.Random) -> Op:
    if r.random() < 0.15:  # squeeze-and-excite's 1x1 convs on a 1x1 map (squeeze or expand), with bias
        cin = _ch(r, 8, 3840)
        cout = min(3840, max(8, int(cin * r.choice((0.25, 0.0625, 4.0, 16.0)))))
        return _conv(cin, 1, cout, 1, bias=True)
    if r.random() < BIG_SHARE / 2:  # an expansion on a large map (EfficientNet-B6/B7's first stages: 32 -> 192)
        cin = _ch(r, 16, 48)
        cout = _ch(r, 96, 240)
        side = max(1, min(600, int(round(math.sqrt(_logu(r, BIG_ELEMS[0], BIG_ELEMS[1]) / cout)))))
        return _conv(cin, side, cout, 1)
    cin, cout = _ch(r, 8, 2048), _ch(r, 8, 2048)
    s = 2 if r.random() < 0.25 else 1
    return _conv(cin, _side(_logu(r, 1e5, 1.2e9) * s * s, 2 * cin * cout, 1, 224), cout, 1, stride=s)


#: elements of a large feature map: from just past the mmap threshold (32 MiB in float32) to 1.3 x B7's largest
BIG_ELEMS = (8.5e6, 2.2e7)


def _big_chw(r: random.Random) -> tuple[int, int, int]:
    """A large feature map (BIG_ELEMS elements, 34 to 88 MiB in float32)."""
    c = _ch(r, 32, 256)
    side = max(1, min(600, int(round(math.sqrt(_logu(r, *BIG_ELEMS) / c)))))
    return c, side, side


#: the share of elementwise, depthwise and 1x1 samples drawn on a large map (_big_chw)
BIG_SHARE = 0.15


def _conv_dw(r: random.Random) -> Op:
    if r.random() < BIG_SHARE / 2:  # a large map (EfficientNet-B6/B7's first stages); 1-3 s each to time
        c, side, _ = _big_chw(r)
        return _conv(c, side, c, r.choice((3, 3, 3, 5)), stride=2 if r.random() < 0.3 else 1, groups=c)
    c = _ch(r, 8, 2048)
    k = r.choice((3, 3, 3, 5, 5, 7))
    s = 2 if r.random() < 0.25 else 1
    return _conv(c, _side(_logu(r, 1e4, 1.5e8) * s * s, 2 * c * k * k, k, 230), c, k, stride=s, groups=c)


def _conv_group(r: random.Random) -> Op:
    if r.random() < 0.35:  # ShuffleNet V1's 1x1 group convolutions
        g = r.choice((2, 3, 4, 8))
        cin, cout = g * max(2, _ch(r, 24, 1536) // g), g * max(2, _ch(r, 24, 1536) // g)
        return _conv(cin, _side(_logu(r, 1e5, 4e8), 2 * cin * cout / g, 1, 160), cout, 1, groups=g)
    gw = r.choice((8, 16, 24, 32, 40, 48, 56, 64, 112, 128, 232))
    g = max(2, int(_logu(r, 2, max(3, 3712 // gw))))
    c = g * gw
    s = 2 if r.random() < 0.25 else 1
    return _conv(c, _side(_logu(r, 1e5, 8e8) * s * s, 2 * c * gw * 9, 3, 160), c, 3, stride=s, groups=g)


def _linear(r: random.Random) -> Op:
    if r.random() < 0.12:  # VGG's and AlexNet's classifiers: weight-bound GEMVs of up to 400 MB
        fin, fout = r.choice(((25088, 4096), (4096, 4096), (9216, 4096), (4096, 1000)))
        return _op("linear", [(fin,)], (fout,), in_f=fin, out_f=fout, bias=True)
    fin, fout = _ch(r, 16, 4096), _ch(r, 16, 4096)
    if r.random() < 0.45:  # a classifier or an MLP on one vector
        return _op("linear", [(fin,)], (fout,), in_f=fin, out_f=fout, bias=True)
    n = max(1, min(1100, int(_logu(r, 2e6, 2e9) / (2 * fin * fout))))
    return _op("linear", [(n, fin)], (n, fout), in_f=fin, out_f=fout, bias=True)


def _matmul(r: random.Random) -> Op:
    n, k, m = _ch(r, 8, 1024), _ch(r, 8, 1024), _ch(r, 8, 1024)
    return _op("matmul", [(n, k), (k, m)], (n, m), inner=k)


def _heads(r: random.Random) -> tuple[int, int]:
    h, dh = r.choice((1, 2, 3, 4, 6, 8, 12, 16)), r.choice((32, 64, 64))
    return h, h * dh


def _attention(r: random.Random) -> Op:
    h, d = _heads(r)
    n = max(4, min(int(math.sqrt(3e9 / (4 * d))), int(_logu(r, 4, 1100))))
    b = IRBuilder((n, 3 * d))
    softmax_attention(b, "op", b.input, h)
    return b.finish().ops[-1]


def _favor(r: random.Random) -> Op:
    h, d = _heads(r)
    m = default_features(d // h) if r.random() < 0.5 else int(_logu(r, 16, 400))
    n = max(4, min(int(2e9 / (4 * m * d)), int(_logu(r, 8, 4000))))
    b = IRBuilder((n, 3 * d))
    favor_attention(b, "op", b.input, h, m)
    return b.finish().ops[-1]


def _chw(r: random.Random, lo: float = 500, hi: float = 1.5e7) -> tuple[int, int, int]:
    c = _ch(r, 8, 2048)
    side = _side(_logu(r, lo, hi), c, 1, 300)
    return c, side, side


def _tokens(r: random.Random) -> tuple[int, int]:
    return max(1, int(_logu(r, 1, 1100))), _ch(r, 64, 1536)


def _elementwise(kind: str, **attrs: Any) -> Callable[[random.Random], Op]:
    def draw(r: random.Random) -> Op:
        x = _big_chw(r) if r.random() < BIG_SHARE else _chw(r)
        extra = {"channels": x[0], "eps": 1e-5, "momentum": 0.1} if kind == "bn2d" else {}
        return _op(kind, [x] * (2 if kind == "add" else 1), x, **attrs, **extra)
    return draw


def _mul(r: random.Random) -> Op:
    x = _big_chw(r) if r.random() < BIG_SHARE else _chw(r)
    scale = (x[0], 1, 1) if r.random() < 0.8 else x  # SE's broadcast scale, or a same-shape product
    return _op("mul", [x, scale], x)


def _pool(kind: str) -> Callable[[random.Random], Op]:
    def draw(r: random.Random) -> Op:
        c, side, _ = _chw(r, 2e3, 1.5e7)
        b = IRBuilder((c, max(side, 3), max(side, 3)))
        k, s = r.choice(((3, 2), (3, 2), (2, 2), (3, 1)))
        b._pool(kind, "op", b.input, k, s, 1 if (k == 3 and r.random() < 0.5) else 0, r.random() < 0.3)
        return b.finish().ops[-1]
    return draw


def _adaptive(r: random.Random) -> Op:
    c, h, w = _chw(r)
    if r.random() < 0.3:  # AlexNet's and VGG's pool to 6 x 6 or 7 x 7 (often from a map of that size)
        k = r.choice((6, 7))
        side = r.choice((k, k, 2 * k, max(k, h)))
        return _op("adaptive_avgpool2d", [(c, side, side)], (c, k, k), out=(k, k))
    return _op("adaptive_avgpool2d", [(c, h, w)], (c, 1, 1), out=(1, 1))


def _layernorm(r: random.Random) -> Op:
    n, d = _tokens(r)
    return _op("layernorm", [(n, d)], (n, d), dim=d, eps=1e-6)


def _softmax(r: random.Random) -> Op:
    n, d = _tokens(r)
    return _op("softmax", [(n, d)], (n, d), dim=-1)


def _concat(r: random.Random) -> Op:
    chans = [_ch(r, 8, 512) for _ in range(r.choice((2, 2, 3, 4)))]
    side = _side(_logu(r, 500, 1.5e7), sum(chans), 1, 300)
    parts = [(c, side, side) for c in chans]
    return _op("concat", parts, (sum(chans), side, side))


def _shuffle(r: random.Random) -> Op:
    g = r.choice((2, 2, 3, 4, 8))
    c, side, _ = _chw(r)
    c = g * max(1, c // g)
    return _op("channel_shuffle", [(c, side, side)], (c, side, side), groups=g)


def _cls_token(r: random.Random) -> Op:
    n, d = _tokens(r)
    return _op("cls_token", [(n, d)], (n + 1, d), dim=d)


def _pos_embed(r: random.Random) -> Op:
    n, d = _tokens(r)
    return _op("pos_embed", [(n, d)], (n, d), tokens=n, dim=d)


def _view(r: random.Random) -> Op:
    c, h, w = _chw(r)
    kind = r.choice(("flatten", "dropout", "slice", "to_tokens"))
    if kind == "flatten":
        return _op("flatten", [(c, h, w)], (c * h * w,))
    if kind == "dropout":
        return _op("dropout", [(c, h, w)], (c, h, w), p=0.2)
    if kind == "slice":
        return _op("slice", [(c, h, w)], (c // 2 or 1, h, w), start=0, stop=c // 2 or 1)
    return _op("to_tokens", [(c, h, w)], (h * w, c))


#: class -> (how many samples the full plan has, the drawing function)
DRAW: dict[str, tuple[int, Callable[[random.Random], Op]]] = {
    "conv_dense": (130, _conv_dense), "conv_1x1": (130, _conv_1x1), "conv_dw": (120, _conv_dw),
    "conv_group": (70, _conv_group), "linear": (70, _linear), "matmul": (12, _matmul),
    "attention": (25, _attention), "favor": (20, _favor),
    **{f"act_{fn}": (16, _elementwise("act", fn=fn))
       for fn in ("relu", "relu6", "hardswish", "hardsigmoid", "sigmoid", "silu", "gelu")},
    "bn2d": (30, _elementwise("bn2d")), "add": (24, _elementwise("add")), "mul": (30, _mul),
    "layernorm": (12, _layernorm), "softmax": (8, _softmax), "maxpool2d": (20, _pool("maxpool2d")),
    "avgpool2d": (8, _pool("avgpool2d")), "adaptive_avgpool2d": (20, _adaptive), "concat": (12, _concat),
    "channel_shuffle": (12, _shuffle), "cls_token": (6, _cls_token), "pos_embed": (6, _pos_embed),
    "view": (10, _view),
}


#: a GPU's batches: a batch of 1 leaves most of it idle, so its samples spread over the batches it is run at
GPU_BATCHES = (1, 4, 16, 64)


def _gpu_batch(r: random.Random, macs: int, out_elems: int) -> int:
    """A batch for a GPU sample: drawn from GPU_BATCHES, the largest that keeps the op within bounds."""
    want = r.choice(GPU_BATCHES)
    return max(b for b in GPU_BATCHES if b == 1 or (b <= want and macs * b <= 4e11 and out_elems * b <= 2e8))


def _samples(cls: str, n: int, draw: Callable[[random.Random], Op], seed: int, device: str = "cpu") -> list[Sample]:
    r = random.Random(f"{seed}/{cls}")
    out = []
    for j in range(n):
        op = draw(r)
        cost = op_cost(op)
        small = cost.macs < 1e8 and cost.out_elems < 2e6  # a batch of 8 must still take milliseconds, not seconds
        batch = r.choice((2, 4, 8)) if r.random() < 0.1 and small else 1
        if device != "cpu":  # its own generator: the ops drawn are the CPU plan's
            batch = _gpu_batch(random.Random(f"{seed}/{cls}/{j}/batch"), cost.macs, cost.out_elems)
        spec = json.dumps(op_json(op, batch), sort_keys=True)
        key = f"v{PLAN_VERSION}/{cls}/{j}/{hashlib.sha1(spec.encode()).hexdigest()[:8]}"
        out.append(Sample(key, cls, op, batch))
    return out


def head_size() -> int:
    """How many samples open the plan to give every class enough to be fitted."""
    return sum(min(len(CLASSES[c]) + 2, n) for c, (n, _) in DRAW.items())


def plan(*, seed: int = 0, device: str = "cpu") -> list[Sample]:
    """The full calibration plan: first enough samples of every class to fit it, then the
    rest interleaved in proportion to each class's share. On a GPU the same ops at GPU_BATCHES."""
    per_class = {c: _samples(c, n, draw, seed, device) for c, (n, draw) in DRAW.items()}
    first = {c: len(CLASSES[c]) + 2 for c in per_class}
    head = [s for j in range(max(first.values())) for c, ss in per_class.items() if j < min(first[c], len(ss))
            for s in [ss[j]]]
    rest = sorted(((j / len(ss), i, s) for i, (c, ss) in enumerate(per_class.items())
                   for j, s in enumerate(ss) if j >= first[c]), key=lambda t: (t[0], t[1]))
    return head + [s for _, _, s in rest]
