"""Independent check against the real torchvision/timm modules, where they are installed.

torchvision cannot be installed beside torch 2.13 here, so this runs on a machine that has
it (the lent GPU machine): for every registered model named like a torchvision builder (and
the timm DeiT/ViT names), it builds the reference module without weights on the meta device
and compares parameter counts and FlopCounterMode FLOPs / 2 with archlib's analysis at several
resolutions. Then random stage tables (benchmarks/stage_tables.py): each against the module
archlib builds and, where torchvision's classes can express it, against those built from the
same table. Prints one line per comparison and a summary; exits 1 on any mismatch.
Usage: python benchmarks/device_check.py [--resolutions 224,160,288] [--tables 20]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import archlib


def reference_module(name: str):
    try:
        import torchvision

        if name in torchvision.models.list_models():
            extra = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
            return torchvision.models.get_model(name, weights=None, **extra), "torchvision"
    except ImportError:
        pass
    try:
        import timm

        if name in timm.list_models():
            return timm.create_model(name, pretrained=False), "timm"
    except ImportError:
        pass
    return None, ""


def macs_of(module: torch.nn.Module, res: int) -> int:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(torch.empty(1, 3, res, res, device="meta"))
    return counter.get_total_flops() // 2


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resolutions", default="224,160,288")
    ap.add_argument("--tables", type=int, default=20, help="random stage tables per table-driven model")
    args = ap.parse_args()
    resolutions = [int(r) for r in args.resolutions.split(",")]
    bad = checked = 0
    for name in archlib.list_models():
        ref, lib = reference_module(name)  # built on CPU: some builders compute widths with tensors
        if ref is None:
            continue
        ref = ref.to("meta").eval()
        ours = archlib.analyze(name)
        p_ref = sum(p.numel() for p in ref.parameters())
        ok = p_ref == ours.totals()["params"]
        print(f"{'OK ' if ok else 'BAD'} {name:<28} {lib:<11} params ours {ours.totals()['params']:,} ref {p_ref:,}")
        bad += not ok
        checked += 1
        knob = {k.name: k for k in archlib.get_model(name).knobs}.get("resolution")
        for res in resolutions:
            if knob is None or not (knob.lo <= res <= knob.hi):
                continue
            try:
                m_ref = macs_of(ref, res)
            except Exception as e:  # noqa: BLE001  (the reference refuses this size, e.g. ViT's fixed grid)
                print(f"    {name} at {res}: reference module refused ({type(e).__name__})")
                continue
            m_ours = archlib.analyze(name, resolution=res).totals()["macs"]
            ok = m_ref == m_ours
            bad += not ok
            checked += 1
            print(f"{'OK ' if ok else 'BAD'} {name:<28} {res:>4}px MACs ours {m_ours:,} ref {m_ref:,}")
    print(f"{checked} comparisons, {bad} mismatches (torch {torch.__version__})")
    tables = 0
    if args.tables:  # the sibling script, in its own process (it imports its torchvision helper by name)
        tables = subprocess.run([sys.executable, str(Path(__file__).with_name("stage_tables.py")), "--tables",
                                 str(args.tables)], check=False).returncode
    return 1 if bad or tables else 0


if __name__ == "__main__":
    sys.exit(main())
