"""Repeatability of archlib's latency method against a naive perf_counter loop, same run.

Three repeated measurements of mobilenet_v2 (224 px, batch 1, float32, CPU by default) with
archlib.hardware.measure (timed warm-up, then torch.utils.benchmark's adaptive_autorange, median)
and with the loop people write first (no warm-up, 10 forward passes, mean of
time.perf_counter). The coefficient of variation (std / mean of the three) is the figure
of merit. Usage: python benchmarks/bench_latency.py [--threads N] [--device cpu|cuda]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import archlib
from archlib.hardware import host as hostinfo
from archlib.hardware import measure

MODEL = "mobilenet_v2"


def naive(threads: int, device: str, n: int = 10) -> float:
    """Build, then time n passes with perf_counter: no warm-up, no synchronisation."""
    torch.set_num_threads(threads)
    model = archlib.build(MODEL).eval().to(device)
    x = torch.randn(1, 3, 224, 224, device=device)
    with torch.no_grad():
        t0 = time.perf_counter()
        for _ in range(n):
            model(x)
        return (time.perf_counter() - t0) / n * 1e3


def ours(threads: int, device: str) -> float:
    return measure.measure_latency(MODEL, threads=threads, device=device, min_run_time=1.0).median_ms


def cv(xs: list[float]) -> float:
    return statistics.stdev(xs) / statistics.mean(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    info = hostinfo.host_info(args.device)
    print(f"host: {info['cpu']} · {info['logical_cpus']} logical CPUs · device {info['device']} · torch {info['torch']}"
          f" · {args.threads} thread(s) · {MODEL} 224 px batch 1 float32")
    rows = {"archlib.hardware.measure (adaptive_autorange median)": [], "naive perf_counter loop (10 passes)": []}
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        rows["archlib.hardware.measure (adaptive_autorange median)"].append(ours(args.threads, args.device))
        rows["naive perf_counter loop (10 passes)"].append(naive(args.threads, args.device))
    print(f"{'method':48s} {'runs (ms)':>30s} {'median':>9s} {'CV':>7s}")
    for name, xs in rows.items():
        runs = ", ".join(f"{x:.2f}" for x in xs)
        print(f"{name:48s} {runs:>30s} {statistics.median(xs):9.2f} {cv(xs):7.1%}")


if __name__ == "__main__":
    main()
