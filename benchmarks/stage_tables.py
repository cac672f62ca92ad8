"""Random stage tables: archlib's analysis against the module it builds, and against torchvision.

For every table-driven family, N random valid tables (seeded; fields in random order) are
analysed and compared with the module archlib builds from them on the meta device:
parameters and buffers == sum(numel), MACs == FlopCounterMode FLOPs / 2 in every module.
Where torchvision is importable, each table its classes can express is also built with
them, and parameters and MACs must be equal:
  EfficientNet(V2): EfficientNet([MBConvConfig | FusedMBConvConfig per row], last_channel=...),
                    row inputs = the previous row's c (row 1: the stem: 32, or V2's first c)
  MobileNetV2:      MobileNetV2(width_mult, inverted_residual_setting=[[t, c, n, s], ...]) (k3, no SE)
  MobileNetV3:      MobileNetV3([InvertedResidualConfig(in, k, e, c, se, HS|RE, s, 1, width)], last_channel)
  RegNet:           RegNet(BlockParams(depths, widths, group_widths, [1 / b], [2, ...], se_ratio))
  ShuffleNetV2:     ShuffleNetV2([n1, n2, n3], [24, c1, c2, c3, head]) (three rows)
Prints one line per family and a summary (tables, rows, mismatches); exits 1 on a mismatch.
Usage: python benchmarks/stage_tables.py [--tables 40] [--seed 0] [--resolution 160]
"""
from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

import archlib
from archlib.core import registry
from archlib.views.crosscheck import CrossCheck, flopcounter_macs
from archlib.views.torchmodel import build_module


def _shuffle(fields: dict[str, Any], rng: random.Random) -> str:
    items = list(fields.items())
    rng.shuffle(items)
    return "".join(f"{k}{v}" for k, v in items)


def _stride(rng: random.Random, used: list[int], cap: int = 4) -> int:
    s = rng.choice((1, 2)) if used[0] < cap else 1
    used[0] += s == 2
    return s


def mbconv_table(rng: random.Random, *, fused: bool, kernels=(1, 3, 5, 7), se_rate: float = 0.1) -> str:
    used, rows = [0], []
    for _ in range(rng.randint(1, 8)):
        row = {"t": rng.randint(1, 8), "k": rng.choice(kernels), "s": _stride(rng, used),
               "c": rng.randint(8, 320), "n": rng.randint(1, 4)}
        if rng.random() < se_rate:
            row["se"] = rng.choice((0, 0.25, 0.125, 0.5))
        if fused and rng.random() < 0.4:
            row["f"] = 1
        rows.append(_shuffle(row, rng))
    return "-".join(rows)


def v3_table(rng: random.Random) -> str:
    used = [0]
    return "-".join(_shuffle({"k": rng.choice((3, 5, 7)), "e": rng.randint(8, 960), "c": rng.randint(8, 160),
                              "se": rng.randint(0, 1), "hs": rng.randint(0, 1), "s": _stride(rng, used)}, rng)
                    for _ in range(rng.randint(1, 15)))


def regnet_table(rng: random.Random) -> str:
    rows = []
    for _ in range(rng.randint(1, 5)):
        g, b = rng.choice((8, 16, 24, 48)), rng.choice((1, 1, 2, 0.5))
        w_b = g * rng.randint(1, 12) * (2 if b == 0.5 else 1)
        rows.append(f"d{rng.randint(1, 4)}w{int(w_b * b)}g{g}b{b:g}")
    return "-".join(rows)


def shufflenet_table(rng: random.Random) -> str:
    return "-".join(f"n{rng.randint(1, 6)}c{2 * rng.randint(4, 300)}" for _ in range(rng.choice((1, 2, 3, 3, 4))))


#: model -> (random table, random other knobs)
FAMILIES: dict[str, tuple[Callable, Callable]] = {
    "efficientnet_b0": (lambda r: mbconv_table(r, fused=True), lambda r: {"width": r.choice((1.0, 0.75, 1.25)),
                                                                        "depth": r.choice((1.0, 1.3))}),
    "efficientnet_v2_s": (lambda r: mbconv_table(r, fused=True), lambda r: {"depth": r.choice((1.0, 0.6))}),
    "mobilenet_v2": (lambda r: mbconv_table(r, fused=False, kernels=(3,) if r.random() < 0.6 else (3, 5), se_rate=0.05),
                     lambda r: {"width": r.choice((1.0, 0.5, 1.4))}),
    "mnasnet_a1": (lambda r: mbconv_table(r, fused=False), lambda r: {"width": r.choice((1.0, 0.5))}),
    "mnasnet1_0": (lambda r: mbconv_table(r, fused=False), lambda r: {}),
    "mobilenet_v3_large": (v3_table, lambda r: {"width": r.choice((1.0, 0.75)), "scaling": "torchvision"}),
    "mobilenet_v3_small": (v3_table, lambda r: {"scaling": r.choice(("torchvision", "tf"))}),
    "regnet_y_400mf": (regnet_table, lambda r: {"se_ratio": r.choice((0.25, 0.25, 0.5))}),
    "regnet_x_400mf": (regnet_table, lambda r: {}),
    "shufflenet_v2_x1_0": (shufflenet_table, lambda r: {"width": r.choice((1.0, 2.0))}),
}


def module_mismatches(a) -> list[str]:
    """Params, buffers and per-module MACs of the analysis against its module built on meta."""
    with torch.device("meta"):
        m = build_module(a.ir)
    t, bad = a.totals(), []
    if sum(p.numel() for p in m.parameters()) != t["params"]:
        bad.append("params")
    if sum(b.numel() for b in m.buffers()) != t["buffers"]:
        bad.append("buffers")
    check = CrossCheck.of(a, flopcounter_macs(a.ir), {})  # FlopCounterMode's MACs per module, fvcore not taken
    bad += [f"MACs of {m or 'the model'}" for m in check.flopcounter_mismatches][:3]
    return bad


def tv_macs(module: torch.nn.Module, res: int) -> int:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(torch.empty(1, 3, res, res, device="meta"))
    return counter.get_total_flops() // 2


def check_table(name: str, text: str, extra: dict[str, Any], res: int) -> tuple[int, list[str], bool]:
    """(rows, problems, whether torchvision built it) for one table of model `name`."""
    import stage_tables_tv as tv  # torchvision's classes from a table (None where it cannot express it)

    a = archlib.analyze(name, stages=text, resolution=res, **extra)
    problems = module_mismatches(a)
    ref = tv.reference(name, a.config)
    if ref is not None:
        ref = ref.to("meta").eval()
        p_ref, m_ref = sum(p.numel() for p in ref.parameters()), tv_macs(ref, res)
        if (p_ref, m_ref) != (a.totals()["params"], a.totals()["macs"]):
            problems.append(f"torchvision params {p_ref:,} MACs {m_ref:,} vs ours {a.totals()['params']:,} "
                            f"{a.totals()['macs']:,}")
    rows = len(registry.get(name).family.stages.grammar.parse(a.config["stages"]))
    return rows, problems, ref is not None


def run(tables: int, seed: int = 0, res: int = 160) -> dict[str, int]:
    """Check `tables` random tables of every family; print a line per family; the totals."""
    import stage_tables_tv as tv

    totals = dict.fromkeys(("tables", "rows", "bad", "tv"), 0)
    for name, (table, knobs) in FAMILIES.items():
        rng = random.Random(f"{seed}:{name}")
        got = dict.fromkeys(totals, 0)
        for _ in range(tables):
            text, extra = table(rng), knobs(rng)
            rows, problems, by_tv = check_table(name, text, extra, res)
            got["tables"], got["rows"], got["tv"] = got["tables"] + 1, got["rows"] + rows, got["tv"] + by_tv
            if problems:
                got["bad"] += 1
                print(f"BAD {name} stages={text} {extra}: {'; '.join(problems)}")
        print(f"{'OK ' if not got['bad'] else 'BAD'} {name:<20} {got['tables']} tables, {got['rows']} rows, "
              f"{got['tv']} also built by torchvision{'' if tv.AVAILABLE else ' (not installed)'}: "
              f"{got['bad']} mismatches")
        totals = {k: totals[k] + got[k] for k in totals}
    print(f"{totals['tables']} stage tables ({totals['rows']} rows) at {res}px, {totals['tv']} of them also built "
          f"with torchvision's classes: {totals['bad']} mismatches (torch {torch.__version__}, torchvision "
          f"{tv.VERSION})")
    return totals


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=int, default=40, help="random tables per model")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resolution", type=int, default=160)
    args = ap.parse_args()
    return 1 if run(args.tables, args.seed, args.resolution)["bad"] else 0


if __name__ == "__main__":
    sys.exit(main())
