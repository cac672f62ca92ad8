"""Analysis speed and memory: archlib's analytic pass vs fvcore and FlopCounterMode (meta).

Runs the three side by side on one configuration (default EfficientNet-B7 at 600x600),
prints medians, ratios and the analysis's peak Python memory, and checks equal totals.
Usage: python benchmarks/bench_analysis.py [--model NAME] [--resolution N] [--repeats N]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
import warnings


def timed(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="efficientnet_b7")
    ap.add_argument("--resolution", type=int, default=600)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--counter-repeats", type=int, default=3)
    args = ap.parse_args()

    import archlib
    from archlib.core.analysis import Analysis

    knobs = {"resolution": args.resolution}
    entry = archlib.get_model(args.model)
    cfg = entry.config(**knobs)
    torch_loaded_before = "torch" in sys.modules

    def analyse_uncached() -> Analysis:
        return Analysis.of(args.model, cfg, entry.family.lower(cfg))  # lowering + full table, no cache

    a = analyse_uncached()
    ours_med, ours_all = timed(analyse_uncached, args.repeats)
    tracemalloc.start()
    analyse_uncached()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    torch_loaded_by_analysis = "torch" in sys.modules and not torch_loaded_before

    import torch
    from fvcore.nn import FlopCountAnalysis
    from torch.utils.flop_counter import FlopCounterMode

    from archlib.views.torchmodel import build_module

    model = build_module(a.ir).eval()
    x = torch.zeros(1, *a.input_shape)
    with torch.device("meta"):
        meta_model = build_module(a.ir).eval()
    xm = torch.empty(1, *a.input_shape, device="meta")

    def run_fvcore() -> int:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            f = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            return int(f.total())

    def run_flopcounter() -> int:
        c = FlopCounterMode(display=False)
        with torch.no_grad(), c:
            meta_model(xm)
        return c.get_total_flops()

    def build_meta() -> None:
        with torch.device("meta"):
            build_module(a.ir)

    fv_total, fc_total = run_fvcore(), run_flopcounter()
    fv_med, _ = timed(run_fvcore, args.counter_repeats)
    fc_med, _ = timed(run_flopcounter, args.counter_repeats)
    build_cpu_med, _ = timed(lambda: build_module(a.ir), args.counter_repeats)
    build_meta_med, _ = timed(build_meta, args.counter_repeats)
    t = a.totals()
    print(f"model {args.model} at {args.resolution}x{args.resolution}: {len(a.rows)} ops, "
          f"{t['macs']:,} MACs, {t['params']:,} params; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"archlib analysis (lower + table, uncached): median {ours_med * 1e3:.2f} ms over {args.repeats} "
          f"(min {min(ours_all) * 1e3:.2f}, max {max(ours_all) * 1e3:.2f})")
    print(f"fvcore FlopCountAnalysis (model prebuilt):  median {fv_med * 1e3:.1f} ms over {args.counter_repeats}"
          f"  -> archlib is {fv_med / ours_med:.0f}x faster")
    print(f"FlopCounterMode on meta (model prebuilt):   median {fc_med * 1e3:.1f} ms over {args.counter_repeats}"
          f"  -> archlib is {fc_med / ours_med:.0f}x faster")
    print(f"with the model build they need counted in (archlib's figure includes lowering from the knobs): "
          f"fvcore + CPU build {(fv_med + build_cpu_med) / ours_med:.0f}x, "
          f"FlopCounterMode + meta build {(fc_med + build_meta_med) / ours_med:.0f}x")
    print(f"totals equal: fvcore {fv_total == t['fvcore']} ({fv_total:,} vs {t['fvcore']:,}); "
          f"FlopCounterMode {fc_total == t['flops']} ({fc_total:,} vs {t['flops']:,} FLOPs)")
    print(f"analysis peak Python memory (tracemalloc): {peak / 1e6:.2f} MB; "
          f"torch imported by the analysis: {torch_loaded_by_analysis}")


if __name__ == "__main__":
    main()
