"""The latency model on a GPU host: calibrate on CUDA, then predicted vs measured, side by side.

Calibrates this host's CUDA model (archlib.hardware.latency.calibrate with device=cuda: the same plan,
each micro-benchmark timed in synchronised blocks) into a fresh store, then predicts and measures
(archlib.hardware.measure, CUDA-synchronised) a spread of registered models at batch 1 and 32, and
prints the errors, the peaks the roofline uses and how long a prediction takes.

Usage (on a machine with an NVIDIA GPU): PYTHONPATH=. python benchmarks/gpu_latency_check.py [OUT_DIR]
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time

MODELS = ("mobilenet_v3_small", "mobilenet_v2", "efficientnet_b0", "regnet_y_1_6gf", "resnet50", "efficientnet_b4",
          "vit_b_16", "regnet_y_16gf", "efficientnet_b7")
BATCHES = (1, 32)


def main() -> int:
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out_dir, exist_ok=True)
    os.environ["ARCHLIB_DB"] = os.path.join(out_dir, "results.sqlite")
    import torch

    import archlib
    from archlib.errors import ArchlibError
    from archlib.hardware import measure
    from archlib.hardware.latency import calibrate, predict
    from archlib.hardware.store import Store

    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}", flush=True)
    store = Store()
    t0 = time.perf_counter()
    model = calibrate.calibrate(budget_s=float(os.environ.get("BUDGET_S", "180")), store=store, device="cuda",
                                on_progress=lambda p: p.done % 200 == 0 and print(f"  {p.done}/{p.total} "
                                                                                  f"{p.elapsed_s:.0f} s", flush=True))
    print(f"calibrated in {time.perf_counter() - t0:.0f} s: {model.info['samples']} samples, "
          f"{len(model.classes)} classes, complete {model.info['complete']}; peaks {model.peaks}; "
          f"harness {model.harness}", flush=True)
    rows = []
    for batch in BATCHES:
        for name in MODELS:
            a = archlib.analyze(name)
            t = time.perf_counter()
            p = predict.predict_analysis(a, model, batch=batch)
            pred_s = time.perf_counter() - t
            try:
                m = measure.measure_latency(name, device="cuda", batch=batch, min_run_time=0.5)
            except ArchlibError as e:
                print(f"  {name} batch {batch}: not measured: {e}", flush=True)
                continue
            err = p.latency_ms / m.median_ms - 1
            rows.append({"model": name, "batch": batch, "predicted_ms": p.latency_ms, "measured_ms": m.median_ms,
                         "iqr_ms": m.iqr_ms, "error": err, "predict_ms": 1e3 * pred_s})
            print(f"  {name:22s} batch {batch:3d}: predicted {p.latency_ms:9.3f} ms, measured {m.median_ms:9.3f} ms "
                  f"(IQR {m.iqr_ms:.3f}) {err:+.1%}", flush=True)
    errs = [abs(r["error"]) for r in rows]
    if errs:
        print(f"within ±10%: {sum(e <= 0.1 for e in errs)}/{len(errs)} · within ±20%: "
              f"{sum(e <= 0.2 for e in errs)}/{len(errs)} · median |error| {statistics.median(errs):.1%}; "
              f"prediction median {statistics.median(r['predict_ms'] for r in rows):.1f} ms")
    with open(os.path.join(out_dir, "gpu_latency_check.json"), "w", encoding="utf-8") as f:
        json.dump({"rows": rows, "model": model.to_json()}, f, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
